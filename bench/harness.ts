/**
 * What the transport benchmarks (`unix_ratio.ts`, `grpc_ratio.ts`, `mcp_ratio.ts`) share apart
 * from their child processes (those are in `children.ts`):
 *
 * - the call they all make ({@linkcode PAYLOAD}, {@linkcode GLOBAL_CONTEXT}) and the plugin
 *   every Deno server child hosts ({@linkcode allowServer});
 * - the gateway under test, a `PluginManager` with one `kind: external` plugin
 *   ({@linkcode gatewayTarget}), and the echo check of the raw baselines ({@linkcode checkEcho});
 * - the measurement ({@linkcode measure}): per target and calls in flight one case; each case
 *   gets a warm-up window, then the cases take turns in timed rounds (interleaved, so drifting
 *   machine load hits all of them alike), recording calls per second and the CPU time of this
 *   process and of the target's server per round;
 * - the report ({@linkcode printReport}: median rate, spread, ratios to the baseline and the
 *   Python reference, CPU per call, as an aligned table) and the targets summary
 *   ({@linkcode printTargets}).
 *
 * CPU accounting reads utime+stime from `/proc/PID/stat`. Deno reads `/proc/PID/*` only with
 * `--allow-all`, so `cat` (covered by the scripts' `--allow-run`) reads them, outside the timed
 * windows.
 *
 * @module
 */
import {
  type GlobalContext,
  parseConfig,
  Plugin,
  PluginManager,
  type PluginResult,
  type ToolPreInvokePayload,
} from "../mod.ts";
import { ExternalPluginServer } from "../server.ts";
import type { InvokeHookRequest } from "../src/external/proto/codec.ts";
import { pluginContextToProto, toStruct } from "../src/external/proto/struct.ts";
import { freshPayload, payloadText } from "./payloads.ts";
import { ARGS, formatTable, MARKDOWN, median } from "./table.ts";

/**
 * The numbers of concurrent callers every target is measured with (issue 13: 1/16/64/256;
 * `CPEX_BENCH_IN_FLIGHT=1,16` narrows a run).
 */
const IN_FLIGHT: readonly number[] = (() => {
  const variable = "CPEX_BENCH_IN_FLIGHT";
  const allowed = Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  const env = allowed ? Deno.env.get(variable) : undefined;
  const list = (env ?? "1,16,64,256").split(",").map(Number).filter((n) => n >= 1);
  return list.length ? list : [1, 16, 64, 256];
})();

/**
 * The JSON text of every call's payload: about 1 KB of nested tool arguments (issue 13), parsed
 * afresh per call as a gateway receives it.
 */
export const PAYLOAD_TEXT: string = payloadText(1024);

/**
 * The payload of every call (one parse of {@linkcode PAYLOAD_TEXT}; calls use a fresh one).
 *
 * ```ts
 * import { PAYLOAD } from "./harness.ts";
 * console.log(PAYLOAD.name); // web_search
 * ```
 */
export const PAYLOAD: ToolPreInvokePayload = freshPayload(PAYLOAD_TEXT);

/**
 * The global context of every call.
 *
 * ```ts
 * import { GLOBAL_CONTEXT } from "./harness.ts";
 * console.log(GLOBAL_CONTEXT.request_id);
 * ```
 */
export const GLOBAL_CONTEXT: GlobalContext = { request_id: "bench-req-0001" };

let requests = 0;

/**
 * A global context with a new request id, as a gateway sends per request: a constant id lets V8
 * reuse the context table's key strings and hides their cost (issue 13).
 *
 * ```ts
 * import { freshGlobalContext } from "./harness.ts";
 * console.log(freshGlobalContext().request_id);
 * ```
 */
export function freshGlobalContext(): GlobalContext {
  return { request_id: `bench-req-${++requests}` };
}

// ---------------------------------------------------------------------------------------------
// The call

/**
 * The `InvokeHookRequest` a gateway must build per call (payload -> Struct, context -> proto),
 * for the raw baselines that encode it themselves.
 *
 * ```ts
 * import { invokeHookRequest } from "./harness.ts";
 * console.log(invokeHookRequest().plugin_name); // allow
 * ```
 */
