/**
 * Abuse tests of the raw Unix socket plugin server (design decision 9, wire.md §6.1–6.2):
 * random bytes, oversize and truncated frames, garbage protobuf, silent half frames, slow
 * trickles and connection floods. After each abuse a well-behaved client on another
 * connection must still get correct answers, and a protocol error must close only the
 * offending connection.
 *
 * The server runs in this process through `serveUnix` (for its `idleTimeoutMs` option).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer, type ServerHandle } from "../server.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import {
  encodeFrame,
  FrameReader,
  MAX_FRAME_LENGTH,
  writeFrame,
} from "../src/external/unix/frame.ts";
import { fromStruct, toStruct } from "../src/external/proto/struct.ts";
import { serveUnix, type UnixServeOptions } from "../src/external/unix/server.ts";
import { ArgumentValidator } from "../examples/plugins/argument_validator.ts";
import { ScriptedPlugin, sleep } from "./helpers/plugins.ts";

/** Every wait in this file is bounded by this. */
const WAIT_MS = 10_000;

/** The reference's reply to an unparseable frame (wire.md §6.2). */
const UNKNOWN_MESSAGE_HEX =
  "22270a14556e6b6e6f776e206d65737361676520747970651a0f554e4b4e4f574e5f4d455353414745";

function socketPath(label: string): string {
  return `/tmp/cpex-ub-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  return new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
}

/** Resolves like `promise`, or rejects after `ms` naming `what`; the timer is always cleared. */
async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A deterministic byte generator (xorshift32), so a failing run can be replayed. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes all of `bytes` to `conn`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.byteLength > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/**
 * Reads until the server closes the connection; returns how many bytes arrived first. A reset
 * (the server closed with our bytes unread) also counts as closed.
 */
async function readUntilClosed(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return total;
      total += n;
    }
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return total;
    throw error;
  }
}

function toolRequest(plugin: string, text: string, requestId = "req-ok"): Uint8Array {
  return encodeMessage("InvokeHookRequest", {
    hook_type: "tool_pre_invoke",
    plugin_name: plugin,
    payload: toStruct({ name: "echo", args: { text } }),
    context: { global_context: { request_id: requestId } },
  });
}

/** Asserts that a fresh connection gets correct answers to all three operations. */
async function assertServing(path: string): Promise<void> {
  const conn = await within(Deno.connect({ transport: "unix", path }), "connect");
  const reader = new FrameReader(conn);
  const call = async (request: Uint8Array): Promise<Uint8Array> => {
    await writeFrame(conn, request);
    const reply = await within(reader.read(), "well-behaved reply");
    assert.ok(reply !== null, "the server closed a well-behaved connection");
    return reply;
  };
  try {
    const allowed = decodeMessage("InvokeHookResponse", await call(toolRequest("ArgGuard", "ok")));
    assert.equal(fromStruct(allowed.result).continue_processing, true);
    const blocked = decodeMessage(
      "InvokeHookResponse",
      await call(toolRequest("ArgGuard", "this is far too long")),
    );
    const result = fromStruct(blocked.result);
    assert.equal(result.continue_processing, false);
    assert.equal((result.violation as Record<string, unknown>).code, "ARGUMENT_TOO_LONG");
    const config = decodeMessage(
      "GetPluginConfigResponse",
      await call(encodeMessage("GetPluginConfigRequest", { name: "argguard" })),
    );
    assert.equal(fromStruct(config.config).name, "ArgGuard");
    const configs = decodeMessage("GetPluginConfigsResponse", await call(new Uint8Array(0)));
    assert.equal(configs.configs?.length, 3);
  } finally {
    conn.close();
  }
}

/** Runs `fn` against a fresh in-process server on a unique socket. */
async function withServer(
  label: string,
  options: Partial<UnixServeOptions>,
  fn: (path: string, handle: ServerHandle) => Promise<void>,
): Promise<void> {
  const path = socketPath(label);
  const server = new ExternalPluginServer({
    plugins: [
      new ArgumentValidator({
        name: "ArgGuard",
        kind: "example",
        hooks: ["tool_pre_invoke"],
        config: { max_length: 10 },
      }),
      new ScriptedPlugin({ name: "Pa", hooks: ["tool_pre_invoke"] }),
      new ScriptedPlugin(
        { name: "Slow", hooks: ["tool_pre_invoke"], timeout: 5 },
        async (_payload, _ctx, { signal }) => {
          await sleep(600, signal);
          return {};
        },
      ),
    ],
  });
  try {
    const handle = await serveUnix(server, {
      path,
      printReady: false,
      handleSignals: false,
      ...options,
    });
    try {
      await fn(path, handle);
    } finally {
      await within(handle.close(), "handle.close()");
    }
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
}

Deno.test("unframed random bytes close only that connection", async () => {
  await withServer("random", {}, async (path) => {
    for (const seed of [1, 2, 3, 0xdeadbeef, 42]) {
      const conn = await Deno.connect({ transport: "unix", path });
      try {
        await writeAll(conn, randomBytes(8192, seed));
        // Whatever the first four bytes announced, the other clients keep being served.
        await assertServing(path);
      } finally {
        conn.close();
      }
    }
    await assertServing(path);
  });
});

Deno.test("framed random payloads each get exactly one reply and the stream stays in sync", async () => {
  await withServer("fuzz", {}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      for (let i = 0; i < 300; i++) {
        const payload = randomBytes(i % 97 === 0 ? 0 : (i * 37) % 512, i + 1);
        await writeFrame(conn, payload);
        const reply = await within(reader.read(), `reply to random frame ${i}`);
        assert.ok(reply !== null, `the server closed the connection at frame ${i}`);
      }
      // The next well-formed request on the same connection gets its own answer.
      await writeFrame(conn, toolRequest("ArgGuard", "fine", "after-fuzz"));
      const reply = await within(reader.read(), "reply after fuzz");
      const decoded = decodeMessage("InvokeHookResponse", reply!);
      assert.equal(decoded.plugin_name, "ArgGuard");
      assert.equal(fromStruct(decoded.result).continue_processing, true);
    } finally {
      conn.close();
    }
    await assertServing(path);
  });
});

Deno.test("length prefix over 16 MiB closes the connection without a reply", async () => {
  await withServer("oversize", {}, async (path) => {
    for (const prefix of ["01000001", "7fffffff", "ffffffff"]) {
      const conn = await Deno.connect({ transport: "unix", path });
      try {
        // The announced payload never comes: a server that allocated and waited would hang.
        await writeAll(conn, fromHex(prefix + "0a0141"));
        assert.equal(await within(readUntilClosed(conn), `close after ${prefix}`), 0);
      } finally {
        conn.close();
      }
      await assertServing(path);
    }
  });
});

Deno.test("many oversize prefixes at once are all refused while others are served", async () => {
  await withServer("oversize-many", {}, async (path) => {
    const conns = await Promise.all(
      Array.from({ length: 64 }, () => Deno.connect({ transport: "unix", path })),
    );
    try {
      await Promise.all(
        conns.map((c, i) => writeAll(c, encodeFrameHeader(MAX_FRAME_LENGTH + 1 + i))),
      );
      await assertServing(path);
      const received = await within(Promise.all(conns.map(readUntilClosed)), "all closed");
      assert.deepEqual(received, conns.map(() => 0));
    } finally {
      for (const c of conns) c.close();
    }
    await assertServing(path);
  });
});

Deno.test("a frame of exactly 16 MiB is accepted and answered", async () => {
  await withServer("max-frame", {}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      // 16 MiB of zero bytes is not valid protobuf (field number 0): "Unknown message type".
      const frame = encodeFrame(new Uint8Array(MAX_FRAME_LENGTH));
      const [, reply] = await within(Promise.all([writeAll(conn, frame), reader.read()]), "16 MiB");
      assert.equal(hex(reply!), UNKNOWN_MESSAGE_HEX);
    } finally {
      conn.close();
    }
    await assertServing(path);
  });
});

Deno.test("zero-length frames are valid requests, also pipelined in one write", async () => {
  await withServer("zero", {}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      await writeAll(conn, new Uint8Array(4 * 100));
      for (let i = 0; i < 100; i++) {
        const reply = await within(reader.read(), `reply ${i}`);
        const decoded = decodeMessage("GetPluginConfigsResponse", reply!);
        assert.equal(decoded.configs?.length, 3);
      }
    } finally {
      conn.close();
    }
    await assertServing(path);
  });
});

Deno.test("a frame truncated by the client's close gets no reply and no crash", async () => {
  await withServer("truncated", {}, async (path) => {
    const request = encodeFrame(toolRequest("ArgGuard", "ok"));
    for (const cut of [1, 2, 3, 4, 5, Math.floor(request.byteLength / 2), request.byteLength - 1]) {
      const conn = await Deno.connect({ transport: "unix", path });
      try {
        await writeAll(conn, request.subarray(0, cut));
        await conn.closeWrite();
        assert.equal(await within(readUntilClosed(conn), `close after ${cut} bytes`), 0);
      } finally {
        conn.close();
      }
    }
    // And a client that just vanishes mid-frame.
    const conn = await Deno.connect({ transport: "unix", path });
    await writeAll(conn, request.subarray(0, 7));
    conn.close();
    await assertServing(path);
  });
});

Deno.test("garbage protobuf of valid length answers 'Unknown message type' and keeps the connection", async () => {
  await withServer("garbage", {}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      for (const garbage of ["ffffffffff", "0a05414243", "120541424344", "08" + "ff".repeat(11)]) {
        await writeFrame(conn, fromHex(garbage));
        const reply = await within(reader.read(), `reply to ${garbage}`);
        assert.equal(hex(reply!), UNKNOWN_MESSAGE_HEX, garbage);
      }
      // Same connection, next request: answered normally.
      await writeFrame(conn, encodeMessage("GetPluginConfigRequest", { name: "ArgGuard" }));
      const config = decodeMessage("GetPluginConfigResponse", (await within(reader.read(), "c"))!);
      assert.equal(config.found, true);
    } finally {
      conn.close();
    }
    await assertServing(path);
  });
});

// Issue 9 item 10: the error echoed a 6 MiB plugin name three times, the reply passed 16 MiB and
// the connection was closed without an answer.
Deno.test("an error reply echoing a 6 MiB plugin name is answered, truncated, on the same connection", async () => {
  await withServer("hugename", {}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      const name = "N".repeat(6 * 1024 * 1024);
      await writeFrame(conn, toolRequest(name, "ok"));
      const reply = await within(reader.read(), "the error reply");
      assert.ok(reply !== null, "the connection was closed without an answer");
      assert.ok(reply.byteLength < 64 * 1024, `a reply of ${reply.byteLength} bytes`);
      const decoded = decodeMessage("InvokeHookResponse", reply);
      assert.match(
        String(decoded.error?.message),
        /^Unable to find tool_pre_invoke for plugin N{100}/,
      );
      assert.match(String(decoded.error?.message), /\.\.\. \[\d+ more characters\]$/);
      assert.ok(decoded.plugin_name!.length < 512);
      assert.ok(decoded.error!.plugin_name!.length < 512);
      // Same connection, next request: answered normally.
      await writeFrame(conn, toolRequest("ArgGuard", "ok"));
      const next = decodeMessage("InvokeHookResponse", (await within(reader.read(), "next"))!);
      assert.equal(fromStruct(next.result).continue_processing, true);
    } finally {
      conn.close();
    }
  });
});

Deno.test("a hook result past the 16 MiB frame limit is answered with a small REPLY_TOO_LARGE error", async () => {
  const path = socketPath("huge-result");
  const server = new ExternalPluginServer({
    plugins: [
      new ScriptedPlugin({ name: "Huge", hooks: ["tool_pre_invoke"] }, () => ({
        modified_payload: { name: "echo", args: { text: "x".repeat(MAX_FRAME_LENGTH) } },
      })),
    ],
  });
  try {
    const handle = await serveUnix(server, { path, printReady: false, handleSignals: false });
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      await writeFrame(conn, toolRequest("Huge", "ok"));
      const reply = await within(reader.read(), "the reply");
      assert.ok(reply !== null, "the connection was closed without an answer");
      const decoded = decodeMessage("InvokeHookResponse", reply);
      assert.equal(decoded.error?.code, "REPLY_TOO_LARGE");
      assert.match(String(decoded.error?.message), /^Reply of \d+ bytes exceeds the frame limit/);
      await writeFrame(conn, new Uint8Array(0));
      assert.ok((await within(reader.read(), "next reply")) !== null, "the connection was closed");
    } finally {
      conn.close();
      await within(handle.close(), "handle.close()");
    }
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
});

// wire.md §6.2: "a wire-type mismatch on a known field number is treated as an unknown field by
// upb, not as an error". `08 02 50 61` is field 1 as a varint (2), then field 10 as a varint
// (0x61): the reference parses both request types with empty fields and, the frame being longer
// than 2 bytes, answers "Unknown message type". protobufjs's generated decoders ignore the wire
// type and read field 1 as the string "Pa", so we answer with plugin Pa's config instead.
Deno.test("wire-type mismatch on field 1 is an unknown field, not a name (reference parity)", async () => {
  await withServer("wiretype", {}, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      await writeFrame(conn, fromHex("08025061"));
      const reply = await within(reader.read(), "reply to 08 02 50 61");
      assert.equal(hex(reply!), UNKNOWN_MESSAGE_HEX);
    } finally {
      conn.close();
    }
  });
});

Deno.test("half a frame then silence: others are served, the idle connection is closed", async () => {
  const IDLE_MS = 300;
  await withServer("silent", { idleTimeoutMs: IDLE_MS }, async (path) => {
    const silent = await Deno.connect({ transport: "unix", path });
    try {
      const started = Date.now();
      await writeAll(silent, encodeFrame(toolRequest("ArgGuard", "ok")).subarray(0, 9));
      const closed = readUntilClosed(silent);
      await assertServing(path);
      await assertServing(path);
      assert.equal(await within(closed, "idle close"), 0);
      assert.ok(Date.now() - started >= IDLE_MS - 50, "closed before the idle timeout");
    } finally {
      silent.close();
    }
    await assertServing(path);
  });
});

Deno.test("a frame trickled slower than the idle timeout gets the connection closed", async () => {
  const IDLE_MS = 300;
  await withServer("trickle", { idleTimeoutMs: IDLE_MS }, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const frame = encodeFrame(toolRequest("ArgGuard", "ok"));
    const closed = readUntilClosed(conn);
    let sent = 0;
    let closedEarly = false;
    try {
      // One byte every 50 ms would take several seconds for the whole frame.
      const deadline = Date.now() + 5_000;
      while (sent < frame.byteLength && Date.now() < deadline) {
        try {
          sent += await conn.write(frame.subarray(sent, sent + 1));
        } catch {
          closedEarly = true; // the server already hung up
          break;
        }
        if (await settlesWithin(closed, 50)) {
          closedEarly = true;
          break;
        }
      }
      assert.ok(closedEarly, `the server waited for all ${frame.byteLength} trickled bytes`);
      assert.equal(await within(closed, "trickle close"), 0);
    } finally {
      conn.close();
      await closed.catch(() => {});
    }
    await assertServing(path);
  });
});

// The idle timeout is about waiting for a request (the reference's 300 s read timeout). A hook
// that runs longer than it (within the plugin's own timeout) must still get its reply written.
Deno.test("a hook running longer than the idle timeout still gets its reply", async () => {
  await withServer("busy", { idleTimeoutMs: 200 }, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      await writeFrame(conn, toolRequest("Slow", "ok"));
      const reply = await within(reader.read(), "slow hook reply");
      assert.ok(reply !== null, "the connection was closed while the hook was running");
      const decoded = decodeMessage("InvokeHookResponse", reply);
      assert.equal(fromStruct(decoded.result).continue_processing, true);
    } finally {
      conn.close();
    }
  });
});

// ...but a client that stops reading must not pin a connection (and its pending write) forever.
Deno.test("a client that never reads its replies is dropped after the idle timeout", async () => {
  const REQUESTS = 4_000;
  await withServer("noread", { idleTimeoutMs: 300 }, async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      // Thousands of pipelined config-list requests; their replies (~1 KiB each) fill the
      // socket buffers, so the server's write blocks.
      await writeAll(conn, new Uint8Array(4 * REQUESTS));
      await assertServing(path);
      await sleep(800);
      await assertServing(path);
      const received = await within(readUntilClosed(conn), "server drops the non-reader");
      const replyBytes = 4 + (await configsReplyLength(path));
      assert.ok(received >= replyBytes, "some replies were written before the buffers filled");
      assert.ok(
        received < REQUESTS * replyBytes,
        `the server waited for the reader instead of dropping it (${received} bytes)`,
      );
    } finally {
      conn.close();
    }
    await assertServing(path);
  });
});

Deno.test("1,000 connections opened and dropped leave the server serving", async () => {
  await withServer("flood", {}, async (path) => {
    const BATCH = 100;
    const half = encodeFrame(toolRequest("ArgGuard", "ok"));
    for (let batch = 0; batch < 10; batch++) {
      const conns = await within(
        Promise.all(Array.from({ length: BATCH }, () => Deno.connect({ transport: "unix", path }))),
        `batch ${batch} connect`,
      );
      // A third say nothing, a third send half a request, a third send a request and leave.
      await Promise.all(conns.map(async (conn, i) => {
        try {
          if (i % 3 === 1) await writeAll(conn, half.subarray(0, 6));
          if (i % 3 === 2) await writeAll(conn, half);
        } catch {
          // The server may already have dropped it; that is fine.
        }
      }));
      for (const conn of conns) conn.close();
      await assertServing(path);
    }
    await assertServing(path);
  });
});

/** Length of a GetPluginConfigsResponse payload, asked on a fresh connection. */
async function configsReplyLength(path: string): Promise<number> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await writeFrame(conn, new Uint8Array(0));
    const reply = await within(new FrameReader(conn).read(), "configs reply");
    return reply!.byteLength;
  } finally {
    conn.close();
  }
}

/** True when `promise` settles within `ms` (the timer is cleared either way). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

function encodeFrameHeader(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}
