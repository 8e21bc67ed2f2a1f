/**
 * Resource limits of the raw Unix socket plugin server (issue 9, items 3 and 4): it survives
 * running out of file descriptors, caps its connections, closes idle and slow (trickling)
 * connections within their bounds, and a frame's announced length reserves no memory before its
 * bytes arrive. Each test keeps a well-behaved client served throughout.
 *
 * The descriptor and memory tests run `examples/unix_server.ts` as a subprocess with exactly the
 * transport's three permission flags (`--allow-read=P --allow-write=P --allow-net=unix:P`), the
 * first under `prlimit --nofile`; the others serve in this process through `serveUnix` (for its
 * limit options).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer } from "../server.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import {
  encodeFrame,
  FrameReader,
  MAX_FRAME_LENGTH,
  writeFrame,
} from "../src/external/unix/frame.ts";
import { fromStruct, toStruct } from "../src/external/proto/struct.ts";
import {
  resolveUnixLimits,
  serveUnix,
  UNIX_FRAME_TIMEOUT_MS,
  UNIX_IDLE_TIMEOUT_MS,
  UNIX_MAX_CONNECTIONS,
  type UnixServeOptions,
} from "../src/external/unix/server.ts";
import { ArgumentValidator } from "../examples/plugins/argument_validator.ts";
import { Subprocess, within } from "./helpers/subprocess.ts";

const EXAMPLE = new URL("../examples/unix_server.ts", import.meta.url).pathname;
/** Bound on start-up of a subprocess (includes a possible type check). */
const START_MS = 60_000;

function socketPath(label: string): string {
  return `/tmp/cpex-ul-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function toolRequest(plugin: string, query: string): Uint8Array {
  return encodeMessage("InvokeHookRequest", {
    hook_type: "tool_pre_invoke",
    plugin_name: plugin,
    payload: toStruct({ name: "search", args: { query } }),
    context: { global_context: { request_id: "limits" } },
  });
}

/** One hook call on a fresh connection: the decoded `continue_processing`. */
async function callOnce(path: string, plugin: string, ms = 10_000): Promise<boolean> {
  const conn = await within(Deno.connect({ transport: "unix", path }), "connect", ms);
  try {
    await writeFrame(conn, toolRequest(plugin, "ok"));
    const reply = await within(new FrameReader(conn).read(), "reply", ms);
    assert.ok(reply !== null, "the server closed a well-behaved connection");
    const result = fromStruct(decodeMessage("InvokeHookResponse", reply).result);
    return result.continue_processing as boolean;
  } finally {
    conn.close();
  }
}

/** Resolves once the server closed `conn` (end of stream or reset); bytes read are ignored. */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(1024);
  try {
    while ((await conn.read(buf)) !== null) {
      // Nothing is expected; keep reading until the close.
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  }
}

/** The example Unix server as a subprocess with exactly its three flags (and `wrapper`). */
function startExample(path: string, wrapper: string[] = []): Subprocess {
  return new Subprocess([
    "run",
    "--no-prompt",
    `--allow-read=${path}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
    EXAMPLE,
    path,
  ], wrapper);
}

async function stopExample(server: Subprocess, path: string): Promise<string> {
  server.kill("SIGTERM");
  const { stderr } = await server.finish();
  await Deno.remove(path).catch(() => {});
  return stderr;
}

/** VmRSS and VmSize of `pid` in MiB (via `cat`: Deno reads /proc/PID only with --allow-all). */
async function memory(pid: number): Promise<{ rss: number; size: number }> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const status = new TextDecoder().decode(out.stdout);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, size: kib("VmSize") / 1024 };
}

