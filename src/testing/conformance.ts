/**
 * The conformance runner: drives any CPEX plugin server through
 * {@linkcode CONFORMANCE_CHECKS} over one transport and reports pass / fail / skip per check
 * (what `cpex conformance` prints). Checks that need no special plugin run against whatever the
 * server hosts; the rest need the conformance probe ({@linkcode ConformanceProbe}).
 *
 * @module
 */
import {
  type CheckContext,
  CONFORMANCE_CHECKS,
  type ConformanceCheck,
} from "./conformance_checks.ts";
import {
  type ConformanceDriver,
  type ConformanceTarget,
  type ConformanceTransport,
  openConformanceDriver,
} from "./conformance_driver.ts";
import { CONFORMANCE_PROBE_NAME } from "./conformance_probe.ts";

/**
 * Options of {@linkcode runConformance}: where the server is, plus what to drive.
 *
 * @example
 * ```ts
 * import type { ConformanceOptions } from "@cpex/core/testing";
 * const o: ConformanceOptions = { transport: "unix", target: "/tmp/plugins.sock", probe: "Probe" };
 * ```
 */
export interface ConformanceOptions extends ConformanceTarget {
  /** Plugins the generic checks drive (default: every plugin the server lists). */
  plugins?: readonly string[];
  /** Name of the conformance probe on the server (default `ConformanceProbe`). */
  probe?: string;
  /** Run only the checks with these ids (or id prefixes, e.g. `hook.`). */
  checks?: readonly string[];
  /** Calls in flight in the concurrency check (default 16). */
  concurrency?: number;
  /** Deadline of one wire call in ms (default 10 000). */
  timeoutMs?: number;
  /** An already open driver (the runner then does not close it). */
  driver?: ConformanceDriver;
}

/**
 * The outcome of one check.
 *
 * @example
 * ```ts
 * import type { ConformanceCheckResult } from "@cpex/core/testing";
 * const r: ConformanceCheckResult = { id: "violation", title: "...", status: "pass", ms: 3 };
 * ```
 */
export interface ConformanceCheckResult {
  /** The check's id. */
  id: string;
  /** What it checks. */
  title: string;
  /** `pass`, `fail`, or `skip` (did not apply). */
  status: "pass" | "fail" | "skip";
  /** Why it failed or was skipped. */
  detail?: string;
  /** How long it took, in ms. */
  ms: number;
}

/**
 * What {@linkcode runConformance} found.
 *
 * @example
 * ```ts
 * import type { ConformanceReport } from "@cpex/core/testing";
 * const failed = (r: ConformanceReport) => r.checks.filter((c) => c.status === "fail");
 * ```
 */
export interface ConformanceReport {
  /** The transport used. */
  transport: ConformanceTransport;
  /** What was reached. */
  target: string;
  /** The plugins the server listed. */
  plugins: string[];
  /** The probe's name when the server hosts it, else null. */
  probe: string | null;
  /** Number of passed checks. */
  passed: number;
  /** Number of failed checks. */
  failed: number;
  /** Number of skipped checks. */
  skipped: number;
  /** True when no check failed. */
  ok: boolean;
  /** Every check, in order. */
  checks: ConformanceCheckResult[];
}

