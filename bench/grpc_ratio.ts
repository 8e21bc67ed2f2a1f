/**
 * gRPC transport benchmark: hook round trips per second with 1 and 16 calls in flight, over TCP
 * and over a Unix socket, all measured side by side in one run, as ratios (issue 4 item 6: at
 * least 80% of a raw grpc-js unary echo, and at least 1.5x the Python reference):
 *
 * - `raw grpc-js echo` (the baseline): a grpc-js `Client` in this process calls
 *   `/cpex.PluginService/InvokeHook` on a plain grpc-js `Server` in a child Deno process
 *   (`grpc_raw_child.ts`). Per call the client converts the payload to a Struct and encodes an
 *   `InvokeHookRequest` with our codec; the child decodes it, converts payload and context back
 *   to JSON and answers an `InvokeHookResponse` whose result echoes the payload; the client
 *   decodes it and checks the echo (the baselines' `grpc_tcp/2proc` and `grpc_unix/2proc` rows).
 * - `ours`: a {@linkcode PluginManager} in this process with one `kind: external` plugin
 *   (`grpc: {target}` or `{uds}`), i.e. `GrpcExternalPlugin`, calling an `ExternalPluginServer`
 *   served with `serve({transport: "grpc"})` in a child Deno process (`grpc_server_child.ts`,
 *   started with exactly the transport's flags) that hosts a no-op allow plugin.
 * - `python`: the same gateway against the reference's gRPC runtime
 *   (`python -m cpex.framework.external.grpc.server.runtime`, cpex 0.1.4 from `.venv`, one
 *   process for TCP and one for the socket) hosting the equivalent plugin
 *   (`unix_allow_plugin.py` as configured in `unix_python_plugins.yaml`); skipped when `.venv`
 *   is missing.
 *
 * Every call sends `{name: "search", args: {query: "hello world", limit: 10}}` with a global
 * context carrying a request id. "16 in flight" means 16 concurrent callers on the one channel
 * (one HTTP/2 connection, 16 concurrent streams), as in the baselines. Each case gets a warm-up
 * window, then the cases take turns in timed rounds (interleaved, so drifting machine load hits
 * all of them alike); the median round is reported.
 *
 * Shutdown order matters (denoland/deno#36788: a grpc-js client under Deno can crash natively
 * when its server shuts down gracefully and sends GOAWAY): every client channel in this process
 * is closed first, then the servers are stopped (the Python ones with SIGKILL, which sends no
 * GOAWAY), the socket files removed. Also on errors and Ctrl-C.
 *
 * Run: `deno task bench:grpc` (optional arguments: round length in ms, default 500, and rounds,
 * default 5; about 45 s). Flags: read/write on `/tmp/cpex-bench-grpc`, `--allow-net` for
 * 127.0.0.1 (ports are picked at run time) and the three sockets, the nine `GRPC_*` env names
 * grpc-js reads at import, and `--allow-run` for the children and `cat` (CPU accounting).
 *
 * @module
 */
import {
  type GlobalContext,
  parseConfig,
  PluginManager,
  type ToolPreInvokePayload,
} from "../mod.ts";
import type { InvokeHookRequest, InvokeHookResponse } from "../src/external/codec.ts";
import { DEFAULT_CHANNEL_OPTIONS } from "../src/external/grpc/client.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { PLUGIN_SERVICE } from "../src/external/grpc/service.ts";
import { loadGrpcJs } from "../src/external/grpc/grpc_js.ts";
import { fromStruct, pluginContextToProto, toStruct } from "../src/external/struct.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";

/** Where the sockets live (the task's permission flags name these paths). */
const SOCKET_DIR = "/tmp/cpex-bench-grpc";
const SOCKETS = {
  ours: `${SOCKET_DIR}/ours.sock`,
  raw: `${SOCKET_DIR}/raw.sock`,
  python: `${SOCKET_DIR}/py.sock`,
} as const;

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const ROOT_DIR = new URL("..", import.meta.url).pathname;
const PYTHON = `${ROOT_DIR}.venv/bin/python`;
const IN_FLIGHT = [1, 16] as const;
const READY_TIMEOUT_MS = 20_000;
const TARGET_VS_RAW = 0.8;
const TARGET_VS_PYTHON = 1.5;

