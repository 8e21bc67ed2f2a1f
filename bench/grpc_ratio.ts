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
 * - `ours`: a `PluginManager` in this process with one `kind: external` plugin
 *   (`grpc: {target}` or `{uds}`), i.e. `GrpcExternalPlugin`, calling an `ExternalPluginServer`
 *   served with `serve({transport: "grpc"})` in a child Deno process (`grpc_server_child.ts`,
 *   started with exactly the transport's flags) that hosts a no-op allow plugin.
 * - `python`: the same gateway against the reference's gRPC runtime
 *   (`python -m cpex.framework.external.grpc.server.runtime`, cpex 0.1.4 from `.venv`, one
 *   process for TCP and one for the socket) hosting the equivalent plugin
 *   (`unix_allow_plugin.py` as configured in `unix_python_plugins.yaml`); skipped when `.venv`
 *   is missing.
 * - `python stack`: the reference's own gateway (`python_gateway.py`, its `PluginManager`)
 *   against the same Python server, in its own process, driven round by round like the other
 *   cases (`stack_driver.ts`); the Python target is judged against this row (issue 13).
 *
 * Every call sends `{name: "search", args: {query: "hello world", limit: 10}}` with a global
 * context carrying a request id. "16 in flight" means 16 concurrent callers on the one channel
 * (one HTTP/2 connection, 16 concurrent streams), as in the baselines. Each case gets a warm-up
 * window, then the cases take turns in timed rounds (interleaved, so drifting machine load hits
 * all of them alike); the median round is reported (`harness.ts`).
 *
 * Shutdown order matters (denoland/deno#36788: a grpc-js client under Deno can crash natively
 * when its server shuts down gracefully and sends GOAWAY): every client channel in this process
 * is closed first, then the servers are stopped (the Python ones with SIGKILL, which sends no
 * GOAWAY), the socket files removed. Also on errors and Ctrl-C (`children.ts`, `clientsFirst`).
 *
 * Run: `deno task bench:grpc` (optional arguments: round length in ms, default 500, and rounds,
 * default 5; about 45 s). Flags: read/write on `/tmp/cpex-bench-grpc`, `--allow-net` for
 * 127.0.0.1 (ports are picked at run time) and the three sockets, the nine `GRPC_*` env names
 * grpc-js reads at import, and `--allow-run` for the children and `cat` (CPU accounting).
 *
 * @module
 */
import type { InvokeHookRequest, InvokeHookResponse } from "../src/external/proto/codec.ts";
import { DEFAULT_CHANNEL_OPTIONS } from "../src/external/grpc/client.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { PLUGIN_SERVICE } from "../src/external/grpc/service.ts";
import { loadGrpcJs } from "../src/external/grpc/grpc_js.ts";
import { fromStruct } from "../src/external/proto/struct.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";
import {
  BENCH_DIR,
  ChildSet,
  freePort,
  PYTHON_SKIPPED,
  type Readiness,
  runGuarded,
} from "./children.ts";
import {
  type Call,
  checkEcho,
  gatewayTarget,
  invokeHookRequest,
  measure,
  printReport,
  printTargets,
  runOptions,
  sharedCallers,
  type Target,
} from "./harness.ts";
import { drivenTarget, pythonGateway } from "./stack_driver.ts";

/** Where the sockets live (the task's permission flags name these paths). */
const SOCKET_DIR = "/tmp/cpex-bench-grpc";
const SOCKETS = {
  ours: `${SOCKET_DIR}/ours.sock`,
  raw: `${SOCKET_DIR}/raw.sock`,
  python: `${SOCKET_DIR}/py.sock`,
} as const;

const TARGET_VS_RAW = 0.9; // issue 13
const TARGET_VS_PYTHON = 3;
const RAW = "raw grpc-js echo";
const OURS = "ours (manager -> grpc -> deno server)";
const PY = "python reference server";
const PY_STACK = "python stack (its gateway -> its server)";

const run = runOptions("grpc_ratio.ts", 500);

/** The flags of a Deno gRPC child serving 127.0.0.1:PORT and the socket SOCK. */
const denoGrpcFlags = (port: number, sock: string): string[] => [
  `--allow-net=127.0.0.1:${port},unix:${sock}`,
  `--allow-read=${sock}`,
  `--allow-write=${sock}`,
  GRPC_ENV_FLAG,
];

/** The Python runtime logs this (at INFO) once it listens. */
const PYTHON_READY: Readiness = { stream: "stderr", text: "gRPC plugin server started on" };

// ---------------------------------------------------------------------------------------------
// Targets: a client (one channel) towards one server address

/** The raw baseline: a grpc-js client with our codec's serializers, checking the echo. */
async function rawTarget(
  label: string,
  transport: string,
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
        invokeHookRequest(),
        new grpc.Metadata(),
        {},
        (error: GrpcJsModule.ServiceError | null, response?: InvokeHookResponse) => {
          if (error) return reject(error);
          try {
            checkEcho(label, fromStruct(response?.result));
            resolve();
          } catch (mismatch) {
            reject(mismatch);
          }
        },
      );
    });
  await call(); // connects, and checks the echo once
  return {
    label,
    transport,
    serverPid,
    callers: sharedCallers(call),
    close: () => Promise.resolve(client.close()),
  };
}

