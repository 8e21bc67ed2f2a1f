/**
 * Connection limits of the gRPC server (issue 9 item 3), each against our server as a
 * subprocess with its exact flags (`tests/helpers/grpc_limits_child.ts`): it serves again after
 * running out of file descriptors, refuses connections past its cap, and closes connections
 * that stay silent, trickle the HTTP/2 preface, stall the TLS handshake or sit idle, while a
 * real client is served.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PluginContext } from "../mod.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { connectPlugin, freePort, Subprocess, within } from "./helpers/grpc_fixtures.ts";
import { createTestPki } from "./helpers/tls_pki.ts";
import { channelCredentials } from "../src/external/grpc/tls.ts";
import { loadGrpcJs } from "../src/external/grpc/grpc_js.ts";

const CHILD = new URL("./helpers/grpc_limits_child.ts", import.meta.url).pathname;
const WAIT_MS = 60_000;
const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** An empty SETTINGS frame. */
const SETTINGS = new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]);

function startChild(
  port: number,
  limits: Record<string, number>,
  options: { wrapper?: string[]; tls?: Record<string, string>; read?: string[] } = {},
): Subprocess {
  return new Subprocess([
    "run",
    "--no-prompt",
    `--allow-net=127.0.0.1:${port}`,
    GRPC_ENV_FLAG,
    ...(options.read?.length ? [`--allow-read=${options.read.join(",")}`] : []),
    CHILD,
    `127.0.0.1:${port}`,
    JSON.stringify(limits),
    ...(options.tls ? [JSON.stringify(options.tls)] : []),
  ], options.wrapper);
}

async function stopChild(child: Subprocess): Promise<void> {
  child.kill("SIGTERM");
  const { status, stderr } = await child.finish();
  assert.equal(status.code, 0, stderr);
}

/** One real hook call through our gateway client; retried for up to `ms`. */
async function servedWithin(address: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const plugin = await connectPlugin(address, { name: "ArgumentValidator" });
      try {
        const result = await plugin.handleHook(
          "tool_pre_invoke",
          { name: "search", args: { query: "ok" } },
          new PluginContext({ request_id: "r" }),
          { signal: new AbortController().signal, extensions: null },
        );
        assert.equal(result.continue_processing, true);
        return;
      } finally {
        await plugin.shutdown();
      }
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`not served within ${ms} ms: ${last}`);
}

/** Resolves with the ms until the server closed `conn` (EOF or reset), or null after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<number | null> {
  const start = Date.now();
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  const closed = (async () => {
    try {
      while ((await conn.read(buffer)) !== null) { /* server frames */ }
    } catch {
      // Reset.
    }
    return Date.now() - start;
  })();
  try {
    return await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
  }
}

Deno.test("gRPC server serves again after running out of file descriptors", async () => {
  const port = freePort();
  const child = startChild(port, {}, { wrapper: ["prlimit", "--nofile=64"] });
  const held: Deno.Conn[] = [];
  try {
    await within(child.ready, "READY", WAIT_MS);
    await servedWithin(`127.0.0.1:${port}`, 10_000);
    // More connections than the server has descriptors: its accept fails with EMFILE.
    for (let i = 0; i < 100; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await new Promise((r) => setTimeout(r, 1_000));
    closeAll(held);
    await servedWithin(`127.0.0.1:${port}`, 15_000);
    await stopChild(child);
  } finally {
    closeAll(held);
    child.kill("SIGKILL");
    await child.finish().catch(() => {});
  }
});

Deno.test("gRPC server closes connections past its cap at once, and serves again below it", async () => {
  const port = freePort();
  const child = startChild(port, { maxConnections: 4, handshakeTimeoutMs: 30_000 });
  const held: Deno.Conn[] = [];
  try {
    await within(child.ready, "READY", WAIT_MS);
    for (let i = 0; i < 4; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await new Promise((r) => setTimeout(r, 500));
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    held.push(extra);
    assert.notEqual(await closedWithin(extra, 5_000), null, "the fifth connection is closed");
    for (const conn of held.slice(0, 4)) {
      assert.equal(await closedWithin(conn, 100), null, "the first four stay open");
    }
    closeAll(held);
    await servedWithin(`127.0.0.1:${port}`, 10_000);
    await stopChild(child);
  } finally {
    closeAll(held);
    child.kill("SIGKILL");
    await child.finish().catch(() => {});
  }
});

Deno.test("gRPC server closes silent, trickling and idle connections within its bounds while serving", async () => {
  const port = freePort();
  const child = startChild(port, { handshakeTimeoutMs: 1_000, idleTimeoutMs: 1_500 });
  const conns: Deno.Conn[] = [];
  let trickling = true;
  try {
    await within(child.ready, "READY", WAIT_MS);
    const silent: Deno.Conn[] = [];
    const trickle: Deno.Conn[] = [];
    const idle: Deno.Conn[] = [];
    for (let i = 0; i < 20; i++) silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    for (let i = 0; i < 20; i++) trickle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    for (let i = 0; i < 10; i++) idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    conns.push(...silent, ...trickle, ...idle);
    for (const conn of idle) {
      await conn.write(PREFACE);
      await conn.write(SETTINGS);
    }
    // One byte of the preface every 200 ms: it would take 4.8 s to finish.
    const tricklers = trickle.map(async (conn) => {
      for (let i = 0; trickling && i < PREFACE.length; i++) {
        try {
          await conn.write(PREFACE.subarray(i, i + 1));
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    const closing = conns.map((conn) => closedWithin(conn, 8_000));
    await servedWithin(`127.0.0.1:${port}`, 5_000);
    const times = await Promise.all(closing);
    trickling = false;
    await Promise.all(tricklers);
    const late = times.map((t, i) => t === null ? i : -1).filter((i) => i >= 0);
    assert.deepEqual(late, [], "every slow connection was closed within 8 s");
    await stopChild(child);
  } finally {
    trickling = false;
    closeAll(conns);
    child.kill("SIGKILL");
    await child.finish().catch(() => {});
  }
});

Deno.test("gRPC TLS server closes connections that never finish the handshake while serving", async () => {
  await using pki = await createTestPki();
  const port = freePort();
  const tls = { certfile: pki.serverCert, keyfile: pki.serverKey, client_auth: "none" };
  const child = startChild(port, { handshakeTimeoutMs: 1_000 }, {
    tls,
    read: [pki.serverCert, pki.serverKey],
  });
  const conns: Deno.Conn[] = [];
  try {
    await within(child.ready, "READY", WAIT_MS);
    for (let i = 0; i < 20; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    const closing = conns.map((conn) => closedWithin(conn, 8_000));
    const grpc = await loadGrpcJs();
    const setup = await channelCredentials(grpc, "127.0.0.1", { ca_bundle: pki.caCert });
    const client = new grpc.Client(`127.0.0.1:${port}`, setup.credentials, {
      "grpc.enable_http_proxy": 0,
      ...setup.options,
    });
    try {
      const bytes = await new Promise<number[]>((resolve, reject) =>
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (error, value) => error ? reject(error) : resolve([...value!]),
        )
      );
      assert.deepEqual(bytes, [0x08, 0x01], "a TLS client is served meanwhile");
    } finally {
      client.close();
    }
    const times = await Promise.all(closing);
    assert.ok(times.every((t) => t !== null), `closed: ${JSON.stringify(times)}`);
    await stopChild(child);
  } finally {
    closeAll(conns);
    child.kill("SIGKILL");
    await child.finish().catch(() => {});
  }
});
