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
 * - `bare worker ping-pong`: a `postMessage` round trip to a Worker that echoes it (the old
 *   floor of a Worker call: what the worker sandbox cost before its shared-memory channel);
 * - `bare worker SAB ping-pong`: the same message as JSON text in a `SharedArrayBuffer`, the
 *   Worker blocked in `Atomics.wait` and the gateway in `Atomics.waitAsync` (the floor of the
 *   worker sandbox's channel, `src/sandbox/shared_channel.ts`);
 * - `worker pool, postMessage` / `worker pool, shared memory`: one call straight to a worker
 *   sandbox's pool (no manager), over the former `postMessage` channel and over the
 *   shared-memory channel: before and after, in the same run;
 * - `process pool`: one call straight to a process sandbox's pool (no manager): the sandbox's
 *   own cost, comparable with the raw echoes, which have no manager either;
 * - `none|worker|process xN`: `PluginManager.invokeHook("tool_pre_invoke")` with N no-op
 *   plugins (`sandbox_noop_plugin.ts`) at that isolation level (one Worker or child process per
 *   plugin).
 *
 * One call in flight. Every call sends a fresh payload (`{name: "search", args: {query:
 * "hello <i>", limit: 10}}`). After a warm-up, the targets take turns in interleaved rounds of
 * `CALLS` calls, in a new order every round (drifting machine load hits all alike); the median
 * round is reported as µs per call, with the gateway process's CPU per call
 * (`process.cpuUsage`: its Worker threads included, child processes not). A second table
 * compares the two candidate wire formats of the process pipe: JSON vs our protobuf codec
 * (encode + decode of one call and its answer).
 *
 * Run: `deno task bench:sandbox` (optional arguments: calls per round, default 2000, rounds,
 * default 7, and the root of another copy of this repository, e.g. an earlier commit unpacked
 * under `/tmp` with `git archive`, with `node_modules` linked in: its `worker x1`, `process x1`
 * and pools run as `… (before)` targets in the same interleaved rounds). Targets: a worker
 * call ≤ 20 µs (its sandbox part: `worker x1` minus `none x1`); a process call ≤ the raw Unix
 * round trip × 1.2, judged against both raw echoes: the protobuf echo is like with like (it
 * encodes the call and decodes the answer, as the process sandbox must; `uds_protobuf` is the
 * design's denominator for a framework Unix transport), the bytes echo is the bare socket floor.
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseConfig, parsePluginConfig, PluginManager } from "../mod.ts";
import { SandboxPool } from "../src/sandbox/pool.ts";
import { startWorker } from "../src/sandbox/worker_carrier.ts";
import { startProcess } from "../src/sandbox/process_carrier.ts";
import { findDenoConfig } from "../src/sandbox/config_file.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { encodeFrame, FrameReader } from "../src/external/unix/frame.ts";
import { fromStruct, pluginContextToProto, toStruct } from "../src/external/proto/struct.ts";
import { ChildSet, runGuarded } from "./children.ts";

const SOCKET_DIR = "/tmp/cpex-bench-sandbox";
const SOCKETS = { proto: `${SOCKET_DIR}/raw.sock`, bytes: `${SOCKET_DIR}/echo.sock` };
const CALLS = Number(Deno.args[0] ?? 2000);
const ROUNDS = Number(Deno.args[1] ?? 7);
/** Root of another copy of the library to compare with ("before"), if given. */
const BASELINE = Deno.args[2];

type Call = (i: number) => Promise<void>;
interface Target {
  label: string;
  call: Call;
  perCall: number[];
  cpuPerCall: number[];
  close(): Promise<void>;
}

const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

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
    cpuPerCall: [],
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
    cpuPerCall: [],
    close: () => Promise.resolve(worker.terminate()),
  };
}

/**
 * The floor of the worker sandbox's channel: the message as JSON text in shared memory, the
 * Worker blocked in `Atomics.wait` (returning to its event loop every 2 ms, so that
 * `terminate()` works), the gateway woken by `Atomics.waitAsync`.
 */