export function invokeHookRequest(): InvokeHookRequest {
  return {
    hook_type: "tool_pre_invoke",
    plugin_name: "allow",
    payload: toStruct(freshPayload(PAYLOAD_TEXT) as unknown as Record<string, unknown>),
    context: pluginContextToProto({
      global_context: freshGlobalContext(),
      state: {},
      metadata: {},
    }),
  };
}

/**
 * Throws unless `result` is the echo a raw baseline server answers
 * (`{continue_processing: true, modified_payload: <PAYLOAD>}`); the error shows `reply`.
 *
 * ```ts
 * import { checkEcho, PAYLOAD } from "./harness.ts";
 * checkEcho("raw", { continue_processing: true, modified_payload: PAYLOAD });
 * ```
 */
export function checkEcho(label: string, result: unknown, reply: unknown = result): void {
  const r = result as
    | { continue_processing?: unknown; modified_payload?: { name?: unknown } }
    | null
    | undefined;
  if (r?.continue_processing !== true || r.modified_payload?.name !== PAYLOAD.name) {
    throw new Error(`${label}: unexpected reply ${JSON.stringify(reply)}`);
  }
}

/**
 * Allows every tool call and returns metadata (issue 13: a reply that is not the pre-encoded
 * bare allow, as a real policy plugin's).
 */
class Allow extends Plugin {
  /** Allows the call with a metadata entry. */
  // deno-lint-ignore require-await
  async tool_pre_invoke(): Promise<PluginResult> {
    return { metadata: { checked_by: "allow" } };
  }
}

/**
 * The server the Deno server children serve: an {@linkcode ExternalPluginServer} hosting one
 * `allow` plugin that returns metadata (`tool_pre_invoke`, SEQUENTIAL).
 *
 * ```ts ignore
 * import { allowServer } from "./harness.ts";
 * const handle = await allowServer().serve({ transport: "unix", path: "/tmp/x.sock" });
 * ```
 */
export function allowServer(): ExternalPluginServer {
  return new ExternalPluginServer({
    plugins: [new Allow({ name: "allow", kind: "bench", hooks: ["tool_pre_invoke"] })],
  });
}

// ---------------------------------------------------------------------------------------------
// Targets

/**
 * One call; callers run it back to back.
 *
 * ```ts
 * import type { Call } from "./harness.ts";
 * const call: Call = () => Promise.resolve();
 * ```
 */
export type Call = () => Promise<void>;

/**
 * A client towards one server: a row label (plus an optional `transport` column) and the
 * server's process for CPU accounting.
 *
 * ```ts
 * import { sharedCallers, type Target } from "./harness.ts";
 * const target: Target = {
 *   label: "noop",
 *   callers: sharedCallers(() => Promise.resolve()),
 *   close: () => Promise.resolve(),
 * };
 * ```
 */
export interface Target {
  /** The row label. */
  label: string;
  /** Shown in a `transport` column when any target has one; part of a row's identity. */
  transport?: string;
  /** The server process, for CPU accounting. */
  serverPid?: number;
  /** The client process when it is not this one (a driven gateway), for CPU accounting. */
  clientPid?: number;
  /** `n` independent callers (e.g. one connection each; reused across cases). */
  callers(n: number): Promise<Call[]>;
  /**
   * Runs a timed round in another process instead of calling `callers` here (a driven
   * gateway, `stack_driver.ts`): `inFlight` concurrent callers for `ms`.
   */
  round?(inFlight: number, ms: number): Promise<RoundResult>;
  /** Closes the client side. */
  close(): Promise<void>;
}

/**
 * What a round run in another process reports ({@linkcode Target.round}).
 *
 * ```ts
 * import type { RoundResult } from "./harness.ts";
 * const r: RoundResult = { calls: 10, seconds: 0.5, latencies_ms: [] };
 * ```
 */
