/**
 * Tests of the raw Unix socket framing (wire.md §6.1): 4-byte big-endian length prefix,
 * zero-length frames, the 16 MiB limit, frames split anywhere, many frames per chunk, and
 * end of stream inside a frame.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ByteReader,
  encodeFrame,
  FrameError,
  FrameReader,
  FrameTooLargeError,
  MAX_FRAME_LENGTH,
  TruncatedFrameError,
  writeFrame,
} from "../src/external/unix/frame.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function payload(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** A ByteReader serving `chunks` one read at a time (each read returns at most one chunk). */
class ChunkedSource implements ByteReader {
  reads = 0;
  largestRequest = 0;
  #chunks: Uint8Array[];
  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks.map((c) => c.slice());
  }
  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    this.largestRequest = Math.max(this.largestRequest, p.byteLength);
    const chunk = this.#chunks[0];
    if (chunk === undefined) return Promise.resolve(null);
    const n = Math.min(p.byteLength, chunk.byteLength);
    p.set(chunk.subarray(0, n));
    if (n === chunk.byteLength) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return Promise.resolve(n);
  }
}

async function readAll(reader: FrameReader): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of reader) frames.push(f.slice());
  return frames;
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.byteLength]) {
    out.push(bytes.slice(prev, c));
    prev = c;
  }
  return out;
}

Deno.test("encodeFrame writes a 4-byte big-endian length before the payload", () => {
  assert.equal(hex(encodeFrame(fromHex("0a084172674775617264"))), "0000000a0a084172674775617264");
  assert.equal(hex(encodeFrame(new Uint8Array(0))), "00000000");
  const big = encodeFrame(new Uint8Array(0x01020304 & 0xfffff));
  assert.equal(hex(big.subarray(0, 4)), "00020304");
  assert.equal(hex(encodeFrame(new Uint8Array(398)).subarray(0, 4)), "0000018e");
});

Deno.test("encodeFrame accepts exactly the maximum and refuses one byte more", () => {
  assert.equal(encodeFrame(new Uint8Array(16), 16).byteLength, 20);
  assert.throws(() => encodeFrame(new Uint8Array(17), 16), (e: unknown) => {
    assert.ok(e instanceof FrameTooLargeError);
    assert.equal(e.length, 17);
    assert.equal(e.maxLength, 16);
    assert.match(e.message, /17 bytes exceeds the maximum of 16/);
    return true;
  });
  assert.equal(MAX_FRAME_LENGTH, 16_777_216);
});

Deno.test("frames split at every byte boundary are reassembled from a stream", async () => {
  const frames = [payload(5, 1), new Uint8Array(0), payload(1, 2), payload(300, 3)];
  const wire = concat(...frames.map((f) => encodeFrame(f)));
  for (let cut = 0; cut <= wire.byteLength; cut++) {
    const reader = new FrameReader(ReadableStream.from(splitAt(wire, [cut])));
    assert.deepEqual(await readAll(reader), frames, `split at ${cut}`);
  }
});

Deno.test("frames split at every pair of byte boundaries are reassembled from a conn", async () => {
  const frames = [payload(7, 4), payload(2, 5), new Uint8Array(0), payload(9, 6)];
  const wire = concat(...frames.map((f) => encodeFrame(f)));
  for (let a = 0; a <= wire.byteLength; a++) {
    for (let b = a; b <= wire.byteLength; b++) {
      const reader = new FrameReader(new ChunkedSource(splitAt(wire, [a, b])));
      assert.deepEqual(await readAll(reader), frames, `split at ${a},${b}`);
    }
  }
});

Deno.test("one byte per read still yields every frame", async () => {
  const frames = [payload(70_000, 7), payload(3, 8)];
  const wire = concat(...frames.map((f) => encodeFrame(f)));
  const bytes = Array.from(wire, (b) => new Uint8Array([b]));
  assert.deepEqual(await readAll(new FrameReader(ReadableStream.from(bytes))), frames);
  const small = concat(encodeFrame(payload(40, 9)), encodeFrame(payload(3, 10)));
  assert.deepEqual(
    await readAll(
      new FrameReader(new ChunkedSource(Array.from(small, (b) => new Uint8Array([b])))),
    ),
    [payload(40, 9), payload(3, 10)],
  );
});