function sabPingPongTarget(): Target {
  const source = `
    let ctl, bytes, seq = 0;
    const serve = () => {
      for (;;) {
        if (Atomics.wait(ctl, 0, seq, 2) === "timed-out") return void setTimeout(serve, 0);
        seq = Atomics.load(ctl, 0);
        if (seq < 0) return;
        const text = new TextDecoder().decode(bytes.slice(0, ctl[2]));
        ctl[3] = new TextEncoder().encodeInto(JSON.stringify(JSON.parse(text)), bytes).written;
        Atomics.store(ctl, 1, seq);
        Atomics.notify(ctl, 1);
      }
    };
    self.onmessage = (e) => {
      ctl = new Int32Array(e.data, 0, 4);
      bytes = new Uint8Array(e.data, 16);
      serve();
    };`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
  });
  const sab = new SharedArrayBuffer(16 + 64 * 1024);
  const ctl = new Int32Array(sab, 0, 4);
  const bytes = new Uint8Array(sab, 16);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  worker.postMessage(sab);
  let seq = 0;
  return {
    label: "bare worker SAB ping-pong",
    call: async (i) => {
      const message = JSON.stringify({ payload: payload(i), global_context: context(i) });
      ctl[2] = encoder.encodeInto(message, bytes).written;
      Atomics.store(ctl, 0, ++seq);
      Atomics.notify(ctl, 0);
      while (Atomics.load(ctl, 1) !== seq) {
        const waiting = Atomics.waitAsync(ctl, 1, seq - 1);
        if (waiting.async) await waiting.value;
      }
      JSON.parse(decoder.decode(bytes.slice(0, ctl[3])));
    },
    perCall: [],
    cpuPerCall: [],
    close: () => {
      Atomics.store(ctl, 0, -1);
      Atomics.notify(ctl, 0);
      worker.terminate();
      return Promise.resolve();
    },
  };
}

const NOOP = new URL("./sandbox_noop_plugin.ts", import.meta.url);

/** What the targets use of the library: this copy, or the baseline's. */
interface Lib {
  parseConfig: typeof parseConfig;
  parsePluginConfig: typeof parsePluginConfig;
  PluginManager: typeof PluginManager;
  SandboxPool: typeof SandboxPool;
  startWorker: typeof startWorker;
  startProcess: typeof startProcess;
  findDenoConfig: typeof findDenoConfig;
  NOOP: URL;
}
const OURS: Lib = {
  parseConfig,
  parsePluginConfig,
  PluginManager,
  SandboxPool,
  startWorker,
  startProcess,
  findDenoConfig,
  NOOP,
};

async function baselineLib(root: string): Promise<Lib> {
  const at = (path: string) => new URL(path, `file://${root.replace(/\/?$/, "/")}`).href;
  const mod = await import(at("mod.ts"));
  const pool = await import(at("src/sandbox/pool.ts"));
  const worker = await import(at("src/sandbox/worker_carrier.ts"));
  const child = await import(at("src/sandbox/process_carrier.ts"));
  const config = await import(at("src/sandbox/config_file.ts"));
  return {
    parseConfig: mod.parseConfig,
    parsePluginConfig: mod.parsePluginConfig,
    PluginManager: mod.PluginManager,
    SandboxPool: pool.SandboxPool,
    startWorker: worker.startWorker,
    startProcess: child.startProcess,
    findDenoConfig: config.findDenoConfig,
    NOOP: new URL(at("bench/sandbox_noop_plugin.ts")),
  };
}
/**
 * One sandbox's pool, called directly: a worker over the `post` or the `shared` channel, or a
 * process over its private socket.
 */
async function poolTarget(
  channel: "post" | "shared" | "process",
  lib: Lib = OURS,
  suffix = "",
): Promise<Target> {
  const { SandboxPool, startWorker, startProcess, findDenoConfig, parsePluginConfig, NOOP } = lib;
  const isolation = channel === "process" ? "process" : "worker";
  const config = parsePluginConfig({
    name: "noop",
    kind: `${fileURLToPath(NOOP)}#Noop`,
    hooks: ["tool_pre_invoke"],
    isolation,
  });
  const ref = { specifier: NOOP.href, exportName: "Noop" };
  const pool = new SandboxPool({
    name: "noop",
    isolation,
    config,
    size: 1,
    start: (events) =>
      channel === "process"
        ? startProcess(ref, {}, { configFile: findDenoConfig(NOOP.href) }, events)
        : startWorker("noop", ref, {}, events, { channel }),
  });
  await pool.start();
  const signal = new AbortController().signal;
  return {
    label:
      (channel === "process"
        ? "process pool"
        : `worker pool, ${channel === "post" ? "postMessage" : "shared memory"}`) + suffix,
    call: async (i) => {
      await pool.call(
        {
          t: "call",
          hook: "tool_pre_invoke",
          payload: payload(i),
          state: {},
          metadata: {},
          global_context: { ...context(i), state: {}, metadata: {} },
          extensions: null,
          timeout_ms: 30_000,
        },
        signal,
        performance.now() + 30_000,
      );
    },
    perCall: [],
    cpuPerCall: [],
    close: () => pool.close(),
  };
}

