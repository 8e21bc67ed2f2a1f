/**
 * Timed-out and cancelled MCP calls give their resources back on both ends (issue 9, item 5:
 * 50 timed-out calls left 50 descriptors open in the gateway and 50 in the server, which kept
 * them after the gateway shut down).
 *
 * @module
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { PluginContext } from "../src/context.ts";
import { McpExternalPlugin } from "../src/external/mcp/client.ts";
import { createMcpFetch, MAX_IDLE_CONNECTIONS } from "../src/external/mcp/http_connector.ts";
import { httpEntry } from "./helpers/mcp_fixtures.ts";
import { McpServerProcess, ownFds } from "./helpers/mcp_http_process.ts";
import { within } from "./helpers/subprocess.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `measure` until `ok` holds (true) or `ms` pass (false). */
async function settles(
  measure: () => Promise<number>,
  ok: (n: number) => boolean,
  ms: number,
): Promise<boolean> {
  const end = performance.now() + ms;
  while (!ok(await measure())) {
    if (performance.now() > end) return false;
    await sleep(100);
  }
  return true;
}

Deno.test("50 timed-out calls leave no descriptors open in the gateway or the server", async () => {
  const server = await McpServerProcess.start({});
  const plugin = new McpExternalPlugin(httpEntry("Slow", `http://localhost:${server.port}/mcp`));
  try {
    await plugin.initialize();
    const call = (ms: number, timeoutMs: number) =>
      plugin.handleHook(
        "tool_pre_invoke",
        { name: "echo", args: { ms } },
        new PluginContext({ request_id: "r" }),
        { signal: AbortSignal.timeout(timeoutMs), extensions: null },
      );
    await call(0, 10_000); // the connection pool is warm
    const gateway0 = await ownFds();
    const server0 = await server.fds();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => call(60_000, 300)),
    );
    assert.ok(results.every((r) => r.status === "rejected"), "every call timed out");
    // The pool may keep some idle connections open (one descriptor on each end), no more.
    const slack = MAX_IDLE_CONNECTIONS + 3;
    const gatewayOk = await settles(ownFds, (n) => n <= gateway0 + slack, 10_000);
    const serverOk = await settles(() => server.fds(), (n) => n <= server0 + slack, 10_000);
    console.log(
      `descriptors after 50 timed-out calls: gateway ${gateway0} -> ${await ownFds()}, ` +
        `server ${server0} -> ${await server.fds()}`,
    );
    assert.ok(gatewayOk, `gateway descriptors ${gateway0} -> ${await ownFds()}`);
    assert.ok(serverOk, `server descriptors ${server0} -> ${await server.fds()}`);
    // The session still works.
    await call(0, 10_000);
    await plugin.shutdown();
    const closed = await settles(() => server.fds(), (n) => n <= server0, 10_000);
    const left = await server.fds();
    assert.ok(closed, `after the gateway shut down the server holds ${left} (was ${server0})`);
  } finally {
    await plugin.shutdown();
    await server.stop();
  }
});

Deno.test("the gateway aborts the POST of a timed-out call even if the server never answers", async () => {
  // A minimal MCP server that never answers tools/call (as a server that ignores cancels).
  let sawAbort!: () => void;
  const aborted = new Promise<void>((resolve) => sawAbort = resolve);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (req.method !== "POST") return new Response(null, { status: 405 });
    const message = await req.json();
    if (message.method === "initialize") {
      return Response.json({
        jsonrpc: "2.0",
        id: message.id,
        result: {
          protocolVersion: message.params.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: "black hole", version: "1" },
        },
      }, { headers: { "mcp-session-id": "s1" } });
    }
    if (message.method !== "tools/call") return new Response(null, { status: 202 });
    await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
    sawAbort();
    return new Response(null, { status: 500 });
  });
  const url = `http://127.0.0.1:${server.addr.port}/mcp`;
  const { fetch, client: pool } = await createMcpFetch({ url });
  const client = new Client({ name: "t", version: "1" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }));
    await assert.rejects(
      client.callTool({ name: "x", arguments: {} }, undefined, { timeout: 300 }),
    );
    await within(aborted, "the server sees the POST aborted", 5_000);
  } finally {
    await client.close();
    pool.close();
    await server.shutdown();
  }
});
