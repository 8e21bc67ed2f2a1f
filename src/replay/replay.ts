/**
 * Replay (issue 17 item 2): runs recorded hook calls through a candidate manager and reports
 * how its decisions differ from the recorded ones — calls newly blocked, newly allowed, blocked
 * for another reason, with another payload, or newly failing — grouped by plugin and violation
 * code with a few examples each, plus latency percentiles recorded vs candidate.
 *
 * @module
 */
import type { PluginContextTable } from "../context.ts";
import type { PluginManager } from "../manager/manager.ts";
import { decisionOf, type RecordedCall, type RecordedDecision } from "../record/recorder.ts";
import type { GlobalContext } from "../types.ts";

/**
 * How a replayed call's decision changed.
 *
 * @example
 * ```ts
 * import type { ReplayDiffKind } from "@cpex/core/testing";
 * const k: ReplayDiffKind = "newly_blocked";
 * ```
 */
export type ReplayDiffKind =
  | "newly_blocked"
  | "newly_allowed"
  | "violation_changed"
  | "payload_changed"
  | "newly_failing"
  | "no_longer_failing";

/** One example call of a diff group. */
export interface ReplayExample {
  /** 1-based position of the call in the recording. */
  line: number;
  /** Hook name. */
  hook: string;
  /** The call's request id. */
  request_id: string;
  /** The recorded decision, in short (`allowed`, `blocked by P (CODE)`, `failed: ...`). */
  was: string;
  /** The candidate's decision, in short. */
  now: string;
}

/** Calls whose decision changed the same way, by the same plugin and code. */
export interface ReplayGroup {
  /** How the decision changed. */
  kind: ReplayDiffKind;
  /** The plugin responsible (the new blocker, the old blocker, the modifiers), or null. */
  plugin: string | null;
  /** The violation code involved, or null. */
  code: string | null;
  /** Number of calls. */
  count: number;
  /** The first few calls. */
  examples: ReplayExample[];
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
}

/**
 * The result of a replay.
 *
 * @example
 * ```ts
 * import type { ReplayReport } from "@cpex/core/testing";
 * const empty = (r: ReplayReport) => r.changed === 0;
 * ```
 */
export interface ReplayReport {
  /** Calls replayed. */
  calls: number;
  /** Lines that were not a recorded call (skipped). */
  skipped: number;
  /** Calls whose decision changed. */
  changed: number;
  /** The changes, grouped; largest groups first. */
  groups: ReplayGroup[];
  /** Whole-chain latency as recorded and as replayed. */
  latency: { recorded: LatencySummary; candidate: LatencySummary };
}

/** Options of {@linkcode replayCalls}. */
export interface ReplayOptions {
  /** Examples kept per group (3). */
  examples?: number;
}

const MAX_CONTEXTS = 10_000;

/**
 * Parses JSONL recording text into calls; lines that are not a recorded call are counted in
 * `skipped` (a truncated last line after a crash, a foreign line).
 *
 * @example
 * ```ts
 * import { parseRecording } from "@cpex/core/testing";
 * const { calls, skipped } = parseRecording("not json\n");
 * console.log(calls.length, skipped); // 0 1
 * ```
 */
export function parseRecording(text: string): { calls: RecordedCall[]; skipped: number } {
  const calls: RecordedCall[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const call = JSON.parse(line) as RecordedCall;
      if (
        call && typeof call === "object" && typeof call.hook === "string" &&
        call.decision && typeof call.decision.continue === "boolean"
      ) {
        calls.push(call);
        continue;
      }
    } catch { /* counted below */ }
    skipped++;
  }
  return { calls, skipped };
}

/**
 * Runs `calls` in order through `manager` (initialized with the candidate config) and compares
 * each decision with the recorded one. Calls of one request id share their plugin contexts, so
 * post hooks see what the pre hooks left, as they did live.
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { parseRecording, replayCalls } from "@cpex/core/testing";
 * const manager = new PluginManager(null, { metrics: null });
 * await manager.initialize();
 * const { calls } = parseRecording(
 *   '{"v":1,"ts":"2026-01-01T00:00:00.000Z","hook":"tool_pre_invoke","payload":{"name":"t","args":{}},' +
 *     '"global_context":{"request_id":"r1"},"duration_ms":0.1,' +
 *     '"decision":{"continue":true,"violation":null,"plugins":[]}}\n',
 * );
 * const report = await replayCalls(manager, calls);
 * console.log(report.changed); // 0
 * await manager.shutdown();
 * ```
 */