Deno.test("many frames in one chunk are returned one by one without copying", async () => {
  const frames = Array.from({ length: 100 }, (_, i) => payload(i % 13, i));
  const wire = concat(...frames.map((f) => encodeFrame(f)));
  const reader = new FrameReader(ReadableStream.from([wire]));
  const got: Uint8Array[] = [];
  for await (const f of reader) {
    if (f.byteLength > 0) assert.equal(f.buffer, wire.buffer, "a view into the chunk");
    got.push(f);
  }
  assert.deepEqual(got, frames);
});

Deno.test("returned frames stay valid while later frames are read", async () => {
  const frames = Array.from({ length: 2000 }, (_, i) => payload(50 + (i % 200), i));
  const wire = concat(...frames.map((f) => encodeFrame(f)));
  const source = new ChunkedSource(splitAt(wire, [1000, 7777, 100_000, 200_001]));
  const got: Uint8Array[] = [];
  for await (const f of new FrameReader(source)) got.push(f); // keep views, no copies
  assert.deepEqual(got, frames);
});

Deno.test("a large frame is read straight into one buffer of its size", async () => {
  const big = payload(1_000_000, 11);
  const wire = concat(encodeFrame(big), encodeFrame(payload(2, 12)));
  const source = new ChunkedSource(splitAt(wire, [10, 500_000]));
  const reader = new FrameReader(source);
  const first = await reader.read();
  assert.ok(first !== null);
  assert.equal(first.byteLength, 1_000_000);
  assert.equal(first.buffer.byteLength, 1_000_000, "exactly sized buffer");
  assert.deepEqual(first, big);
  assert.deepEqual(await reader.read(), payload(2, 12));
  assert.equal(await reader.read(), null);
});

Deno.test("a zero-length frame is a valid empty message", async () => {
  const reader = new FrameReader(ReadableStream.from([fromHex("00000000")]));
  const frame = await reader.read();
  assert.ok(frame !== null);
  assert.equal(frame.byteLength, 0);
  assert.equal(await reader.read(), null);
});

Deno.test("a length above the maximum is refused before allocating", async () => {
  // Announce 4 GiB - 1: allocating it would throw a RangeError or exhaust memory.
  for (
    const source of [
      ReadableStream.from([fromHex("ffffffff00")]),
      new ChunkedSource([fromHex("ffffffff00")]),
    ]
  ) {
    const reader = new FrameReader(source);
    await assert.rejects(reader.read(), (e: unknown) => {
      assert.ok(e instanceof FrameTooLargeError);
      assert.ok(e instanceof FrameError);
      assert.equal(e.length, 0xffffffff);
      assert.equal(e.maxLength, MAX_FRAME_LENGTH);
      assert.match(e.message, /4294967295 bytes exceeds the maximum of 16777216 bytes/);
      return true;
    });
  }
  const justOver = fromHex("01000001");
  await assert.rejects(
    new FrameReader(ReadableStream.from([justOver])).read(),
    (e: unknown) => e instanceof FrameTooLargeError && e.length === MAX_FRAME_LENGTH + 1,
  );
});

Deno.test("a frame of exactly the maximum length is accepted", async () => {
  const max = 64;
  const wire = encodeFrame(payload(max, 13), max);
  const frame = await new FrameReader(ReadableStream.from([wire]), { maxLength: max }).read();
  assert.deepEqual(frame, payload(max, 13));
  await assert.rejects(
    new FrameReader(ReadableStream.from([encodeFrame(payload(max + 1, 1))]), { maxLength: max })
      .read(),
    FrameTooLargeError,
  );
});

Deno.test("end of stream between frames is a clean null", async () => {
  const wire = concat(encodeFrame(payload(3, 1)), encodeFrame(payload(4, 2)));
  const reader = new FrameReader(new ChunkedSource([wire]));
  assert.deepEqual(await reader.read(), payload(3, 1));
  assert.deepEqual(await reader.read(), payload(4, 2));
  assert.equal(await reader.read(), null);
  assert.equal(await reader.read(), null, "stays at end");
  assert.equal(await new FrameReader(ReadableStream.from<Uint8Array>([])).read(), null);
});

Deno.test("end of stream inside a length prefix is a truncated-frame error", async () => {
  for (const partial of ["00", "0000", "000000"]) {
    for (
      const src of [ReadableStream.from([fromHex(partial)]), new ChunkedSource([fromHex(partial)])]
    ) {
      await assert.rejects(new FrameReader(src).read(), (e: unknown) => {
        assert.ok(e instanceof TruncatedFrameError);
        assert.equal(e.inHeader, true);
        assert.equal(e.received, partial.length / 2);
        assert.equal(e.expected, 4);
        return true;
      });
    }
  }
});