/** Neither config query got an answer: nothing else can be checked. */
class Unreachable extends Error {
  constructor(cause: unknown) {
    super("unreachable", { cause });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Drives the server through the conformance checks and reports each outcome. Never throws for
 * a server's misbehaviour: a server that cannot be reached yields a report whose `connect`
 * check failed.
 *
 * @example
 * ```ts
 * import { ExternalPluginServer } from "@cpex/core/server";
 * import { ConformanceProbe, formatConformanceReport, runConformance } from "@cpex/core/testing";
 *
 * const path = `/tmp/cpex-conformance-${crypto.randomUUID().slice(0, 8)}.sock`;
 * const server = new ExternalPluginServer({ plugins: [new ConformanceProbe()] });
 * const handle = await server.serve({ transport: "unix", path, printReady: false });
 * try {
 *   const report = await runConformance({ transport: "unix", target: path });
 *   console.log(formatConformanceReport(report));
 *   console.log(report.ok); // true
 * } finally {
 *   await handle.close();
 *   await server.close();
 * }
 * ```
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const report: ConformanceReport = {
    transport: options.transport,
    target: Array.isArray(options.target) ? options.target.join(" ") : String(options.target),
    plugins: [],
    probe: null,
    passed: 0,
    failed: 0,
    skipped: 0,
    ok: false,
    checks: [],
  };
  let driver = options.driver;
  const started = performance.now();
  if (!driver) {
    try {
      driver = await openConformanceDriver(options);
    } catch (error) {
      add(report, {
        id: "connect",
        title: "the server can be reached",
        status: "fail",
        detail: message(error),
        ms: Math.round(performance.now() - started),
      });
      return report;
    }
  }
  try {
    let context: CheckContext;
    try {
      context = await discover(driver, options, report, timeoutMs);
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      add(report, {
        id: "connect",
        title: "the server answers a config query",
        status: "fail",
        detail: message(error.cause),
        ms: Math.round(performance.now() - started),
      });
      return report;
    }
    for (const check of selected(options.checks)) {
      add(report, await runCheck(check, context));
    }
  } finally {
    if (!options.driver) await driver.close().catch(() => {});
  }
  return report;
}

function add(report: ConformanceReport, result: ConformanceCheckResult): void {
  report.checks.push(result);
  if (result.status === "pass") report.passed++;
  else if (result.status === "fail") report.failed++;
  else report.skipped++;
  report.ok = report.failed === 0;
}

function selected(ids: readonly string[] | undefined): readonly ConformanceCheck[] {
  if (!ids || ids.length === 0) return CONFORMANCE_CHECKS;
  return CONFORMANCE_CHECKS.filter((c) =>
    ids.some((id) => c.id === id || (id.endsWith(".") && c.id.startsWith(id)))
  );
}

/** Learns what the server hosts: its plugin list and whether the probe is there. */
async function discover(
  driver: ConformanceDriver,
  options: ConformanceOptions,
  report: ConformanceReport,
  timeoutMs: number,
): Promise<CheckContext> {
  let listed: Record<string, unknown>[] = [];
  let listError: unknown = null;
  try {
    listed = await driver.listConfigs(AbortSignal.timeout(timeoutMs));
  } catch (error) {
    listError = error; // The config.list check reports it, unless nothing answers at all.
  }
  report.plugins = listed.map((c) => String(c.name));
  const probeName = options.probe ?? CONFORMANCE_PROBE_NAME;
  let probeConfig = listed.find((c) => c.name === probeName) ?? null;
  if (!probeConfig) {
    try {
      probeConfig = await driver.getConfig(probeName, AbortSignal.timeout(timeoutMs));
    } catch (error) {
      if (listError) throw new Unreachable(error);
    }
  }
  const probe = probeConfig
    ? {
      name: probeName,
      hooks: Array.isArray(probeConfig.hooks) ? probeConfig.hooks.map(String) : [],
    }
    : null;
  report.probe = probe?.name ?? null;
  let plugins = listed;
  if (options.plugins && options.plugins.length > 0) {
    plugins = [];
    for (const name of options.plugins) {
      const config = listed.find((c) => c.name === name) ??
        await driver.getConfig(name, AbortSignal.timeout(timeoutMs)).catch(() => null) ??
        { name, hooks: [] };
      plugins.push(config);
    }
  }
  return {
    driver,
    transport: options.transport,
    plugins,
    probe,
    concurrency: options.concurrency ?? 16,
    timeoutMs,
  };
}

async function runCheck(
  check: ConformanceCheck,
  context: CheckContext,
): Promise<ConformanceCheckResult> {
  const started = performance.now();
  const base = { id: check.id, title: check.title };
  try {
    const outcome = await check.run(context);
    const ms = Math.round(performance.now() - started);
    if (outcome && "skip" in outcome) return { ...base, status: "skip", detail: outcome.skip, ms };
    return { ...base, status: "pass", ms };
  } catch (error) {
    return {
      ...base,
      status: "fail",
      detail: message(error),
      ms: Math.round(performance.now() - started),
    };
  }
}

/**
 * The report as a plain-text table (what `cpex conformance` prints without `--json`).
 *
 * @example
 * ```ts
 * import { formatConformanceReport } from "@cpex/core/testing";
 * console.log(formatConformanceReport({
 *   transport: "unix",
 *   target: "/tmp/p.sock",
 *   plugins: [],
 *   probe: null,
 *   passed: 0,
 *   failed: 0,
 *   skipped: 0,
 *   ok: true,
 *   checks: [],
 * }));
 * ```
 */
export function formatConformanceReport(report: ConformanceReport): string {
  const lines: string[] = [];
  lines.push(`Conformance of ${report.transport} ${report.target}`);
  lines.push(
    `Plugins: ${report.plugins.length ? report.plugins.join(", ") : "(none listed)"}; probe: ${
      report.probe ?? "not hosted (probe checks skipped)"
    }`,
  );
  lines.push("");
  const width = Math.max(5, ...report.checks.map((c) => c.id.length));
  lines.push(`${"check".padEnd(width)}  result  ms     detail`);
  for (const c of report.checks) {
    const status = c.status === "pass" ? "PASS" : c.status === "fail" ? "FAIL" : "skip";
    lines.push(
      `${c.id.padEnd(width)}  ${status.padEnd(6)}  ${String(c.ms).padEnd(5)}  ${
        c.detail ?? c.title
      }`,
    );
  }
  lines.push("");
  lines.push(
    `${
      report.ok ? "OK" : "FAILED"
    }: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`,
  );
  return lines.join("\n") + "\n";
}
