/**
 * Unix socket transport benchmark: hook round trips per second with 1 and 16 calls in flight,
 * all measured side by side in one run, as ratios (design.md "Performance targets"):
 *
 * - `raw bytes echo`: a child Deno process writes every frame back unchanged; the client sends
 *   a pre-encoded request frame. Socket + framing only (the baselines' `uds_raw` row); shown
 *   for reference, no target refers to it.
 * - `raw protobuf echo` (the baseline): per call the client converts the payload to a Struct
 *   and encodes an `InvokeHookRequest` with our codec; the child decodes it, converts payload
 *   and context back to JSON, and answers with an `InvokeHookResponse` whose result echoes the
 *   payload; the client decodes it and checks the echo (the baselines' `uds_protobuf` row).
 * - `ours`: a {@linkcode PluginManager} in this process with one `kind: external` plugin
 *   (`unix_socket:`), i.e. `UnixSocketExternalPlugin`, calling an `ExternalPluginServer` in a
 *   child Deno process (`unix_server_child.ts`, started with exactly the transport's flags)
 *   that hosts a no-op allow plugin.
 * - `python`: the same gateway against the reference's Unix runtime
 *   (`python -m cpex.framework.external.unix.server.runtime`, cpex 0.1.4 from `.venv`) hosting
 *   the equivalent plugin (`unix_allow_plugin.py`); skipped when `.venv` is missing.
 *
 * Every call sends `{name: "search", args: {query: "hello world", limit: 10}}` with a global
 * context carrying a request id. "16 in flight" means 16 concurrent callers; the raw clients
 * use one connection each (one request at a time per connection, as our transport does), our
 * client pools up to 16 connections. Each case gets a warm-up window, then the cases take turns
 * in timed rounds (interleaved, so drifting machine load hits all of them alike); the median
 * round is reported. Children are stopped and sockets removed at the end, also on errors and
 * Ctrl-C.
 *
 * Run: `deno task bench:unix` (optional arguments: round length in ms, default 800, and
 * rounds, default 5). The task's flags are exactly what the script needs: read/write on
 * `/tmp/cpex-bench`, `unix:` net access to its four sockets, and `--allow-run` for the children.
 *
 * @module
 */
import {
  type GlobalContext,
  parseConfig,
  PluginManager,
  type ToolPreInvokePayload,
} from "../mod.ts";
import { decodeMessage, encodeMessage } from "../src/external/codec.ts";
import { encodeFrame, FrameReader } from "../src/external/frame.ts";
import { fromStruct, pluginContextToProto, toStruct } from "../src/external/struct.ts";

/** Where the sockets live (the task's permission flags name these paths). */
const SOCKET_DIR = "/tmp/cpex-bench";
const SOCKETS = {
  ours: `${SOCKET_DIR}/ours.sock`,
  proto: `${SOCKET_DIR}/raw.sock`,
  bytes: `${SOCKET_DIR}/echo.sock`,
  python: `${SOCKET_DIR}/py.sock`,
} as const;

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const ROOT_DIR = new URL("..", import.meta.url).pathname;
const PYTHON = `${ROOT_DIR}.venv/bin/python`;
const IN_FLIGHT = [1, 16] as const;
const READY_TIMEOUT_MS = 20_000;

const roundMs = Number(Deno.args[0] ?? 800);
const rounds = Number(Deno.args[1] ?? 5);
const warmupMs = Math.max(300, roundMs);
if (!(roundMs >= 50) || !Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: unix_ratio.ts [round ms >= 50] [rounds >= 1]");
  Deno.exit(2);
}

/** The payload of every call. */
const PAYLOAD: ToolPreInvokePayload = {
  name: "search",
  args: { query: "hello world", limit: 10 },
};
/** The global context of every call. */
const GLOBAL_CONTEXT: GlobalContext = { request_id: "bench-req-0001" };

// ---------------------------------------------------------------------------------------------
// Child processes

interface Child {
  name: string;
  process: Deno.ChildProcess;
  stderr: () => string;
  done: Promise<void>;
}

const children: Child[] = [];
const decoder = new TextDecoder();