Deno.test("end of stream inside a payload is a truncated-frame error", async () => {
  const wire = encodeFrame(payload(10, 1)).subarray(0, 4 + 6);
  for (let cut = 4; cut <= wire.byteLength; cut++) {
    const chunks = splitAt(wire, [cut]);
    for (const src of [ReadableStream.from(chunks), new ChunkedSource(chunks)]) {
      await assert.rejects(new FrameReader(src).read(), (e: unknown) => {
        assert.ok(e instanceof TruncatedFrameError, String(e));
        assert.equal(e.inHeader, false);
        assert.equal(e.expected, 10);
        assert.equal(e.received, 6);
        assert.match(e.message, /6 of 10 bytes/);
        return true;
      });
    }
  }
  // A large frame cut short while being read directly into its buffer.
  const big = encodeFrame(payload(100_000, 2)).subarray(0, 50_004);
  await assert.rejects(
    new FrameReader(new ChunkedSource(splitAt(big, [20_000]))).read(),
    (e: unknown) => e instanceof TruncatedFrameError && e.received === 50_000,
  );
});

Deno.test("overlapping read calls are refused", async () => {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const reader = new FrameReader(readable);
  const first = reader.read();
  await assert.rejects(reader.read(), /while a read is pending/);
  const w = writable.getWriter();
  await w.write(encodeFrame(payload(2, 3)));
  assert.deepEqual(await first, payload(2, 3));
  await w.close();
  assert.equal(await reader.read(), null);
  reader.releaseLock();
});

Deno.test("writeFrame loops over partial writes", async () => {
  const written: number[] = [];
  const sink = {
    write(p: Uint8Array): Promise<number> {
      const n = Math.min(3, p.byteLength);
      written.push(...p.subarray(0, n));
      return Promise.resolve(n);
    },
  };
  await writeFrame(sink, payload(10, 4));
  assert.deepEqual(new Uint8Array(written), encodeFrame(payload(10, 4)));
  await assert.rejects(writeFrame(sink, new Uint8Array(5), 4), FrameTooLargeError);
});

// Issue 9 item 4: a 4-byte prefix announcing 16 MiB made the reader allocate 16 MiB at once.
Deno.test("an announced length reserves memory only as the frame's bytes arrive", async () => {
  const header = encodeFrame(new Uint8Array(0)).fill(0);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_LENGTH);
  const wire = concat(header, payload(5, 1));
  const source = new ChunkedSource([wire]);
  await assert.rejects(new FrameReader(source).read(), TruncatedFrameError);
  assert.ok(
    source.largestRequest <= 64 * 1024,
    `the reader asked to read ${source.largestRequest} bytes at once for a frame of 5 bytes`,
  );
  // The stream path assembles the same way: a 16 MiB frame one 1 MiB chunk at a time is intact.
  const big = payload(MAX_FRAME_LENGTH, 9);
  const chunks = splitAt(
    encodeFrame(big),
    Array.from({ length: 16 }, (_, i) => 3 + i * 1024 * 1024),
  );
  for (const src of [ReadableStream.from(chunks), new ChunkedSource(chunks)]) {
    const frame = await new FrameReader(src).read();
    assert.ok(frame !== null);
    assert.equal(frame.byteLength, MAX_FRAME_LENGTH);
    assert.equal(frame.buffer.byteLength, MAX_FRAME_LENGTH, "the grown buffer ends exactly sized");
    assert.ok(frame.every((b, i) => b === big[i]));
  }
});

Deno.test("partial is true only while a started frame waits for its remaining bytes", async () => {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const w = writable.getWriter();
  const reader = new FrameReader(readable);
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  let pending = reader.read();
  await tick();
  assert.equal(reader.partial, false, "waiting for a first byte is not a started frame");
  await w.write(fromHex("0000"));
  await tick();
  assert.equal(reader.partial, true, "half a length prefix");
  await w.write(fromHex("000301"));
  await tick();
  assert.equal(reader.partial, true, "a prefix and part of the payload");
  await w.write(fromHex("0203"));
  assert.deepEqual(await pending, fromHex("010203"));
  assert.equal(reader.partial, false);
  pending = reader.read();
  await w.close();
  assert.equal(await pending, null);
  assert.equal(reader.partial, false);
  reader.releaseLock();
});
