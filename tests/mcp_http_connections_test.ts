/**
 * Connections to the MCP HTTP server (issue 9, item 3): running out of descriptors does not
 * kill it and it serves again once they free up; connections over the cap are refused with
 * 503; idle connections and ones trickling a request head are closed within a bound.
 *
 * @module
 */
import assert from "node:assert/strict";
import { McpServerProcess } from "./helpers/mcp_http_process.ts";
import { startHttpFixture } from "./helpers/mcp_fixtures.ts";
import { within } from "./helpers/subprocess.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Opens up to `count` TCP connections (each bounded: the backlog may be full). */
async function connectMany(port: number, count: number): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    const attempt = Deno.connect({ hostname: "127.0.0.1", port });
    try {
      conns.push(await within(attempt, "connect", 2_000));
    } catch {
      attempt.then((c) => c.close(), () => {}); // late or refused: never kept
    }
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // Closed by the server.
    }
  }
}

/** GET /health until it answers 200 (each try bounded); false if it never does in `ms`. */
async function healthy(origin: string, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const client = Deno.createHttpClient({});
    try {
      const res = await fetch(`${origin}/health`, { client, signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return true;
    } catch {
      // Not yet.
    } finally {
      client.close();
    }
    await sleep(200);
  }
  return false;
}

/** Resolves with how long until the server closes `conn` (null if still open after `ms`). */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<number | null> {
  const started = performance.now();
  const buf = new Uint8Array(1024);
  const read = (async () => {
    try {
      while (await conn.read(buf) !== null) { /* an error answer, then the close */ }
    } catch {
      // Reset: closed too.
    }
    return performance.now() - started;
  })();
  try {
    return await within(read, "close", ms);
  } catch {
    return null;
  }
}

Deno.test("out of descriptors, the MCP server keeps running and serves again when they free up", async () => {
  // 64 descriptors: the runtime needs about 20, so 100 idle connections exhaust them.
  const server = await McpServerProcess.start(
    { idleTimeoutMs: 60_000, headersTimeoutMs: 60_000 },
    { nofile: 64 },
  );
  try {
    const conns = await connectMany(server.port, 100);
    await sleep(1_500); // the server tries to accept them all and hits EMFILE
    assert.ok(server.alive, "the server survived running out of descriptors");
    closeAll(conns);
    assert.ok(await healthy(server.origin, 15_000), "the server serves again");
    assert.ok(server.alive);
  } finally {
    const stderr = await server.stop();
    assert.doesNotMatch(stderr, /Uncaught/);
    // The test did exhaust the descriptors (else it proves nothing).
    assert.match(stderr, /accept failed \(Too many open files/);
  }
});

Deno.test("connections over the cap get 503 and are closed; the ones in the cap are served", async () => {
  const f = await startHttpFixture({ maxConnections: 4 });
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: f.port }));
    }
    await sleep(300); // accepted
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: f.port });
    conns.push(extra);
    const buf = new Uint8Array(4096);
    let text = "";
    for (let n; (n = await within(extra.read(buf), "503 answer")) !== null;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(text, /^HTTP\/1\.1 503 /);
    assert.match(text, /Too many connections/);
    closeAll(conns);
    conns.length = 0;
    await sleep(300);
    const res = await fetch(`http://127.0.0.1:${f.port}/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    closeAll(conns);
    await f.close();
  }
});

Deno.test("idle connections and slowly trickled request heads are closed within a bound", async () => {
  const f = await startHttpFixture({ headersTimeoutMs: 1_000, idleTimeoutMs: 1_500 });
  const conns: Deno.Conn[] = [];
  let trickling = true;
  try {
    // 20 silent connections, 20 sending one byte of a request head every 100 ms, and 5 that
    // complete a request and then stay idle on keep-alive.
    const silent = await connectMany(f.port, 20);
    const slow = await connectMany(f.port, 20);
    const kept = await connectMany(f.port, 5);
    conns.push(...silent, ...slow, ...kept);
    const head = new TextEncoder().encode(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${f.port}\r\n${"x-pad: y\r\n".repeat(200)}`,
    );
    const trickles = slow.map(async (c) => {
      for (let i = 0; trickling && i < head.length; i++) {
        try {
          await c.write(head.subarray(i, i + 1));
        } catch {
          return;
        }
        await sleep(100);
      }
    });
    for (const c of kept) {
      await c.write(
        new TextEncoder().encode(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${f.port}\r\n\r\n`),
      );
    }
    const times = await Promise.all(conns.map((c) => closedWithin(c, 8_000)));
    trickling = false;
    await Promise.all(trickles);
    const open = times.filter((t) => t === null).length;
    assert.equal(open, 0, `${open} of ${conns.length} connections still open after 8 s`);
    // Still serving.
    const res = await fetch(`http://127.0.0.1:${f.port}/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    trickling = false;
    closeAll(conns);
    await f.close();
  }
});
