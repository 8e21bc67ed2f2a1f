/**
 * Sandboxed plugin benchmark (issue 16): the per-call cost of a gateway hook call with 1 and 5
 * no-op plugins at each isolation level (`none`, `worker`, `process`), side by side in one run
 * with the raw Unix socket round trip to a child Deno process:
 *
 * - `raw unix bytes echo`: a pre-built frame written to a Unix socket and echoed back by
 *   `unix_raw_child.ts` (socket and framing only);
 * - `raw unix protobuf echo`: the same with the payload encoded as an `InvokeHookRequest` per
 *   call and the echoed `InvokeHookResponse` decoded (the Unix transport's baseline,
 *   `shared/spec/transport-baselines.md`);
 * - `bare worker ping-pong`: a `postMessage` round trip to a Worker that echoes it (the floor
 *   of any Worker call on this machine);
 * - `none|worker|process xN`: `PluginManager.invokeHook("tool_pre_invoke")` with N no-op
 *   plugins (`sandbox_noop_plugin.ts`) at that isolation level (one Worker or child process per
 *   plugin).
 *
 * One call in flight. Every call sends a fresh payload (`{name: "search", args: {query:
 * "hello <i>", limit: 10}}`). After a warm-up, the targets take turns in interleaved rounds of
 * `CALLS` calls (drifting machine load hits all alike); the median round is reported as µs per
 * call. A second table compares the two candidate wire formats of the process pipe: JSON vs our
 * protobuf codec (encode + decode of one call and its answer).
 *
 * Run: `deno task bench:sandbox` (optional arguments: calls per round, default 2000, and rounds,
 * default 7). Targets: a worker call ≤ 20 µs; a process call ≤ the raw Unix round trip × 1.2.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseConfig, PluginManager } from "../mod.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { encodeFrame, FrameReader } from "../src/external/unix/frame.ts";
import { fromStruct, pluginContextToProto, toStruct } from "../src/external/proto/struct.ts";
import { ChildSet, runGuarded } from "./children.ts";

const SOCKET_DIR = "/tmp/cpex-bench-sandbox";
const SOCKETS = { proto: `${SOCKET_DIR}/raw.sock`, bytes: `${SOCKET_DIR}/echo.sock` };
const CALLS = Number(Deno.args[0] ?? 2000);
const ROUNDS = Number(Deno.args[1] ?? 7);

type Call = (i: number) => Promise<void>;
interface Target {
  label: string;
  call: Call;
  perCall: number[];
  close(): Promise<void>;
}

const payload = (i: number) => ({ name: "search", args: { query: `hello ${i}`, limit: 10 } });
const context = (i: number) => ({ request_id: `bench-${i}` });

async function rawTarget(label: string, path: string, proto: boolean): Promise<Target> {
  const conn = await Deno.connect({ transport: "unix", path });
  const reader = new FrameReader(conn);
  const encoder = new TextEncoder();
  const call: Call = async (i) => {
    const p = payload(i);
    const body = proto
      ? encodeMessage("InvokeHookRequest", {
        hook_type: "tool_pre_invoke",
        plugin_name: "allow",
        payload: toStruct(p),
        context: pluginContextToProto({ global_context: context(i), state: {}, metadata: {} }),
      })
      : encoder.encode(JSON.stringify(p));
    const frame = encodeFrame(body);
    let written = 0;
    while (written < frame.length) written += await conn.write(frame.subarray(written));
    const reply = await reader.read();
    if (reply === null) throw new Error("raw server closed the connection");
    if (proto) {
      const response = decodeMessage("InvokeHookResponse", reply);
      const echoed = fromStruct(response.result!).modified_payload as { args: { query: string } };
      if (echoed.args.query !== p.args.query) throw new Error("bad echo");
    }
  };
  return {
    label,
    call,
    perCall: [],
    close: () => Promise.resolve(conn.close()),
  };
}

/** The floor of any Worker call: a bare postMessage round trip with the same payload. */
function pingPongTarget(): Target {
  const source = "self.onmessage = (e) => self.postMessage(e.data);";
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
  });
  let answer: (() => void) | undefined;
  worker.onmessage = () => answer?.();
  return {
    label: "bare worker ping-pong",
    call: (i) =>
      new Promise<void>((resolve) => {
        answer = resolve;
        worker.postMessage({ payload: payload(i), global_context: context(i) });
      }),
    perCall: [],
    close: () => Promise.resolve(worker.terminate()),
  };
}

async function managerTarget(isolation: string, count: number): Promise<Target> {
  const plugins = Array.from({ length: count }, (_, i) => ({
    name: `noop${i}`,
    kind: `${fileURLToPath(new URL("./sandbox_noop_plugin.ts", import.meta.url))}#Noop`,
    hooks: ["tool_pre_invoke"],
    isolation,
  }));
  const manager = new PluginManager(
    parseConfig({ plugins, plugin_settings: { fail_on_plugin_error: true } }),
  );
  await manager.initialize();
  return {
    label: `${isolation} x${count}`,
    call: async (i) => {
      const [result] = await manager.invokeHook("tool_pre_invoke", payload(i), context(i));
      if (!result.continue_processing || result.executions.length !== count) {
        throw new Error(`unexpected result: ${JSON.stringify(result)}`);
      }
    },
    perCall: [],
    close: () => manager.shutdown(),
  };
}