const roundMs = Number(Deno.args[0] ?? 500);
const rounds = Number(Deno.args[1] ?? 5);
const warmupMs = Math.max(300, roundMs);
if (!(roundMs >= 50) || !Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: grpc_ratio.ts [round ms >= 50] [rounds >= 1]");
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
  /** Close stdin + SIGTERM (Deno children) or SIGKILL (Python: no GOAWAY, no 5 s grace). */
  hard: boolean;
  log: () => string;
  done: Promise<void>;
}

const children: Child[] = [];
const decoder = new TextDecoder();

/**
 * Spawns a child and waits until `ready` matches its stdout (Deno children print `READY`) or
 * stderr (the Python runtime logs `gRPC plugin server started on`); keeps draining both.
 */
async function spawnReady(
  name: string,
  command: string,
  options: Deno.CommandOptions,
  ready: { stream: "stdout" | "stderr"; text: string },
  hard = false,
): Promise<Child> {
  const process = new Deno.Command(command, {
    ...options,
    stdin: "piped", // our children stop when it closes (the Python one ignores it)
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs = { stdout: "", stderr: "" };
  let markReady!: () => void;
  const isReady = new Promise<void>((resolve) => markReady = resolve);
  const drain = async (stream: "stdout" | "stderr") => {
    try {
      for await (const chunk of process[stream]) {
        logs[stream] += decoder.decode(chunk, { stream: true });
        if (stream === ready.stream && logs[stream].includes(ready.text)) markReady();
      }
    } catch { /* cancelled */ }
  };
  const child: Child = {
    name,
    process,
    hard,
    log: () => `--- stdout:\n${logs.stdout}\n--- stderr:\n${logs.stderr}`,
    done: Promise.all([drain("stdout"), drain("stderr")]).then(() => {}),
  };
  children.push(child);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = process.status.then((s) => {
    throw new Error(`${name} exited (code ${s.code}) before it was ready`);
  });
  exited.catch(() => {});
  try {
    await Promise.race([
      isReady,
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name}: not ready within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}\n${child.log()}`);
  } finally {
    clearTimeout(timer);
  }
  return child;
}

async function stopChild(child: Child): Promise<void> {
  try {
    await child.process.stdin.close();
  } catch { /* already closed */ }
  try {
    child.process.kill(child.hard ? "SIGKILL" : "SIGTERM");
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

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The flags of a Deno gRPC child serving 127.0.0.1:PORT and the socket SOCK. */
const denoGrpcFlags = (port: number, sock: string): string[] => [
  `--allow-net=127.0.0.1:${port},unix:${sock}`,
  `--allow-read=${sock}`,
  `--allow-write=${sock}`,
  GRPC_ENV_FLAG,
];

// ---------------------------------------------------------------------------------------------
// Targets: a client (one channel) towards one server address

type Call = () => Promise<void>;
type Transport = "tcp" | "uds";

interface Target {
  label: string;
  transport: Transport;
  /** The server process, for CPU accounting. */
  serverPid?: number;
  call: Call;
  /** Closes the client channel. */
  close(): Promise<void>;
}

/** Encodes what a gateway must per call: payload -> Struct, context -> proto. */
function request(): InvokeHookRequest {
  return {
    hook_type: "tool_pre_invoke",
    plugin_name: "allow",
    payload: toStruct(PAYLOAD as unknown as Record<string, unknown>),
    context: pluginContextToProto({ global_context: GLOBAL_CONTEXT, state: {}, metadata: {} }),
  };
}

/** The raw baseline: a grpc-js client with our codec's serializers, checking the echo. */
async function rawTarget(
  label: string,
  transport: Transport,
  address: string,
  serverPid: number,
): Promise<Target> {
  const grpc = await loadGrpcJs();
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
    ...DEFAULT_CHANNEL_OPTIONS,
  });
  const method = PLUGIN_SERVICE.InvokeHook;
  const call: Call = () =>
    new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest<InvokeHookRequest, InvokeHookResponse>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request(),
        new grpc.Metadata(),
        {},
        (error: GrpcJsModule.ServiceError | null, response?: InvokeHookResponse) => {
          if (error) return reject(error);
          const result = fromStruct(response?.result) as {
            continue_processing?: boolean;
            modified_payload?: { name?: string };
          };
          if (
            result.continue_processing !== true || result.modified_payload?.name !== PAYLOAD.name
          ) {
            reject(new Error(`${label}: unexpected reply ${JSON.stringify(result)}`));
          } else resolve();
        },
      );
    });
  await call(); // connects, and checks the echo once
  return {
    label,
    transport,
    serverPid,
    call,
    close: () => Promise.resolve(client.close()),
  };
}

/** Our gateway: a PluginManager with one `kind: external` + `grpc:` plugin. */
async function gatewayTarget(
  label: string,
  transport: Transport,
  grpcBlock: { target: string } | { uds: string },
  serverPid: number,
): Promise<Target> {
  const manager = new PluginManager(
    parseConfig({ plugins: [{ name: "allow", kind: "external", grpc: grpcBlock }] }),
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
  return { label, transport, serverPid, call, close: () => manager.shutdown() };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * CPU accounting: utime+stime from `/proc/PID/stat` of this process (the client/gateway) and
 * of the server, before and after each measured window. Deno reads `/proc/PID/*` only with
 * `--allow-all`, so `cat` (covered by `--allow-run`) reads them, outside the timed window.
 */
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

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
  samples: number[];
  calls: number;
  clientCpu: number;
  serverCpu: number;
}

/** Runs `inFlight` concurrent callers until `ms` have passed; calls per second. */
async function window(c: Case, ms: number, record: boolean): Promise<number> {
  let calls = 0;
  const [client0, server0] = record ? cpuSeconds([Deno.pid, c.target.serverPid]) : [0, 0];
  const started = performance.now();
  const end = started + ms;
  await Promise.all(Array.from({ length: c.inFlight }, async () => {
    while (performance.now() < end) {
      await c.target.call();
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
const targets: Target[] = [];
async function closeClients(): Promise<void> {
  for (const target of targets.splice(0)) await target.close().catch(() => {});
  // Let the HTTP/2 sessions finish closing before any server goes away.
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const onSignal = () => {
  interrupted = true;
  console.error("interrupted: closing clients, stopping children");
  void closeClients().then(cleanup).finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const RAW = "raw grpc-js echo";
const OURS = "ours (manager -> grpc -> deno server)";
const PY = "python reference server";
let pythonNote = "";
try {
  await Deno.mkdir(SOCKET_DIR, { recursive: true });
  for (const path of Object.values(SOCKETS)) await Deno.remove(path).catch(() => {});
  const ports = { raw: freePort(), ours: freePort(), python: freePort() };

  const deno = Deno.execPath();
  const startedAt = performance.now();
  const readyLine = { stream: "stdout", text: "READY" } as const;
  const pythonReady = { stream: "stderr", text: "gRPC plugin server started on" } as const;
  const python = (label: string, env: Record<string, string>) =>
    spawnReady(
      label,
      PYTHON,
      {
        args: ["-m", "cpex.framework.external.grpc.server.runtime"],
        cwd: BENCH_DIR,
        env: {
          PYTHONDONTWRITEBYTECODE: "1",
          PLUGINS_GRPC_SERVER_SSL_ENABLED: "false",
          PYTHONPATH: BENCH_DIR,
          PLUGINS_CONFIG_PATH: `${BENCH_DIR}unix_python_plugins.yaml`,
          PLUGINS_LOG_LEVEL: "INFO", // the readiness line is logged at INFO
          ...env,
        },
      },
      pythonReady,
      true,
    ).catch((error: Error) => {
      if (error instanceof Deno.errors.NotFound) {
        pythonNote = `python reference skipped: ${PYTHON} not found ` +
          "(bash tests/interop/setup_venv.sh creates it)";
        return null;
      }
      throw error;
    });
  const [raw, ours, pyTcp, pyUds] = await Promise.all([
    spawnReady("raw grpc-js server", deno, {
      args: [
        "run",
        ...denoGrpcFlags(ports.raw, SOCKETS.raw),
        `${BENCH_DIR}grpc_raw_child.ts`,
        String(ports.raw),
        SOCKETS.raw,
      ],
    }, readyLine),
    spawnReady("deno plugin server", deno, {
      args: [
        "run",
        ...denoGrpcFlags(ports.ours, SOCKETS.ours),
        `${BENCH_DIR}grpc_server_child.ts`,
        String(ports.ours),
        SOCKETS.ours,
      ],
    }, readyLine),
    python("python plugin server (tcp)", {
      PLUGINS_GRPC_SERVER_HOST: "127.0.0.1",
      PLUGINS_GRPC_SERVER_PORT: String(ports.python),
    }),
    python("python plugin server (uds)", { PLUGINS_GRPC_SERVER_UDS: SOCKETS.python }),
  ]);
  const startupMs = performance.now() - startedAt;

  const rawPid = raw.process.pid;
  const oursPid = ours.process.pid;
  targets.push(
    await rawTarget(RAW, "tcp", `127.0.0.1:${ports.raw}`, rawPid),
    await rawTarget(RAW, "uds", `unix://${SOCKETS.raw}`, rawPid),
    await gatewayTarget(OURS, "tcp", { target: `127.0.0.1:${ports.ours}` }, oursPid),
    await gatewayTarget(OURS, "uds", { uds: SOCKETS.ours }, oursPid),
  );
  if (pyTcp && pyUds) {
    targets.push(
      await gatewayTarget(PY, "tcp", { target: `127.0.0.1:${ports.python}` }, pyTcp.process.pid),
      await gatewayTarget(PY, "uds", { uds: SOCKETS.python }, pyUds.process.pid),
    );
  }

  const cases: Case[] = [];
  for (const target of targets) {
    for (const inFlight of IN_FLIGHT) {
      cases.push({ target, inFlight, samples: [], calls: 0, clientCpu: 0, serverCpu: 0 });
    }
  }
  for (const c of cases) await window(c, warmupMs, false);
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) await window(c, roundMs, true);
  }

  // -------------------------------------------------------------------------------------------
  // Report
  const rate = (label: string, transport: Transport, inFlight: number): number | undefined => {
    const c = cases.find((x) =>
      x.target.label === label && x.target.transport === transport && x.inFlight === inFlight
    );
    return c ? median(c.samples) : undefined;
  };
  const ratio = (a: number, b: number | undefined): string =>
    b === undefined ? "-" : `${(a / b).toFixed(2)}x`;
  const cpu = (seconds: number, calls: number): string =>
    Number.isFinite(seconds) ? (seconds * 1e6 / calls).toFixed(0) : "-";
  const rows = cases.map((c) => {
    const r = median(c.samples);
    const spread = (Math.max(...c.samples) - Math.min(...c.samples)) / r;
    const t = c.target.transport;
    return [
      c.target.label,
      t,
      String(c.inFlight),
      Math.round(r).toLocaleString("en-US"),
      (1e6 / r).toFixed(0),
      `${Math.round(spread * 100)}%`,
      ratio(r, rate(RAW, t, c.inFlight)),
      ratio(r, rate(PY, t, c.inFlight)),
      cpu(c.clientCpu, c.calls),
      cpu(c.serverCpu, c.calls),
    ];
  });
  const header = [
    "case",
    "transport",
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
      "spread = (max-min)/median of the rounds. vs raw / vs python = / that row at the same " +
      "transport and in-flight.",
  );
  console.log(
    "client/server CPU: µs of CPU (utime+stime, all threads) per call over the measured " +
      "rounds; client = this process (gateway or raw client).",
  );
  if (pythonNote) console.log(pythonNote);

  console.log(
    `\nTargets (issue 4): ours >= ${TARGET_VS_RAW * 100}% of raw grpc-js echo, ` +
      `>= ${TARGET_VS_PYTHON}x the python reference`,
  );
  for (const t of ["tcp", "uds"] as const) {
    for (const n of IN_FLIGHT) {
      const mine = rate(OURS, t, n)!;
      const vsRaw = mine / rate(RAW, t, n)!;
      let line = `  ${t} ${String(n).padStart(2)} in flight: ${(vsRaw * 100).toFixed(0)}% of raw ` +
        `${vsRaw >= TARGET_VS_RAW ? "(met)" : "(NOT met)"}`;
      const py = rate(PY, t, n);
      if (py !== undefined) {
        const vsPy = mine / py;
        line += `, ${vsPy.toFixed(2)}x python ${vsPy >= TARGET_VS_PYTHON ? "(met)" : "(NOT met)"}`;
      }
      console.log(line);
    }
  }
} catch (error) {
  // Calls in flight fail once an interrupt stops the servers: not worth a stack trace.
  if (!interrupted) throw error;
} finally {
  // Clients first (no server may go away under an open grpc-js channel), then the servers.
  await closeClients();
  await cleanup();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  if (interrupted) Deno.exit(130);
}