/** Spawns a child, waits for `READY` on its stdout, keeps draining stdout and stderr. */
async function spawnReady(
  name: string,
  command: string,
  options: Deno.CommandOptions,
): Promise<Child> {
  const process = new Deno.Command(command, {
    ...options,
    stdin: "piped", // our children stop when it closes (the Python one ignores it)
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  const stdout = process.stdout.getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const child: Child = { name, process, stderr: () => log, done: Promise.resolve() };
  children.push(child);
  try {
    await Promise.race([
      (async () => {
        while (!seen.includes("READY")) {
          const { value, done } = await stdout.read();
          if (done) throw new Error(`${name} exited before printing READY`);
          seen += decoder.decode(value, { stream: true });
        }
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name}: no READY within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    // Let the drains pick up what the child said before reporting.
    await stopChild(child);
    throw new Error(
      `${(error as Error).message}\n--- ${name} stdout:\n${seen}\n--- stderr:\n${log}`,
    );
  } finally {
    clearTimeout(timer);
  }
  const stdoutDone = (async () => {
    try {
      while (!(await stdout.read()).done) { /* drain */ }
    } catch { /* cancelled */ }
  })();
  child.done = Promise.all([stderrDone, stdoutDone]).then(() => {});
  return child;
}

async function stopChild(child: Child): Promise<void> {
  try {
    await child.process.stdin.close();
  } catch { /* already closed */ }
  try {
    child.process.kill("SIGTERM");
  } catch { /* already exited */ }
  const killer = setTimeout(() => {
    try {
      child.process.kill("SIGKILL");
    } catch { /* already exited */ }
  }, 3_000);
  try {
    await child.process.status;
  } finally {
    clearTimeout(killer);
  }
  await child.done.catch(() => {});
}

let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await Promise.all(children.splice(0).map((c) => stopChild(c).catch(() => {})));
  for (const path of Object.values(SOCKETS)) await Deno.remove(path).catch(() => {});
  await Deno.remove(SOCKET_DIR).catch(() => {}); // only when empty
}

const denoUnixFlags = (paths: string[]): string[] => [
  `--allow-read=${paths.join(",")}`,
  `--allow-write=${paths.join(",")}`,
  `--allow-net=${paths.map((p) => `unix:${p}`).join(",")}`,
];

// ---------------------------------------------------------------------------------------------
// Callers: each target opens `n` independent callers (one connection each where it matters)

type Call = () => Promise<void>;

interface Target {
  label: string;
  /** The server process, for CPU accounting. */
  serverPid?: number;
  /** Opens at least `n` callers (reused across cases). */
  callers(n: number): Promise<Call[]>;
  close(): Promise<void>;
}

/** A framed request/response client on one connection, one call at a time. */
class RawConnection {
  readonly #reader: FrameReader;
  constructor(readonly conn: Deno.UnixConn) {
    this.#reader = new FrameReader(conn);
  }
  async roundTrip(frame: Uint8Array): Promise<Uint8Array> {
    let written = 0;
    while (written < frame.length) written += await this.conn.write(frame.subarray(written));
    const reply = await this.#reader.read();
    if (reply === null) throw new Error("raw server closed the connection");
    return reply;
  }
}

function rawTarget(
  label: string,
  path: string,
  serverPid: number,
  makeCall: (c: RawConnection) => Call,
): Target {
  const conns: RawConnection[] = [];
  return {
    label,
    serverPid,
    async callers(n) {
      while (conns.length < n) {
        conns.push(new RawConnection(await Deno.connect({ transport: "unix", path })));
      }
      return conns.slice(0, n).map(makeCall);
    },
    close() {
      for (const c of conns.splice(0)) {
        try {
          c.conn.close();
        } catch { /* closed */ }
      }
      return Promise.resolve();
    },
  };
}

/** Encodes the request the way a gateway must per call: payload -> Struct, context -> proto. */
function encodeRequest(): Uint8Array {
  return encodeMessage("InvokeHookRequest", {
    hook_type: "tool_pre_invoke",
    plugin_name: "allow",
    payload: toStruct(PAYLOAD as unknown as Record<string, unknown>),
    context: pluginContextToProto({ global_context: GLOBAL_CONTEXT, state: {}, metadata: {} }),
  });
}

function protoCall(c: RawConnection): Call {
  return async () => {
    const reply = await c.roundTrip(encodeFrame(encodeRequest()));
    const response = decodeMessage("InvokeHookResponse", reply);
    const result = fromStruct(response.result) as {
      continue_processing?: boolean;
      modified_payload?: { name?: string };
    };
    if (result.continue_processing !== true || result.modified_payload?.name !== PAYLOAD.name) {
      throw new Error(`raw protobuf echo: unexpected reply ${JSON.stringify(result)}`);
    }
  };
}

function bytesCall(c: RawConnection): Call {
  const frame = encodeFrame(encodeRequest());
  const length = frame.length - 4;
  return async () => {
    const reply = await c.roundTrip(frame);
    if (reply.length !== length) throw new Error(`raw bytes echo: ${reply.length} bytes back`);
  };
}

/** Our gateway: a PluginManager with one `kind: external` + `unix_socket:` plugin. */
async function gatewayTarget(label: string, path: string, serverPid: number): Promise<Target> {
  const manager = new PluginManager(
    parseConfig({
      plugins: [{
        name: "allow",
        kind: "external",
        hooks: ["tool_pre_invoke"],
        mode: "sequential",
        on_error: "fail",
        unix_socket: { path },
      }],
    }),
  );
  await manager.initialize();
  if (manager.pluginCount !== 1) throw new Error(`${label}: the external plugin did not load`);
  const call: Call = async () => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PAYLOAD, GLOBAL_CONTEXT);
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
    serverPid,
    callers: (n) => Promise.resolve(Array.from({ length: n }, () => call)),
    close: () => manager.shutdown(),
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * CPU accounting: utime+stime from `/proc/PID/stat` of this process (the client/gateway) and
 * of the server, before and after each measured window. Deno reads `/proc/PID/*` only with
 * `--allow-all`, so `cat` (covered by `--allow-run`) reads them, outside the timed window.
 */
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of each pid in seconds (NaN when unavailable, e.g. not on Linux). */
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

interface Case {
  target: Target;
  inFlight: number;
  callers: Call[];
  samples: number[];
  /** Calls and CPU seconds (client, server) summed over the measured rounds. */
  calls: number;
  clientCpu: number;
  serverCpu: number;
}

/** Runs the callers concurrently until `ms` have passed; calls per second. */
async function window(c: Case, ms: number, record: boolean): Promise<number> {
  let calls = 0;
  const [client0, server0] = record ? cpuSeconds([Deno.pid, c.target.serverPid]) : [0, 0];
  const started = performance.now();
  const end = started + ms;
  await Promise.all(c.callers.map(async (call) => {
    while (performance.now() < end) {
      await call();
      calls++;
    }
  }));
  const rate = calls / ((performance.now() - started) / 1000);
  if (record) {
    c.samples.push(rate);
    c.calls += calls;
    const [client1, server1] = cpuSeconds([Deno.pid, c.target.serverPid]);
    c.clientCpu += client1 - client0;
    c.serverCpu += server1 - server0;
  }
  return rate;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Main

let interrupted = false;
const onSignal = () => {
  interrupted = true;
  console.error("interrupted: stopping children");
  void cleanup().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const targets: Target[] = [];
let pythonNote = "";
try {
  await Deno.mkdir(SOCKET_DIR, { recursive: true });
  for (const path of Object.values(SOCKETS)) await Deno.remove(path).catch(() => {});

  const deno = Deno.execPath();
  const startedAt = performance.now();
  const [raw, ours, python] = await Promise.all([
    spawnReady("raw server", deno, {
      args: [
        "run",
        ...denoUnixFlags([SOCKETS.proto, SOCKETS.bytes]),
        `${BENCH_DIR}unix_raw_child.ts`,
        SOCKETS.proto,
        SOCKETS.bytes,
      ],
    }),
    spawnReady("deno plugin server", deno, {
      args: [
        "run",
        ...denoUnixFlags([SOCKETS.ours]),
        `${BENCH_DIR}unix_server_child.ts`,
        SOCKETS.ours,
      ],
    }),
    spawnReady("python plugin server", PYTHON, {
      args: ["-m", "cpex.framework.external.unix.server.runtime"],
      cwd: BENCH_DIR,
      env: {
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONPATH: BENCH_DIR,
        PLUGINS_CONFIG_PATH: `${BENCH_DIR}unix_python_plugins.yaml`,
        PLUGINS_UNIX_SOCKET_PATH: SOCKETS.python,
        PLUGINS_LOG_LEVEL: "WARNING",
      },
    }).catch((error: Error) => {
      if (error instanceof Deno.errors.NotFound) {
        pythonNote = `python reference skipped: ${PYTHON} not found ` +
          "(bash tests/interop/setup_venv.sh creates it)";
        return null;
      }
      throw error;
    }),
  ]);
  const startupMs = performance.now() - startedAt;

  targets.push(
    rawTarget("raw bytes echo", SOCKETS.bytes, raw.process.pid, bytesCall),
    rawTarget("raw protobuf echo", SOCKETS.proto, raw.process.pid, protoCall),
    await gatewayTarget("ours (manager -> unix -> deno server)", SOCKETS.ours, ours.process.pid),
  );
  if (python) {
    targets.push(
      await gatewayTarget("python reference server", SOCKETS.python, python.process.pid),
    );
  }

  const cases: Case[] = [];
  for (const target of targets) {
    for (const inFlight of IN_FLIGHT) {
      const callers = await target.callers(inFlight);
      cases.push({ target, inFlight, callers, samples: [], calls: 0, clientCpu: 0, serverCpu: 0 });
    }
  }
  for (const c of cases) await window(c, warmupMs, false);
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) await window(c, roundMs, true);
  }

  // -------------------------------------------------------------------------------------------
  // Report
  const rate = (label: string, inFlight: number): number | undefined => {
    const c = cases.find((x) => x.target.label === label && x.inFlight === inFlight);
    return c ? median(c.samples) : undefined;
  };
  const ratio = (a: number, b: number | undefined): string =>
    b === undefined ? "-" : `${(a / b).toFixed(2)}x`;
  const cpu = (seconds: number, calls: number): string =>
    Number.isFinite(seconds) ? (seconds * 1e6 / calls).toFixed(1) : "-";
  const rows = cases.map((c) => {
    const r = median(c.samples);
    const spread = (Math.max(...c.samples) - Math.min(...c.samples)) / r;
    return [
      c.target.label,
      String(c.inFlight),
      Math.round(r).toLocaleString("en-US"),
      (1e6 / r).toFixed(1),
      `${Math.round(spread * 100)}%`,
      ratio(r, rate("raw protobuf echo", c.inFlight)),
      ratio(r, rate("python reference server", c.inFlight)),
      cpu(c.clientCpu, c.calls),
      cpu(c.serverCpu, c.calls),
    ];
  });
  const header = [
    "case",
    "in-flight",
    "calls/s",
    "µs/call",
    "spread",
    "vs raw",
    "vs python",
    "client CPU",
    "server CPU",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const format = (cells: string[]): string =>
    cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");

  console.log(
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; servers ready in ` +
      `${Math.round(startupMs)} ms; median of ${rounds} interleaved rounds x ${roundMs} ms ` +
      `after ${warmupMs} ms warm-up per case`,
  );
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(format(row));
  console.log(
    "µs/call = 1e6 / (calls/s): wall time per call, amortized over the calls in flight. " +
      "spread = (max-min)/median of the rounds. vs raw = / raw protobuf echo at the same " +
      "in-flight.",
  );
  console.log(
    "client/server CPU: µs of CPU (utime+stime, all threads) per call over the measured " +
      "rounds; client = this process (gateway or raw client).",
  );
  if (pythonNote) console.log(pythonNote);

  console.log(
    "\nTargets (design.md): ours >= 70% of raw protobuf echo, >= 3x the python reference",
  );
  for (const n of IN_FLIGHT) {
    const ours = rate("ours (manager -> unix -> deno server)", n)!;
    const raw = rate("raw protobuf echo", n)!;
    const py = rate("python reference server", n);
    const vsRaw = ours / raw;
    let line = `  ${String(n).padStart(2)} in flight: ${(vsRaw * 100).toFixed(0)}% of raw ` +
      `${vsRaw >= 0.7 ? "(met)" : "(NOT met)"}`;
    if (py !== undefined) {
      const vsPy = ours / py;
      line += `, ${vsPy.toFixed(1)}x python ${vsPy >= 3 ? "(met)" : "(NOT met)"}`;
    }
    console.log(line);
  }
} catch (error) {
  // Calls in flight fail once an interrupt stops the servers: not worth a stack trace.
  if (!interrupted) throw error;
} finally {
  for (const target of targets.splice(0)) await target.close().catch(() => {});
  await cleanup();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  if (interrupted) Deno.exit(130);
}
