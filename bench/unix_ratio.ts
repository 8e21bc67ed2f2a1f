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
 * - `ours`: a `PluginManager` in this process with one `kind: external` plugin
 *   (`unix_socket:`), i.e. `UnixSocketExternalPlugin`, calling an `ExternalPluginServer` in a
 *   child Deno process (`unix_server_child.ts`, started with exactly the transport's flags)
 *   that hosts a no-op allow plugin.
 * - `python`: the same gateway against the reference's Unix runtime
 *   (`python -m cpex.framework.external.unix.server.runtime`, cpex 0.1.4 from `.venv`) hosting
 *   the equivalent plugin (`unix_allow_plugin.py`); skipped when `.venv` is missing.
 * - `python stack`: the reference's own gateway (`python_gateway.py`, its `PluginManager`)
 *   against the same Python server, in its own process, driven round by round like the other
 *   cases (`stack_driver.ts`); the Python target is judged against this row (issue 13).
 *
 * Every call sends `{name: "search", args: {query: "hello world", limit: 10}}` with a global
 * context carrying a request id. "16 in flight" means 16 concurrent callers; the raw clients
 * use one connection each (one request at a time per connection, as our transport does), our
 * client pools up to 16 connections. Each case gets a warm-up window, then the cases take turns
 * in timed rounds (interleaved, so drifting machine load hits all of them alike); the median
 * round is reported (`harness.ts`). Children are stopped and sockets removed at the end, also on
 * errors and Ctrl-C (`children.ts`).
 *
 * Run: `deno task bench:unix` (optional arguments: round length in ms, default 800, and
 * rounds, default 5). The task's flags are exactly what the script needs: read/write on
 * `/tmp/cpex-bench`, `unix:` net access to its four sockets, and `--allow-run` for the children.
 *
 * @module
 */
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { encodeFrame, FrameReader } from "../src/external/unix/frame.ts";
import { fromStruct } from "../src/external/proto/struct.ts";
import { BENCH_DIR, ChildSet, PYTHON_SKIPPED, READY, runGuarded } from "./children.ts";
import { drivenTarget, pythonGateway } from "./stack_driver.ts";
import {
  type Call,
  checkEcho,
  gatewayTarget,
  invokeHookRequest,
  measure,
  printReport,
  printTargets,
  runOptions,
  type Target,
} from "./harness.ts";

/** Where the sockets live (the task's permission flags name these paths). */
const SOCKET_DIR = "/tmp/cpex-bench";
const SOCKETS = {
  ours: `${SOCKET_DIR}/ours.sock`,
  proto: `${SOCKET_DIR}/raw.sock`,
  bytes: `${SOCKET_DIR}/echo.sock`,
  python: `${SOCKET_DIR}/py.sock`,
} as const;

const BYTES = "raw bytes echo";
const RAW = "raw protobuf echo";
const OURS = "ours (manager -> unix -> deno server)";
const PY = "python reference server";
const PY_STACK = "python stack (its gateway -> its server)";

const run = runOptions("unix_ratio.ts", 800);

/** The flags of a Deno child serving the Unix sockets PATHS. */
const denoUnixFlags = (paths: string[]): string[] => [
  `--allow-read=${paths.join(",")}`,
  `--allow-write=${paths.join(",")}`,
  `--allow-net=${paths.map((p) => `unix:${p}`).join(",")}`,
];

// ---------------------------------------------------------------------------------------------
// Raw clients: one connection per caller

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
const encodeRequest = (): Uint8Array => encodeMessage("InvokeHookRequest", invokeHookRequest());

function protoCall(c: RawConnection): Call {
  return async () => {
    const reply = await c.roundTrip(encodeFrame(encodeRequest()));
    checkEcho(RAW, fromStruct(decodeMessage("InvokeHookResponse", reply).result));
  };
}

function bytesCall(c: RawConnection): Call {
  const frame = encodeFrame(encodeRequest());
  const length = frame.length - 4;
  return async () => {
    const reply = await c.roundTrip(frame);
    if (reply.length !== length) throw new Error(`${BYTES}: ${reply.length} bytes back`);
  };
}

/** The gateway's plugin entry besides its name and socket (this transport merges nothing). */
const UNIX_ENTRY = { hooks: ["tool_pre_invoke"], mode: "sequential", on_error: "fail" };

/** Our gateway: a `PluginManager` with one `unix_socket:` plugin towards `path`. */
const unixGateway = (label: string, path: string, serverPid: number): Promise<Target> =>
  gatewayTarget(label, { ...UNIX_ENTRY, unix_socket: { path } }, serverPid);

// ---------------------------------------------------------------------------------------------
// Main

const children = new ChildSet({ dir: SOCKET_DIR, files: Object.values(SOCKETS) });
const targets: Target[] = [];
await runGuarded(children, targets, async () => {
  const startedAt = performance.now();
  const [raw, ours, python] = await Promise.all([
    children.deno(
      "raw server",
      "unix_raw_child.ts",
      denoUnixFlags([SOCKETS.proto, SOCKETS.bytes]),
      [SOCKETS.proto, SOCKETS.bytes],
    ),
    children.deno(
      "deno plugin server",
      "unix_server_child.ts",
      denoUnixFlags([SOCKETS.ours]),
      [SOCKETS.ours],
    ),
    children.python("python plugin server", "cpex.framework.external.unix.server.runtime", {
      PLUGINS_CONFIG_PATH: `${BENCH_DIR}unix_python_plugins.yaml`,
      PLUGINS_UNIX_SOCKET_PATH: SOCKETS.python,
      PLUGINS_LOG_LEVEL: "WARNING",
    }, READY),
  ]);
  const startupMs = performance.now() - startedAt;

  targets.push(
    rawTarget(BYTES, SOCKETS.bytes, raw.process.pid, bytesCall),
    rawTarget(RAW, SOCKETS.proto, raw.process.pid, protoCall),
    await unixGateway(OURS, SOCKETS.ours, ours.process.pid),
  );
  if (python) {
    targets.push(await unixGateway(PY, SOCKETS.python, python.process.pid));
    const gateway = await pythonGateway(children, "python gateway", [{
      ...UNIX_ENTRY,
      name: "allow",
      kind: "external",
      unix_socket: { path: SOCKETS.python },
    }]);
    if (gateway) targets.push(drivenTarget(PY_STACK, gateway, python.process.pid));
  }

  const cases = await measure(targets, run);
  printReport(cases, {
    run,
    startupMs,
    baseline: RAW,
    reference: PY,
    referenceStack: PY_STACK,
    digits: 1,
    ratios: `vs raw = / ${RAW} at the same in-flight.`,
    client: "gateway or raw client",
    note: python ? undefined : PYTHON_SKIPPED,
  });
  printTargets(cases, {
    title: "Targets (issue 13): ours >= 80% of raw protobuf echo (CPU/call <= 1.25x), " +
      ">= 6x the python reference",
    ours: OURS,
    baseline: RAW,
    reference: PY,
    referenceStack: PY_STACK,
    minVsRaw: 0.8,
    minVsPython: 6,
    pythonDigits: 1,
  });
});
