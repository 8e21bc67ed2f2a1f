/**
 * The demo's report: one table row per scripted call (decision, the deciding or modifying
 * plugins and their transports, modified fields, latency), printed as an aligned table.
 *
 * @module
 */
import type { HookResult, PluginConfig, PluginManager } from "../../mod.ts";
import type { Step } from "./script.ts";

/**
 * How the gateway reaches a plugin: `unix`, `grpc`, `mcp-http`, `mcp-stdio` or `in-process`.
 *
 * @example
 * ```ts
 * import { transportOf } from "./report.ts";
 * console.log(transportOf({ kind: "external", grpc: { target: "127.0.0.1:1" } } as never)); // "grpc"
 * ```
 */
export function transportOf(config: PluginConfig): string {
  if (config.kind !== "external") return "in-process";
  if (config.unix_socket) return "unix";
  if (config.grpc) return "grpc";
  if (config.mcp) return config.mcp.proto === "STDIO" ? "mcp-stdio" : "mcp-http";
  return "external";
}

/**
 * Plugin name -> transport, for every plugin of the manager's config.
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { transports } from "./report.ts";
 * const manager = new PluginManager();
 * await manager.initialize();
 * console.log(transports(manager).size); // 0
 * ```
 */
export function transports(manager: PluginManager): Map<string, string> {
  return new Map((manager.config?.plugins ?? []).map((p) => [p.name, transportOf(p)]));
}

/**
 * One row of the table.
 *
 * @example
 * ```ts
 * import type { Row } from "./report.ts";
 * const row: Row = { n: "1", label: "x", hook: "tool_pre_invoke", decision: "allow", plugin: "-", transport: "-", fields: "-", ms: "0.10", notes: "" };
 * ```
 */
export interface Row {
  /** Step number. */
  n: string;
  /** The call. */
  label: string;
  /** The hook. */
  hook: string;
  /** allow, block or modify. */
  decision: string;
  /** The plugin that blocked, or the plugins that modified the payload. */
  plugin: string;
  /** Their transports. */
  transport: string;
  /** Dotted paths of the modified fields. */
  fields: string;
  /** Latency of the whole hook invocation, in milliseconds. */
  ms: string;
  /** The violation, plugin metadata, how many plugins ran. */
  notes: string;
}

/**
 * Describes one scripted call's result as a table row.
 *
 * @example
 * ```ts
 * import { describeResult } from "./report.ts";
 * // describeResult(1, step, result, 0.42, transportByPlugin)
 * ```
 */
export function describeResult(
  n: number,
  step: Step,
  result: HookResult,
  ms: number,
  transportByPlugin: ReadonlyMap<string, string>,
): Row {
  const notes: string[] = [];
  let decision: string;
  let plugins: string[] = [];
  let fields = "-";
  if (!result.continue_processing) {
    decision = "block";
    const by = result.violation?.plugin_name ??
      result.executions.find((r) => !r.effective_allow)?.plugin_name;
    plugins = by ? [by] : [];
    if (result.violation) notes.push(`${result.violation.code}: ${result.violation.description}`);
  } else if (result.modified_payload != null) {
    decision = "modify";
    plugins = result.executions.filter((r) => r.payload_modified).map((r) => r.plugin_name);
    fields = changedPaths(step.payload, result.modified_payload).join(", ");
  } else {
    decision = "allow";
    const ran = result.executions.map((r) => r.plugin_name);
    notes.push(`passed ${ran.length} plugin${ran.length === 1 ? "" : "s"}`);
  }
  const metadata = result.metadata ?? {};
  for (const key of ["replacements", "pii_masked", "redactions"]) {
    if (typeof metadata[key] === "number") notes.push(`${key}=${metadata[key]}`);
  }
  const audit = metadata.audit as { round_trip_us?: number | null } | undefined;
  if (audit && typeof audit.round_trip_us === "number") {
    notes.push(`audit: pre->post round trip ${(audit.round_trip_us / 1000).toFixed(2)} ms`);
  }
  const transportsUsed = [...new Set(plugins.map((p) => transportByPlugin.get(p) ?? "?"))];
  return {
    n: String(n),
    label: step.label,
    hook: step.hook,
    decision,
    plugin: plugins.join(", ") || "-",
    transport: transportsUsed.join(", ") || "-",
    fields,
    ms: ms.toFixed(2),
    notes: notes.join("; "),
  };
}

/**
 * Dotted paths of the leaves that differ between two JSON-like values.
 *
 * @example
 * ```ts
 * import { changedPaths } from "./report.ts";
 * console.log(changedPaths({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } })); // ["a.c"]
 * ```
 */
export function changedPaths(before: unknown, after: unknown, path = ""): string[] {
  // `undefined` vs `null`: a field the manager filled in with its default, not a change.
  if (Object.is(before, after) || (before ?? null) === null && (after ?? null) === null) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";
  if (!isObj(before) || !isObj(after) || Array.isArray(before) !== Array.isArray(after)) {
    return [path || "(payload)"];
  }
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out: string[] = [];
  for (const key of keys) {
    const sub = Array.isArray(before) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    out.push(...changedPaths(before[key], after[key], sub));
  }
  return out;
}

const color = Deno.stdout.isTerminal() && !Deno.noColor;

/**
 * Wraps `text` in an ANSI style when stdout is a terminal and NO_COLOR is not set.
 *
 * @example
 * ```ts
 * import { paint } from "./report.ts";
 * console.log(paint(1, "bold when on a terminal"));
 * ```
 */
export const paint = (code: number, text: string): string =>
  color ? `\x1b[${code}m${text}\x1b[0m` : text;

const DECISION_COLOR: Record<string, number> = { allow: 32, block: 31, modify: 33 };

/**
 * Prints rows as a table; the last column is not padded.
 *
 * @example
 * ```ts
 * import { printTable } from "./report.ts";
 * printTable([]);
 * ```
 */
export function printTable(rows: Row[]): void {
  // One line per call (it fits 100 columns: issue 12), then who decided, what changed and the
  // notes on an indented line wrapped at 100 columns.
  const columns: Array<[keyof Row, string, "left" | "right"]> = [
    ["n", "#", "right"],
    ["label", "call", "left"],
    ["hook", "hook", "left"],
    ["decision", "decision", "left"],
    ["ms", "ms", "right"],
  ];
  const widths = columns.map(([key, title]) =>
    Math.max(title.length, ...rows.map((row) => row[key].length))
  );
  const line = (cells: string[], paintDecision = false): string =>
    cells.map((cell, i) => {
      const [key, , align] = columns[i];
      const padded = align === "right" ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      return paintDecision && key === "decision"
        ? paint(DECISION_COLOR[cell.trim()], padded)
        : padded;
    }).join("  ").trimEnd();
  console.log(paint(1, line(columns.map(([, title]) => title))));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) {
    console.log(line(columns.map(([key]) => row[key]), true));
    const detail = [
      row.plugin !== "-" ? `by ${row.plugin} (${row.transport})` : "",
      row.fields !== "-" ? `modified ${row.fields}` : "",
      row.notes,
    ].filter(Boolean).join("; ");
    if (detail) console.log(wrapWords(detail, 6, 100));
  }
}

/**
 * Wraps `text` at spaces to lines of at most `width` columns, each indented by `indent`.
 */
export function wrapWords(text: string, indent: number, width = 100): string {
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(" ")) {
    if (current && indent + current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(current);
  return lines.map((l) => " ".repeat(indent) + l).join("\n");
}