export interface RoundResult {
  /** Calls completed. */
  calls: number;
  /** The round's wall time as measured by the driven process. */
  seconds: number;
  /** The latency of each call. */
  latencies_ms: number[];
}

/**
 * `Target.callers` for a client whose one `call` serves any number of concurrent callers.
 *
 * ```ts
 * import { sharedCallers } from "./harness.ts";
 * const callers = await sharedCallers(() => Promise.resolve())(16);
 * console.log(callers.length); // 16
 * ```
 */
export function sharedCallers(call: Call): (n: number) => Promise<Call[]> {
  return (n) => Promise.resolve(Array.from({ length: n }, () => call));
}

/**
 * Our gateway: a {@linkcode PluginManager} with one `kind: external` plugin named `allow`,
 * configured by `plugin` (its transport block, plus anything else). Checks once that a call
 * really went to the server and ran the plugin.
 *
 * ```ts ignore
 * import { gatewayTarget } from "./harness.ts";
 * const t = await gatewayTarget("ours", { unix_socket: { path: "/tmp/x.sock" } }, pid);
 * ```
 */
export async function gatewayTarget(
  label: string,
  plugin: Record<string, unknown>,
  serverPid: number,
  transport?: string,
): Promise<Target> {
  const manager = new PluginManager(
    parseConfig({ plugins: [{ name: "allow", kind: "external", ...plugin }] }),
  );
  await manager.initialize();
  if (manager.pluginCount !== 1) throw new Error(`${label}: the external plugin did not load`);
  const call: Call = async () => {
    const payload = freshPayload(PAYLOAD_TEXT);
    const [result] = await manager.invokeHook("tool_pre_invoke", payload, freshGlobalContext());
    if (!result.continue_processing) {
      throw new Error(`${label}: blocked: ${JSON.stringify(result.violation)}`);
    }
  };
  // Sanity: the call really went to the server and ran the plugin.
  const [first] = await manager.invokeHook("tool_pre_invoke", PAYLOAD, GLOBAL_CONTEXT);
  const record = first.executions[0];
  if (first.executions.length !== 1 || record?.status !== "completed") {
    throw new Error(`${label}: unexpected execution records ${JSON.stringify(first.executions)}`);
  }
  return {
    label,
    transport,
    serverPid,
    callers: sharedCallers(call),
    close: () => manager.shutdown(),
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * Round length, rounds and warm-up of a run.
 *
 * ```ts
 * import type { RunOptions } from "./harness.ts";
 * const run: RunOptions = { roundMs: 800, rounds: 5, warmupMs: 800 };
 * ```
 */
export interface RunOptions {
  /** Length of one timed round per case. */
  roundMs: number;
  /** Timed rounds per case; the median is reported. */
  rounds: number;
  /** The warm-up window per case: max(300, roundMs). */
  warmupMs: number;
}

/**
 * Reads `[round ms] [rounds]` from `Deno.args` (defaults `defaultRoundMs` and 5); prints the
 * usage of `script` and exits with code 2 when they are invalid.
 *
 * ```ts ignore
 * import { runOptions } from "./harness.ts";
 * const run = runOptions("unix_ratio.ts", 800);
 * ```
 */
export function runOptions(script: string, defaultRoundMs: number): RunOptions {
  const roundMs = Number(ARGS[0] ?? defaultRoundMs);
  const rounds = Number(ARGS[1] ?? 5);
  if (!(roundMs >= 50) || !Number.isInteger(rounds) || rounds < 1) {
    console.error(`usage: ${script} [round ms >= 50] [rounds >= 1] [--markdown]`);
    Deno.exit(2);
  }
  return { roundMs, rounds, warmupMs: Math.max(300, roundMs) };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const decoder = new TextDecoder();

/** utime + stime of each pid in seconds, via `cat` (NaN when unavailable, e.g. not on Linux). */
function cpuSeconds(pids: (number | undefined)[]): number[] {
  try {
    const out = new Deno.Command("cat", {
      args: pids.map((pid) => `/proc/${pid ?? 0}/stat`),
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const lines = decoder.decode(out.stdout).split("\n");
    return pids.map((_, i) => {
      const stat = lines[i] ?? "";
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    });
  } catch {
    return pids.map(() => NaN);
  }
}

/**
 * One target at one number of calls in flight, with what its measured rounds recorded.
 *
 * ```ts ignore
 * import { measure } from "./harness.ts";
 * const cases = await measure(targets, run);
 * console.log(cases[0].samples);
 * ```
 */
export interface Case {
  /** The target measured. */
  target: Target;
  /** Concurrent callers. */
  inFlight: number;
  /** The callers (`inFlight` of them). */
  callers: Call[];
  /** Calls per second of each measured round. */
  samples: number[];
  /** Calls summed over the measured rounds. */
  calls: number;
  /** CPU seconds of this process summed over the measured rounds. */
  clientCpu: number;
  /** CPU seconds of the target's server summed over the measured rounds. */
  serverCpu: number;
  /** Latency of each call in the measured rounds, ms. */
  latencies: number[];
}

/** Runs the callers concurrently until `ms` have passed; calls per second. */
async function window(c: Case, ms: number, record: boolean): Promise<number> {
  let calls = 0;
  const pids = [c.target.clientPid ?? Deno.pid, c.target.serverPid];
  const [client0, server0] = record ? cpuSeconds(pids) : [0, 0];
  if (c.target.round) {
    const round = await c.target.round(c.inFlight, ms);
    const rate = round.calls / round.seconds;
    if (record) {
      c.samples.push(rate);
      c.calls += round.calls;
      for (const l of round.latencies_ms) c.latencies.push(l);
      const [client1, server1] = cpuSeconds(pids);
      c.clientCpu += client1 - client0;
      c.serverCpu += server1 - server0;
    }
    return rate;
  }
  const started = performance.now();
  const end = started + ms;
  const latencies = c.latencies;
  await Promise.all(c.callers.map(async (call) => {
    let now = performance.now();
    while (now < end) {
      await call();
      const after = performance.now();
      if (record) latencies.push(after - now);
      now = after;
      calls++;
    }
  }));
  const rate = calls / ((performance.now() - started) / 1000);
  if (record) {
    c.samples.push(rate);
    c.calls += calls;
    const [client1, server1] = cpuSeconds(pids);
    c.clientCpu += client1 - client0;
    c.serverCpu += server1 - server0;
  }
  return rate;
}

/**
 * Measures every target at every {@linkcode IN_FLIGHT} count: one warm-up window per case,
 * then `run.rounds` interleaved timed rounds.
 *
 * ```ts ignore
 * import { measure, runOptions } from "./harness.ts";
 * const cases = await measure(targets, runOptions("x_ratio.ts", 800));
 * ```
 */
export async function measure(targets: Target[], run: RunOptions): Promise<Case[]> {
  const cases: Case[] = [];
  for (const target of targets) {
    for (const inFlight of IN_FLIGHT) {
      const callers = await target.callers(inFlight);
      cases.push({
        target,
        inFlight,
        callers,
        samples: [],
        calls: 0,
        clientCpu: 0,
        serverCpu: 0,
        latencies: [],
      });
    }
  }
  for (const c of cases) await window(c, run.warmupMs, false);
  for (let r = 0; r < run.rounds; r++) {
    for (const c of cases) await window(c, run.roundMs, true);
  }
  return cases;
}

/** The 1/5/15-minute load averages, or `?` without `--allow-sys=loadavg`. */
export function loadavg(): string {
  if (Deno.permissions.querySync({ name: "sys", kind: "loadavg" }).state !== "granted") return "?";
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}

/** The `q` quantile (0..1) of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** (max - min) / median of `values`. */
function spread(values: number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/** The median rate of the case with that label, in-flight and transport (undefined: none). */
function rateOf(
  cases: Case[],
  label: string,
  inFlight: number,
  transport?: string,
): number | undefined {
  const c = cases.find((x) =>
    x.target.label === label && x.target.transport === transport && x.inFlight === inFlight
  );
  return c ? median(c.samples) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Report

/**
 * What {@linkcode printReport} prints besides the cases.
 *
 * ```ts
 * import type { ReportOptions } from "./harness.ts";
 * const options: ReportOptions = {
 *   run: { roundMs: 800, rounds: 5, warmupMs: 800 },
 *   startupMs: 900,
 *   baseline: "raw protobuf echo",
 *   reference: "python reference server",
 *   digits: 1,
 *   ratios: "vs raw = / raw protobuf echo at the same in-flight.",
 *   client: "gateway or raw client",
 * };
 * ```
 */
export interface ReportOptions {
  /** The run's round settings. */
  run: RunOptions;
  /** How long starting the servers took. */
  startupMs: number;
  /** Label of the `vs raw` denominator. */
  baseline: string;
  /** Label of the `vs python` denominator. */
  reference: string;
  /** Label of the `vs py stack` denominator (the reference's gateway and server), if measured. */
  referenceStack?: string;
  /** Decimals of the µs/call and CPU columns. */
  digits: number;
  /** The legend's sentence on the ratio columns. */
  ratios: string;
  /** What "client" is, in the CPU legend. */
  client: string;
  /** A note printed last (e.g. that the Python reference was skipped). */
  note?: string;
}

/**
 * Prints the run header, the table (case, [transport,] in-flight, calls/s, µs/call, spread,
 * vs raw, vs python, client CPU, server CPU) and its legend.
 *
 * ```ts ignore
 * import { measure, printReport } from "./harness.ts";
 * printReport(await measure(targets, run), options);
 * ```
 */
export function printReport(cases: Case[], options: ReportOptions): void {
  const { run, digits } = options;
  const withTransport = cases.some((c) => c.target.transport !== undefined);
  const stack = options.referenceStack;
  const withStack = stack !== undefined && cases.some((c) => c.target.label === stack);
  const ratio = (a: number, b: number | undefined): string =>
    b === undefined ? "-" : `${(a / b).toFixed(2)}x`;
  const cpu = (seconds: number, calls: number): string =>
    Number.isFinite(seconds) ? (seconds * 1e6 / calls).toFixed(digits) : "-";
  const rows = cases.map((c) => {
    const r = median(c.samples);
    const t = c.target.transport;
    return [
      c.target.label,
      ...(withTransport ? [t ?? "-"] : []),
      String(c.inFlight),
      Math.round(r).toLocaleString("en-US"),
      `${Math.round(Math.min(...c.samples))}–${Math.round(Math.max(...c.samples))}`,
      (1e6 / r).toFixed(digits),
      `${Math.round(spread(c.samples) * 100)}%`,
      quantile(c.latencies, 0.5).toFixed(2),
      quantile(c.latencies, 0.99).toFixed(2),
      ratio(r, rateOf(cases, options.baseline, c.inFlight, t)),
      ratio(r, rateOf(cases, options.reference, c.inFlight, t)),
      ...(withStack ? [ratio(r, rateOf(cases, stack, c.inFlight, t))] : []),
      cpu(c.clientCpu, c.calls),
      cpu(c.serverCpu, c.calls),
    ];
  });
  const header = [
    "case",
    ...(withTransport ? ["transport"] : []),
    "in-flight",
    "calls/s",
    "min–max",
    "µs/call",
    "spread",
    "p50 ms",
    "p99 ms",
    "vs raw",
    "vs python",
    ...(withStack ? ["vs py stack"] : []),
    "client CPU",
    "server CPU",
  ];

  console.log(
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; servers ready in ` +
      `${Math.round(options.startupMs)} ms; load ${loadavg()}; median of ${run.rounds} ` +
      `interleaved rounds x ` +
      `${run.roundMs} ms after ${run.warmupMs} ms warm-up per case`,
  );
  for (const line of formatTable(header, rows)) console.log(line);
  if (MARKDOWN) console.log(""); // the legend is a paragraph, not a table row
  console.log(
    "µs/call = 1e6 / (calls/s): wall time per call, amortized over the calls in flight. " +
      `spread = (max-min)/median of the rounds; p50/p99: latency of single calls. ` +
      options.ratios,
  );
  console.log(
    "client/server CPU: µs of CPU (utime+stime, all threads) per call over the measured " +
      `rounds; client = this process (${options.client})` +
      (withStack ? `, or the Python gateway process for "${stack}".` : "."),
  );
  if (withStack) {
    console.log(
      `vs python = / our gateway against the reference's server; vs py stack = / the ` +
        `reference's own gateway (cpex PluginManager, python_gateway.py) against its server.`,
    );
  }
  if (options.note) console.log(options.note);
}

/**
 * The targets a run is checked against.
 *
 * ```ts
 * import type { TargetsOptions } from "./harness.ts";
 * const targets: TargetsOptions = {
 *   title: "Targets (design.md): ours >= 70% of raw protobuf echo, >= 3x the python reference",
 *   ours: "ours",
 *   baseline: "raw protobuf echo",
 *   reference: "python reference server",
 *   minVsRaw: 0.7,
 *   minVsPython: 3,
 *   pythonDigits: 1,
 * };
 * ```
 */
export interface TargetsOptions {
  /** The heading line. */
  title: string;
  /** Label of our rows. */
  ours: string;
  /** Label of the baseline rows. */
  baseline: string;
  /** Label of the Python reference rows. */
  reference: string;
  /** Least fraction of the baseline's rate. */
  minVsRaw: number;
  /**
   * Label of the Python stack rows (its gateway against its server): when measured, the
   * `minVsPython` target is checked against them, and the server-only ratio is shown beside.
   */
  referenceStack?: string;
  /** Least multiple of the Python reference's rate. */
  minVsPython: number;
  /** Decimals of the shown multiple of the Python reference. */
  pythonDigits: number;
  /** One line per transport and calls in flight (default: no transport). */
  transports?: string[];
}

/**
 * Prints, after a blank line, `title` and per (transport and) calls in flight whether ours met
 * each target.
 *
 * ```ts ignore
 * import { printTargets } from "./harness.ts";
 * printTargets(cases, targetsOptions);
 * ```
 */
export function printTargets(cases: Case[], options: TargetsOptions): void {
  const met = (ok: boolean): string => ok ? "(met)" : "(NOT met)";
  const cpuOf = (label: string, n: number, t?: string): number | undefined => {
    const c = cases.find((x) =>
      x.target.label === label && x.target.transport === t && x.inFlight === n
    );
    return c ? (c.clientCpu + c.serverCpu) / c.calls : undefined;
  };
  console.log(`\n${options.title}${MARKDOWN ? "\n" : ""}`);
  for (const t of options.transports ?? [undefined]) {
    for (const n of IN_FLIGHT) {
      const ours = rateOf(cases, options.ours, n, t)!;
      const vsRaw = ours / rateOf(cases, options.baseline, n, t)!;
      let line =
        `${MARKDOWN ? "- " : "  "}${t === undefined ? "" : `${t} `}${
          String(n).padStart(2)
        } in flight: ` +
        `${(vsRaw * 100).toFixed(0)}% of raw ${met(vsRaw >= options.minVsRaw)}`;
      const cpuRatio = cpuOf(options.ours, n, t)! / cpuOf(options.baseline, n, t)!;
      if (Number.isFinite(cpuRatio)) line += `, CPU/call ${cpuRatio.toFixed(2)}x raw's`;
      const py = rateOf(cases, options.reference, n, t);
      const pyStack = options.referenceStack === undefined
        ? undefined
        : rateOf(cases, options.referenceStack, n, t);
      const digits = options.pythonDigits;
      if (pyStack !== undefined) {
        const vsStack = ours / pyStack;
        line += `, ${vsStack.toFixed(digits)}x the python stack ` +
          met(vsStack >= options.minVsPython);
        if (py !== undefined) line += ` (${(ours / py).toFixed(digits)}x its server alone)`;
      } else if (py !== undefined) {
        const vsPy = ours / py;
        line += `, ${vsPy.toFixed(digits)}x python ` + met(vsPy >= options.minVsPython);
      }
      console.log(line);
    }
  }
}