/** JSON vs protobuf for one call and its answer over the process pipe (µs per exchange). */
function codecComparison(): Array<[string, number]> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const n = 20_000;
  const json = () => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const msg = {
        t: "call",
        id: i,
        hook: "tool_pre_invoke",
        payload: payload(i),
        state: {},
        metadata: {},
        global_context: context(i),
        extensions: null,
        timeout_ms: 30000,
      };
      JSON.parse(decoder.decode(encodeFrame(encoder.encode(JSON.stringify(msg))).subarray(4)));
      const done = { t: "done", id: i, result: {}, state: {}, metadata: {}, global_state: {} };
      JSON.parse(decoder.decode(encodeFrame(encoder.encode(JSON.stringify(done))).subarray(4)));
    }
    return ((performance.now() - t) * 1000) / n;
  };
  const proto = () => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const request = encodeMessage("InvokeHookRequest", {
        hook_type: "tool_pre_invoke",
        plugin_name: "noop",
        payload: toStruct(payload(i)),
        context: pluginContextToProto({ global_context: context(i), state: {}, metadata: {} }),
      });
      const r = decodeMessage("InvokeHookRequest", encodeFrame(request).subarray(4));
      fromStruct(r.payload!);
      const response = encodeMessage("InvokeHookResponse", {
        plugin_name: "noop",
        result: toStruct({ continue_processing: true }),
      });
      fromStruct(decodeMessage("InvokeHookResponse", response).result!);
    }
    return ((performance.now() - t) * 1000) / n;
  };
  json();
  proto();
  return [["json frames", json()], ["protobuf (codec.ts)", proto()]];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const children = new ChildSet({ dir: SOCKET_DIR, files: Object.values(SOCKETS) });
const targets: Target[] = [];
await runGuarded(children, targets, async () => {
  const paths = [SOCKETS.proto, SOCKETS.bytes];
  await children.deno("raw server", "unix_raw_child.ts", [
    `--allow-read=${paths.join(",")}`,
    `--allow-write=${paths.join(",")}`,
    `--allow-net=${paths.map((p) => `unix:${p}`).join(",")}`,
  ], paths);
  targets.push(await rawTarget("raw unix bytes echo", SOCKETS.bytes, false));
  targets.push(await rawTarget("raw unix protobuf echo", SOCKETS.proto, true));
  targets.push(pingPongTarget());
  for (const isolation of ["none", "worker", "process"]) {
    for (const count of [1, 5]) targets.push(await managerTarget(isolation, count));
  }
  let i = 0;
  for (const t of targets) for (let k = 0; k < 500; k++) await t.call(i++); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const start = performance.now();
      for (let k = 0; k < CALLS; k++) await t.call(i++);
      t.perCall.push(((performance.now() - start) * 1000) / CALLS);
    }
  }
  const raw = median(targets[0].perCall);
  const rawProto = median(targets[1].perCall);
  console.log(`\nPer-call cost, 1 call in flight, median of ${ROUNDS} rounds x ${CALLS} calls`);
  console.log(
    `${"target".padEnd(26)}${"µs/call".padStart(10)}${"spread".padStart(10)}` +
      `${"÷ raw bytes".padStart(13)}${"÷ raw proto".padStart(13)}`,
  );
  for (const t of targets) {
    const m = median(t.perCall);
    const spread = Math.max(...t.perCall) - Math.min(...t.perCall);
    console.log(
      `${t.label.padEnd(26)}${m.toFixed(1).padStart(10)}${`±${spread.toFixed(1)}`.padStart(10)}` +
        `${(m / raw).toFixed(2).padStart(13)}${(m / rawProto).toFixed(2).padStart(13)}`,
    );
  }
  const at = (label: string) => median(targets.find((t) => t.label === label)!.perCall);
  const none1 = at("none x1");
  const worker1 = at("worker x1") - none1;
  const process1 = at("process x1") - none1;
  console.log(`\nTargets (sandbox cost = isolation x1 minus none x1, the manager's own work):`);
  console.log(
    `  worker call ${worker1.toFixed(1)} µs (target <= 20 µs; the bare postMessage round trip ` +
      `alone is ${at("bare worker ping-pong").toFixed(1)} µs); whole hook call ${
        at("worker x1").toFixed(1)
      } µs`,
  );
  console.log(
    `  process call ${at("process x1").toFixed(1)} µs = ${
      (at("process x1") / raw).toFixed(2)
    }x raw ` +
      `bytes echo, ${(at("process x1") / rawProto).toFixed(2)}x raw protobuf echo ` +
      `(target <= 1.2x); sandbox part ${process1.toFixed(1)} µs`,
  );
  console.log("\nProcess pipe wire format, encode + decode of one call and its answer:");
  for (const [label, us] of codecComparison()) {
    console.log(`  ${label.padEnd(22)}${us.toFixed(2)} µs`);
  }
});