// ---------------------------------------------------------------------------------------------
// Main

const children = new ChildSet({ dir: SOCKET_DIR, files: Object.values(SOCKETS) });
const targets: Target[] = [];
await runGuarded(children, targets, async () => {
  const ports = { raw: freePort(), ours: freePort(), python: freePort() };
  const startedAt = performance.now();
  const python = (label: string, env: Record<string, string>) =>
    children.python(
      label,
      "cpex.framework.external.grpc.server.runtime",
      {
        PLUGINS_GRPC_SERVER_SSL_ENABLED: "false",
        PLUGINS_CONFIG_PATH: `${BENCH_DIR}unix_python_plugins.yaml`,
        PLUGINS_LOG_LEVEL: "INFO", // the readiness line is logged at INFO
        ...env,
      },
      PYTHON_READY,
      true,
    ); // SIGKILL: no GOAWAY, no 5 s grace
  const [raw, ours, pyTcp, pyUds] = await Promise.all([
    children.deno(
      "raw grpc-js server",
      "grpc_raw_child.ts",
      denoGrpcFlags(ports.raw, SOCKETS.raw),
      [String(ports.raw), SOCKETS.raw],
    ),
    children.deno(
      "deno plugin server",
      "grpc_server_child.ts",
      denoGrpcFlags(ports.ours, SOCKETS.ours),
      [String(ports.ours), SOCKETS.ours],
    ),
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
    await gatewayTarget(OURS, { grpc: { target: `127.0.0.1:${ports.ours}` } }, oursPid, "tcp"),
    await gatewayTarget(OURS, { grpc: { uds: SOCKETS.ours } }, oursPid, "uds"),
  );
  if (pyTcp && pyUds) {
    targets.push(
      await gatewayTarget(
        PY,
        { grpc: { target: `127.0.0.1:${ports.python}` } },
        pyTcp.process.pid,
        "tcp",
      ),
      await gatewayTarget(PY, { grpc: { uds: SOCKETS.python } }, pyUds.process.pid, "uds"),
    );
    // The reference's own gateway against its own server, per transport.
    const stacks = [
      ["tcp", { target: `127.0.0.1:${ports.python}` }, pyTcp.process.pid],
      ["uds", { uds: SOCKETS.python }, pyUds.process.pid],
    ] as const;
    for (const [transport, grpc, pid] of stacks) {
      const gateway = await pythonGateway(children, `python gateway (${transport})`, [
        { name: "allow", kind: "external", grpc },
      ]);
      if (gateway) targets.push(drivenTarget(PY_STACK, gateway, pid, transport));
    }
  }

  const cases = await measure(targets, run);
  printReport(cases, {
    run,
    startupMs,
    baseline: RAW,
    reference: PY,
    referenceStack: PY_STACK,
    digits: 0,
    ratios: "vs raw / vs python = / that row at the same transport and in-flight.",
    client: "gateway or raw client",
    note: pyTcp && pyUds ? undefined : PYTHON_SKIPPED,
  });
  printTargets(cases, {
    title: `Targets (issue 13): ours >= ${TARGET_VS_RAW * 100}% of raw grpc-js echo, ` +
      `>= ${TARGET_VS_PYTHON}x the python reference`,
    ours: OURS,
    baseline: RAW,
    reference: PY,
    referenceStack: PY_STACK,
    minVsRaw: TARGET_VS_RAW,
    minVsPython: TARGET_VS_PYTHON,
    pythonDigits: 2,
    transports: ["tcp", "uds"],
  });
}, { clientsFirst: true });