export async function replayCalls(
  manager: PluginManager,
  calls: readonly RecordedCall[],
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const keep = options.examples ?? 3;
  const groups = new Map<string, ReplayGroup>();
  const recorded: number[] = [];
  const candidate: number[] = [];
  const contexts = new Map<string, PluginContextTable>();
  let changed = 0;
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i];
    const global = (call.global_context ?? { request_id: "" }) as GlobalContext;
    const requestId = String(global.request_id ?? "");
    const started = performance.now();
    let now: RecordedDecision;
    try {
      const [result, table] = await manager.invokeHook(call.hook, call.payload as never, global, {
        localContexts: contexts.get(requestId) ?? null,
      });
      now = decisionOf({ result });
      if (table) {
        contexts.delete(requestId);
        contexts.set(requestId, table);
        if (contexts.size > MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
      }
    } catch (error) {
      now = decisionOf({ result: null, error });
    }
    candidate.push(performance.now() - started);
    recorded.push(Number(call.duration_ms) || 0);
    const diff = compare(call.decision, now, call.payload);
    if (diff === null) continue;
    changed++;
    const key = `${diff.kind}\u0000${diff.plugin}\u0000${diff.code}`;
    let group = groups.get(key);
    if (!group) groups.set(key, group = { ...diff, count: 0, examples: [] });
    group.count++;
    if (group.examples.length < keep) {
      group.examples.push({
        line: i + 1,
        hook: call.hook,
        request_id: requestId,
        was: describe(call.decision),
        now: describe(now),
      });
    }
  }
  return {
    calls: calls.length,
    skipped: 0,
    changed,
    groups: [...groups.values()].sort((a, b) => b.count - a.count),
    latency: { recorded: summarize(recorded), candidate: summarize(candidate) },
  };
}

type State = "allowed" | "blocked" | "failed";

function stateOf(d: RecordedDecision): State {
  if (d.error !== undefined) return "failed";
  return d.continue ? "allowed" : "blocked";
}

function compare(
  was: RecordedDecision,
  now: RecordedDecision,
  payload: unknown,
): Pick<ReplayGroup, "kind" | "plugin" | "code"> | null {
  const a = stateOf(was);
  const b = stateOf(now);
  if (a === "failed" && b === "failed") return null;
  if (b === "failed") return { kind: "newly_failing", plugin: failedPlugin(now), code: null };
  if (a === "failed") return { kind: "no_longer_failing", plugin: failedPlugin(was), code: null };
  if (a === "allowed" && b === "blocked") {
    return { kind: "newly_blocked", plugin: blocker(now), code: now.violation?.code ?? null };
  }
  if (a === "blocked" && b === "allowed") {
    return { kind: "newly_allowed", plugin: blocker(was), code: was.violation?.code ?? null };
  }
  if (a === "blocked") {
    if (blocker(was) === blocker(now) && was.violation?.code === now.violation?.code) return null;
    return { kind: "violation_changed", plugin: blocker(now), code: now.violation?.code ?? null };
  }
  const before = canonical(was.modified_payload ?? payload);
  const after = canonical(now.modified_payload ?? payload);
  if (before === after) return null;
  const modifiers = now.plugins.filter((p) => p.modified).map((p) => p.name);
  const old = was.plugins.filter((p) => p.modified).map((p) => p.name);
  const names = modifiers.length ? modifiers : old;
  return { kind: "payload_changed", plugin: names.length ? names.join(",") : null, code: null };
}

function blocker(d: RecordedDecision): string | null {
  return d.violation?.plugin ?? d.plugins.find((p) => !p.allow)?.name ?? null;
}

function failedPlugin(d: RecordedDecision): string | null {
  return d.plugins.find((p) => p.status !== "completed" && p.status !== "skipped")?.name ?? null;
}

function describe(d: RecordedDecision): string {
  switch (stateOf(d)) {
    case "failed":
      return `failed: ${d.error}`;
    case "blocked":
      return `blocked by ${blocker(d) ?? "?"} (${d.violation?.code ?? "no code"})`;
    default:
      return d.modified_payload === undefined ? "allowed" : "allowed, modified";
  }
}

/** JSON with sorted keys, so key order never counts as a change. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = (v as Record<string, unknown>)[k];
    return out;
  }) ?? "null";
}

function summarize(values: number[]): LatencySummary {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const v = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
    return Math.round(v * 1000) / 1000;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

/**
 * Renders a report for a terminal.
 *
 * @example
 * ```ts
 * import { formatReplayReport } from "@cpex/core/testing";
 * const zero = { p50: 0, p90: 0, p99: 0 };
 * console.log(formatReplayReport({
 *   calls: 0,
 *   skipped: 0,
 *   changed: 0,
 *   groups: [],
 *   latency: { recorded: zero, candidate: zero },
 * }));
 * ```
 */
export function formatReplayReport(report: ReplayReport): string {
  const lines: string[] = [];
  const skipped = report.skipped ? ` (${report.skipped} unreadable lines skipped)` : "";
  lines.push(
    `replayed ${report.calls} calls${skipped}: ` +
      (report.changed === 0 ? "no decision changed" : `${report.changed} changed`),
  );
  for (const g of report.groups) {
    const who = [g.plugin ?? "(no plugin)", g.code ?? ""].filter(Boolean).join(" ");
    lines.push(`  ${g.kind.replaceAll("_", " ")}: ${g.count} by ${who}`);
    for (const e of g.examples) {
      lines.push(
        `    line ${e.line} ${e.hook} request ${e.request_id}: was ${e.was}, now ${e.now}`,
      );
    }
  }
  const r = report.latency.recorded;
  const c = report.latency.candidate;
  lines.push("latency (ms)      p50       p90       p99");
  const row = (name: string, s: LatencySummary) =>
    `  ${name.padEnd(12)}${[s.p50, s.p90, s.p99].map((v) => v.toFixed(3).padStart(10)).join("")}`;
  lines.push(row("recorded", r), row("candidate", c));
  return lines.join("\n") + "\n";
}
