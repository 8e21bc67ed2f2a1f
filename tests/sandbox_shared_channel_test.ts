/**
 * The shared-memory channel of Worker sandboxes (issue 16, call cost): the ring carries text
 * frames in order across its wrap-around, refuses what does not fit and recovers, rejects a
 * tampered ring; JSON takes only what it carries like a structured clone; posted messages
 * are delivered after the frames written before them, and what JSON cannot carry arrives
 * intact by `postMessage`; a real worker sandbox answers hundreds of concurrent calls that
 * overflow its rings; a peer that keeps writing cannot hold the reader's thread. The process
 * sandbox's JSON frames are the Unix transport's framing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parsePluginConfig } from "../mod.ts";
import { SandboxPool } from "../src/sandbox/pool.ts";
import { startWorker } from "../src/sandbox/worker_carrier.ts";
import { isJsonSafe } from "../src/sandbox/json_safe.ts";
import { channelBuffers, SharedChannel } from "../src/sandbox/shared_channel.ts";
import { ringBuffer, RingError, RingReader, RingWriter } from "../src/sandbox/shared_ring.ts";
import { encodeJsonFrame } from "../src/sandbox/json_frame.ts";
import { FrameReader, FrameTooLargeError, MAX_FRAME_LENGTH } from "../src/external/unix/frame.ts";

Deno.test("ring: frames arrive in order across the wrap-around, multi-byte text intact", () => {
  const buffer = ringBuffer(256);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  const sent: string[] = [];
  const got: string[] = [];
  for (let i = 0; i < 200; i++) {
    const text = `${i}:${"é€😀".repeat(i % 7)}`;
    if (!writer.tryWrite(text)) {
      // Full: reading frees the space.
      for (let t = reader.read(); t !== null; t = reader.read()) got.push(t);
      assert.ok(writer.tryWrite(text), `frame ${i} fits in an empty ring`);
    }
    sent.push(text);
  }
  for (let t = reader.read(); t !== null; t = reader.read()) got.push(t);
  assert.deepEqual(got, sent);
  assert.equal(reader.read(), null);
});

Deno.test("ring: frames of every size read back exactly, a big one between small ones", () => {
  // The reader decodes through a buffer of its own that grows: nothing of a longer earlier
  // frame may show in a shorter later one.
  const buffer = ringBuffer(64 * 1024);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  for (const text of ["a", "é".repeat(9000), "bc", "x".repeat(40_000), "€😀", ""]) {
    assert.ok(writer.tryWrite(text));
    assert.equal(reader.read(), text);
  }
  assert.equal(reader.read(), null);
});

Deno.test("ring: a frame larger than the free space is refused, not truncated", () => {
  const buffer = ringBuffer(64);
  const writer = new RingWriter(buffer);
  const reader = new RingReader(buffer);
  assert.equal(writer.tryWrite("x".repeat(61)), false);
  assert.equal(writer.tryWrite("€".repeat(21)), false); // 63 bytes of UTF-8 + 4 > 64
  assert.equal(reader.read(), null);
  assert.ok(writer.tryWrite("x".repeat(60)));
  assert.equal(reader.read(), "x".repeat(60));
});

Deno.test("ring: counters or lengths tampered with by the other side throw RingError", () => {
  const buffer = ringBuffer(64);
  const header = new Int32Array(buffer, 0, 2);
  const reader = new RingReader(buffer);
  Atomics.store(header, 0, 1000); // the writer claims more than the ring holds
  assert.throws(() => reader.read(), RingError);
  const other = ringBuffer(64);
  new RingWriter(other).tryWrite("hello");
  new Int32Array(other, 16)[0] = 10_000; // a frame length past the end
  assert.throws(() => new RingReader(other).read(), RingError);
  const full = ringBuffer(64);
  Atomics.store(new Int32Array(full, 0, 2), 1, -1000); // the reader claims to be ahead
  assert.throws(() => new RingWriter(full).tryWrite("x"), RingError);
});

Deno.test("isJsonSafe: JSON is used only where it matches a structured clone", () => {
  for (const ok of [null, "s", true, 1.5, [1, "a", null], { a: { b: [1] }, u: undefined }]) {
    assert.equal(isJsonSafe(ok), true, Deno.inspect(ok));
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const withProp = Object.assign([1], { extra: 1 });
  assert.equal(isJsonSafe(undefined), false);
  for (
    const bad of [
      NaN,
      Infinity,
      -0,
      10n,
      new Date(0),
      new Map(),
      new Uint8Array(1),
      [1, undefined],
      // deno-lint-ignore no-sparse-arrays
      [1, , 2],
      withProp,
      cyclic,
      new (class X {})(),
      () => 1,
    ]
  ) {
    assert.equal(isJsonSafe({ v: bad }), false, Deno.inspect(bad));
  }
});

Deno.test("channel: a posted message comes after the frames sent before it; Dates and big messages arrive intact", async () => {
  const buffers = channelBuffers(1024);
  const { port1, port2 } = new MessageChannel();
  const got: unknown[] = [];
  let done: () => void;
  const all = new Promise<void>((resolve) => done = resolve);
  const gateway = new SharedChannel<unknown, unknown>(
    buffers.down,
    buffers.up,
    (m) => port1.postMessage(m),
    () => {},
    () => {},
  );
  const sandbox = new SharedChannel<unknown, unknown>(
    buffers.up,
    buffers.down,
    () => {},
    (m) => {
      got.push(m);
      if ((m as { t: string }).t === "last") done();
    },
    (e) => assert.fail(String(e)),
  );
  port2.onmessage = (e) => sandbox.received(e.data);
  const when = new Date(5);
  gateway.post({ t: "first" });
  gateway.send({ t: "call", id: 1 });
  gateway.post({ t: "abort", id: 1 });
  gateway.send({ t: "call", id: 2, when });
  gateway.send({ t: "call", id: 3, big: "x".repeat(2000) });
  gateway.post({ t: "last" });
  await all;
  gateway.close();
  sandbox.close();
  port1.close();
  port2.close();
  const names = got.map((m) => `${(m as { t: string }).t}${(m as { id?: number }).id ?? ""}`);
  // The ring call 1 may overtake "first" (independent), but never its abort.
  assert.ok(names.indexOf("call1") < names.indexOf("abort1"), names.join(","));
  assert.deepEqual([...names].sort(), ["abort1", "call1", "call2", "call3", "first", "last"]);
  const call2 = got.find((m) => (m as { id?: number }).id === 2) as { when: unknown };
  assert.ok(call2.when instanceof Date && call2.when.getTime() === 5);
  const call3 = got.find((m) => (m as { id?: number }).id === 3) as { big: string };
  assert.equal(call3.big.length, 2000);
});

Deno.test("worker: 300 concurrent calls overflow the rings and all come back right, Dates intact", async () => {
  const module = new URL("./fixtures/sandbox/plugins.ts", import.meta.url).href;
  const config = parsePluginConfig({
    name: "echo",
    kind: `${fileURLToPath(module)}#Script`,
    hooks: ["tool_pre_invoke"],
    isolation: "worker",
    config: { echo: true },
  });
  const pool = new SandboxPool({
    name: "echo",
    isolation: "worker",
    config,
    size: 1,
    start: (events) => startWorker("echo", { specifier: module, exportName: "Script" }, {}, events),
  });
  await pool.start();
  try {
    const pad = "é".repeat(600); // 1.2 KB of UTF-8 per call: 300 calls need far more than a ring
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) =>
      pool.call(
        {
          t: "call",
          hook: "tool_pre_invoke",
          payload: {
            name: "search",
            args: i % 10 === 0 ? { i, pad, when: new Date(i) } : { i, pad },
          },
          state: {},
          metadata: {},
          global_context: { request_id: `r${i}` },
          extensions: null,
          timeout_ms: null,
        },
        new AbortController().signal,
        Infinity,
      )));
    for (const [i, done] of answers.entries()) {
      const args = (done.result.metadata as { args: { i: number; pad: string; when?: Date } }).args;
      assert.equal(args.i, i);
      assert.equal(args.pad, pad);
      if (i % 10 === 0) assert.ok(args.when instanceof Date && args.when.getTime() === i);
      else assert.equal("when" in args, false);
    }
  } finally {
    await pool.close();
  }
  assert.equal(pool.live, 0);
});

Deno.test("channel: a peer that keeps writing cannot hold the receiving thread", async () => {
  const buffers = channelBuffers(4096);
  let delivered = 0;
  let atTimer = -1;
  let last!: () => void;
  const finished = new Promise<void>((resolve) => last = resolve);
  // The writer end answers every frame it delivers with a new one, 1,000 times: the reader
  // never finds its ring empty, as with a plugin writing as fast as the gateway reads.
  const writer: SharedChannel<unknown, unknown> = new SharedChannel(
    buffers.down,
    buffers.up,
    () => {},
    () => {},
    (e) => assert.fail(String(e)),
  );
  const reader = new SharedChannel<unknown, unknown>(
    buffers.up,
    buffers.down,
    () => {},
    () => {
      if (++delivered === 1) setTimeout(() => atTimer = delivered, 0);
      if (delivered < 1000) writer.send({ t: "more" });
      else last();
    },
    (e) => assert.fail(String(e)),
  );
  writer.send({ t: "first" });
  await finished;
  await new Promise((resolve) => setTimeout(resolve, 0));
  writer.close();
  reader.close();
  assert.ok(atTimer > 0 && atTimer < 1000, `a timer waited for ${atTimer} frames`);
});

Deno.test("process frames: JSON behind a big-endian length, each in a buffer of its own", async () => {
  const messages = [{ t: "call", id: 1, text: "é€😀" }, { big: "y".repeat(50_000) }, { id: 2 }];
  const frames = messages.map(encodeJsonFrame);
  // Later frames do not overwrite earlier ones (queued frames are written later).
  const bytes = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
  let at = 0;
  for (const f of frames) {
    bytes.set(f, at);
    at += f.byteLength;
  }
  assert.deepEqual([...frames[2].subarray(0, 4)], [0, 0, 0, 8]); // {"id":2}
  const reader = new FrameReader(ReadableStream.from([bytes]));
  const decoder = new TextDecoder();
  for (const m of messages) assert.deepEqual(JSON.parse(decoder.decode((await reader.read())!)), m);
  assert.equal(await reader.read(), null);
  assert.throws(() => encodeJsonFrame("z".repeat(MAX_FRAME_LENGTH)), FrameTooLargeError);
});