async function managerTarget(
  isolation: string,
  count: number,
  lib: Lib = OURS,
  suffix = "",
): Promise<Target> {
  const { parseConfig, PluginManager, NOOP } = lib;
  const plugins = Array.from({ length: count }, (_, i) => ({
    name: `noop${i}`,
    kind: `${fileURLToPath(NOOP)}#Noop`,
    hooks: ["tool_pre_invoke"],
    isolation,
  }));
  const manager = new PluginManager(
    parseConfig({ plugins, plugin_settings: { fail_on_plugin_error: true } }),
  );
  await manager.initialize();
  return {
    label: `${isolation} x${count}${suffix}`,
    call: async (i) => {
      const [result] = await manager.invokeHook("tool_pre_invoke", payload(i), context(i));
      if (!result.continue_processing || result.executions.length !== count) {
        throw new Error(`unexpected result: ${JSON.stringify(result)}`);
      }
    },
    perCall: [],
    cpuPerCall: [],
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
  targets.push(sabPingPongTarget());
  targets.push(await poolTarget("post"));
  targets.push(await poolTarget("shared"));
  targets.push(await poolTarget("process"));
  for (const isolation of ["none", "worker", "process"]) {
    for (const count of [1, 5]) targets.push(await managerTarget(isolation, count));
  }
  if (BASELINE) {
    const before = await baselineLib(BASELINE);
    targets.push(await poolTarget("shared", before, " (before)"));
    targets.push(await poolTarget("process", before, " (before)"));
    targets.push(await managerTarget("worker", 1, before, " (before)"));
    targets.push(await managerTarget("process", 1, before, " (before)"));
  }
  let i = 0;
  for (const t of targets) for (let k = 0; k < 500; k++) await t.call(i++); // warm-up
  // A new order every round: a target must not always follow the same one (the one before
  // it may leave garbage to collect or threads to wind down).
  let seed = 1;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...targets];
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    for (const t of order) {
      const cpu = cpuMicros();
      const start = performance.now();
      for (let k = 0; k < CALLS; k++) await t.call(i++);
      t.perCall.push(((performance.now() - start) * 1000) / CALLS);
      t.cpuPerCall.push((cpuMicros() - cpu) / CALLS);
    }
  }
  const raw = median(targets[0].perCall);
  const rawProto = median(targets[1].perCall);
  console.log(
    `\nPer-call cost, 1 call in flight, median of ${ROUNDS} rounds x ${CALLS} calls ` +
      `(Deno ${Deno.version.deno}, load ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")})`,
  );
  console.log(
    `${"target".padEnd(36)}${"µs/call".padStart(9)}${"min".padStart(8)}${"max".padStart(8)}` +
      `${"CPU µs".padStart(8)}${"÷ raw bytes".padStart(13)}${"÷ raw proto".padStart(13)}`,
  );
  for (const t of targets) {
    const m = median(t.perCall);
    console.log(
      `${t.label.padEnd(36)}${m.toFixed(1).padStart(9)}` +
        `${Math.min(...t.perCall).toFixed(1).padStart(8)}` +
        `${Math.max(...t.perCall).toFixed(1).padStart(8)}` +
        `${median(t.cpuPerCall).toFixed(1).padStart(8)}` +
        `${(m / raw).toFixed(2).padStart(13)}${(m / rawProto).toFixed(2).padStart(13)}`,
    );
  }
  const at = (label: string) => median(targets.find((t) => t.label === label)!.perCall);
  const none1 = at("none x1");
  const worker1 = at("worker x1") - none1;
  const process1 = at("process x1") - none1;
  const met = (ok: boolean) => ok ? "met" : "NOT met";
  const process1x = at("process x1");
  console.log(`\nTargets (sandbox cost = isolation x1 minus none x1, the manager's own work):`);
  console.log(
    `  worker call ${worker1.toFixed(1)} µs: target <= 20 µs ${met(worker1 <= 20)} ` +
      `(floors: SAB round trip ${at("bare worker SAB ping-pong").toFixed(1)} µs, ` +
      `postMessage round trip ${at("bare worker ping-pong").toFixed(1)} µs); ` +
      `whole hook call ${at("worker x1").toFixed(1)} µs`,
  );
  console.log(
    `  worker pool call (no manager): ${at("worker pool, postMessage").toFixed(1)} µs before ` +
      `(postMessage), ${at("worker pool, shared memory").toFixed(1)} µs after (shared memory)`,
  );
  console.log(
    `  process call ${process1x.toFixed(1)} µs (whole hook call; sandbox part ` +
      `${process1.toFixed(1)} µs; pool alone ${at("process pool").toFixed(1)} µs = ` +
      `${(at("process pool") / rawProto).toFixed(2)}x protobuf echo, ` +
      `${(at("process pool") / raw).toFixed(2)}x bytes echo), ` +
      `target <= 1.2x the raw Unix round trip:\n` +
      `    ${(process1x / rawProto).toFixed(2)}x the raw protobuf echo ` +
      `(like with like: both encode the call and decode the answer) ` +
      `${met(process1x <= 1.2 * rawProto)};\n` +
      `    ${(process1x / raw).toFixed(2)}x the raw bytes echo (no codec, no manager) ` +
      `${met(process1x <= 1.2 * raw)}`,
  );
  console.log("\nProcess pipe wire format, encode + decode of one call and its answer:");
  for (const [label, us] of codecComparison()) {
    console.log(`  ${label.padEnd(22)}${us.toFixed(2)} µs`);
  }
});