Deno.test("a server out of file descriptors accepts again once connections close", async () => {
  const path = socketPath("fd");
  // About 25 descriptors are in use at start; 64 runs out after a few dozen connections.
  const server = startExample(path, ["prlimit", "--nofile=64"]);
  const held: Deno.Conn[] = [];
  try {
    await within(server.ready, "READY", START_MS);
    assert.equal(await callOnce(path, "ArgumentValidator"), true);
    // Hold idle connections until the server can open no more (the rest wait in its backlog).
    for (let i = 0; i < 100; i++) held.push(await Deno.connect({ transport: "unix", path }));
    const waiting = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(waiting);
    try {
      await writeFrame(waiting, toolRequest("ArgumentValidator", "ok"));
      const reply = reader.read();
      const early = await Promise.race([reply.then(() => "answered"), sleep(500)]);
      assert.notEqual(early, "answered", "the descriptor limit was not reached");
      for (const conn of held.splice(0)) conn.close();
      // The server accepts again: the waiting request is answered, and new clients are served.
      const answer = await within(reply, "the waiting client's reply after the close", 20_000);
      assert.ok(answer !== null, "the waiting client was closed instead of answered");
      assert.equal(await callOnce(path, "ArgumentValidator", 20_000), true);
    } finally {
      waiting.close();
    }
    const stderr = await stopExample(server, path);
    assert.match(stderr, /accept failed \(Too many open files/);
  } finally {
    for (const conn of held) conn.close();
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("frame headers announcing 16 MiB reserve no memory and the server keeps answering", async () => {
  const path = socketPath("mem");
  const server = startExample(path);
  const conns: Deno.Conn[] = [];
  const N = 800;
  try {
    await within(server.ready, "READY", START_MS);
    assert.equal(await callOnce(path, "ArgumentValidator"), true);
    const before = await memory(server.child.pid);
    // Each announces the largest frame and sends one byte of it (4 + 1 bytes in all).
    const header = encodeFrame(new Uint8Array(1));
    new DataView(header.buffer).setUint32(0, MAX_FRAME_LENGTH);
    for (let i = 0; i < N; i++) {
      const conn = await Deno.connect({ transport: "unix", path });
      conns.push(conn);
      await conn.write(header);
    }
    // All of them reached the server: a later connection is served after them.
    const started = performance.now();
    assert.equal(await callOnce(path, "ArgumentValidator"), true);
    const answeredMs = performance.now() - started;
    await sleep(500); // let every connection's read of its header land
    const after = await memory(server.child.pid);
    const announcedMiB = N * 16;
    // Unfixed, each header reserved its 16 MiB (VmSize grew by ~N x 16 MiB).
    assert.ok(
      after.size - before.size < 1024,
      `virtual memory grew ${(after.size - before.size).toFixed(0)} MiB for ${N} headers ` +
        `announcing ${announcedMiB} MiB`,
    );
    assert.ok(
      after.rss - before.rss < 256,
      `RSS grew ${(after.rss - before.rss).toFixed(0)} MiB for ${N} five-byte requests`,
    );
    assert.ok(answeredMs < 5_000, `a client waited ${answeredMs.toFixed(0)} ms for its answer`);
  } finally {
    for (const conn of conns) conn.close();
    await stopExample(server, path).catch(() => {});
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
  }
});

/** Serves the example ArgumentValidator in this process with `options` while `fn` runs. */
async function withServer(
  label: string,
  options: Partial<UnixServeOptions>,
  fn: (path: string) => Promise<void>,
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
      await fn(path);
    } finally {
      await within(handle.close(), "handle.close()");
    }
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
}

Deno.test("slow senders: a trickled frame and an idle connection are closed within their bounds", async () => {
  const IDLE_MS = 3_000;
  const FRAME_MS = 300;
  await withServer("slow", { idleTimeoutMs: IDLE_MS, frameTimeoutMs: FRAME_MS }, async (path) => {
    const idle = await Deno.connect({ transport: "unix", path });
    const trickler = await Deno.connect({ transport: "unix", path });
    const started = performance.now();
    let idleClosedMs = 0;
    let trickleClosedMs = 0;
    const idleClosed = closedByServer(idle).then(() => {
      idleClosedMs = performance.now() - started;
    });
    const trickleClosed = closedByServer(trickler).then(() => {
      trickleClosedMs = performance.now() - started;
    });
    const frame = encodeFrame(toolRequest("ArgGuard", "ok"));
    const trickle = (async () => {
      // One byte every 20 ms: the frame would take well over a second to arrive.
      for (let sent = 0; sent < frame.byteLength && trickleClosedMs === 0; sent++) {
        try {
          await trickler.write(frame.subarray(sent, sent + 1));
        } catch {
          return; // the server hung up
        }
        await sleep(20);
      }
    })();
    try {
      // A legitimate client is served all along.
      let served = 0;
      while (idleClosedMs === 0) {
        assert.equal(await callOnce(path, "ArgGuard"), true);
        served++;
        await sleep(50);
        assert.ok(performance.now() - started < 20_000, "the idle connection stayed open");
      }
      await within(Promise.all([idleClosed, trickleClosed, trickle]), "both closes");
      assert.ok(served > 3, `only ${served} calls were served meanwhile`);
      assert.ok(
        trickleClosedMs > 0 && trickleClosedMs < IDLE_MS - 500,
        `the trickled frame was closed after ${trickleClosedMs.toFixed(0)} ms ` +
          `(frame bound ${FRAME_MS} ms, idle bound ${IDLE_MS} ms)`,
      );
      assert.ok(
        idleClosedMs >= IDLE_MS - 50,
        `idle closed early (${idleClosedMs.toFixed(0)} ms)`,
      );
    } finally {
      idle.close();
      trickler.close();
    }
    assert.equal(await callOnce(path, "ArgGuard"), true);
  });
});

Deno.test("connections beyond maxConnections are closed at once and a freed slot serves again", async () => {
  const MAX = 4;
  await withServer("cap", { maxConnections: MAX }, async (path) => {
    const held: Deno.Conn[] = [];
    try {
      for (let i = 0; i < MAX; i++) held.push(await Deno.connect({ transport: "unix", path }));
      // A request on each proves all four were accepted (and keeps them open).
      for (const conn of held) {
        await writeFrame(conn, toolRequest("ArgGuard", "ok"));
        assert.ok(await within(new FrameReader(conn).read(), "held reply") !== null);
      }
      const extra = await Deno.connect({ transport: "unix", path });
      try {
        await within(closedByServer(extra), "the connection over the cap to be closed");
      } finally {
        extra.close();
      }
      held.pop()!.close();
      // The slot frees once the server has seen the close.
      let served = false;
      for (let attempt = 0; attempt < 100 && !served; attempt++) {
        served = await callOnce(path, "ArgGuard").catch(() => false);
        if (!served) await sleep(20);
      }
      assert.ok(served, "a freed slot did not serve a new client");
    } finally {
      for (const conn of held) conn.close();
    }
  });
});

Deno.test("limits come from the options, else PLUGINS_UNIX_* variables; a bad value is refused before binding", async () => {
  const names = [
    "PLUGINS_UNIX_MAX_CONNECTIONS",
    "PLUGINS_UNIX_IDLE_TIMEOUT",
    "PLUGINS_UNIX_FRAME_TIMEOUT",
  ];
  const saved = names.map((name) => Deno.env.get(name));
  try {
    for (const name of names) Deno.env.delete(name);
    assert.deepEqual(resolveUnixLimits({}), {
      maxConnections: UNIX_MAX_CONNECTIONS,
      idleMs: UNIX_IDLE_TIMEOUT_MS,
      frameMs: UNIX_FRAME_TIMEOUT_MS,
    });
    assert.deepEqual([UNIX_MAX_CONNECTIONS, UNIX_IDLE_TIMEOUT_MS, UNIX_FRAME_TIMEOUT_MS], [
      1024,
      300_000,
      30_000,
    ]);
    Deno.env.set("PLUGINS_UNIX_MAX_CONNECTIONS", "64");
    Deno.env.set("PLUGINS_UNIX_IDLE_TIMEOUT", "60");
    Deno.env.set("PLUGINS_UNIX_FRAME_TIMEOUT", "2.5");
    assert.deepEqual(resolveUnixLimits({}), { maxConnections: 64, idleMs: 60_000, frameMs: 2_500 });
    assert.equal(resolveUnixLimits({ maxConnections: 8 }).maxConnections, 8, "the option wins");
    Deno.env.set("PLUGINS_UNIX_FRAME_TIMEOUT", "soon");
    assert.throws(
      () => resolveUnixLimits({}),
      /PLUGINS_UNIX_FRAME_TIMEOUT must be a positive number, got 'soon'/,
    );
    Deno.env.delete("PLUGINS_UNIX_FRAME_TIMEOUT");
    assert.throws(() => resolveUnixLimits({ maxConnections: 0 }), /maxConnections must be/);
    const path = socketPath("badlimit");
    const server = new ExternalPluginServer({ plugins: [] });
    try {
      await assert.rejects(
        serveUnix(server, { path, printReady: false, handleSignals: false, idleTimeoutMs: -1 }),
        /idleTimeoutMs must be a positive number, got '-1'/,
      );
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "nothing was bound");
    } finally {
      await server.close();
    }
  } finally {
    names.forEach((name, i) => {
      if (saved[i] === undefined) Deno.env.delete(name);
      else Deno.env.set(name, saved[i]!);
    });
  }
});
