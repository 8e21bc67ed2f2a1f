/**
 * The gateway's lean `tools/call` over Streamable HTTP (issue 13): hook calls answered as SSE
 * streams instead of JSON, JSON-RPC errors, and a timed-out call that aborts its POST and tells
 * the server with `notifications/cancelled` (the request id it sent).
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginError } from "../mod.ts";
import { gateway, httpEntry, startHttpFixture } from "./helpers/mcp_fixtures.ts";

const PAYLOAD = { name: "echo", args: { text: "hello" } };

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("lean tools/call: answers as SSE streams, modify and raise, 16 at once", async () => {
  const f = await startHttpFixture({ jsonResponse: false });
  const m = await gateway([httpEntry("Modify", f.url)]);
  try {
    const results = await Promise.all(
      Array.from(
        { length: 16 },
        (_, i) => m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: `r${i}` }),
      ),
    );
    for (const [result] of results) {
      assert.deepEqual(result.modified_payload, {
        name: "echo",
        args: { text: "HELLO" },
        headers: null,
      });
    }
  } finally {
    await m.shutdown();
  }
  const raising = await gateway([httpEntry("Raise", f.url)]);
  try {
    await assert.rejects(
      raising.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" }),
      (e: unknown) => e instanceof PluginError && e.message === "Error('Sadly! boom')",
    );
  } finally {
    await raising.shutdown();
    await f.close();
  }
});

Deno.test("lean tools/call: a timed-out hook call aborts its POST and sends notifications/cancelled", async () => {
  // A minimal MCP server that never answers invoke_hook (as a server that ignores cancels).
  let sawAbort!: () => void;
  const aborted = new Promise<void>((resolve) => sawAbort = resolve);
  let sawCancel!: (id: unknown) => void;
  const cancelled = new Promise<unknown>((resolve) => sawCancel = resolve);
  let hookId: unknown = null;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (req.method !== "POST") return new Response(null, { status: 405 });
    const message = await req.json();
    const answer = (result: unknown) =>
      Response.json({ jsonrpc: "2.0", id: message.id, result }, {
        headers: { "mcp-session-id": "s1" },
      });
    switch (message.method) {
      case "initialize":
        return answer({
          protocolVersion: message.params.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: "black hole", version: "1" },
        });
      case "tools/list":
        return answer({ tools: [] });
      case "notifications/cancelled":
        sawCancel(message.params.requestId);
        return new Response(null, { status: 202 });
      case "tools/call":
        if (message.params.name === "get_plugin_config") {
          return answer({ content: [{ type: "text", text: JSON.stringify({ name: "Hole" }) }] });
        }
        assert.equal(req.headers.get("mcp-session-id"), "s1");
        assert.ok(req.headers.get("mcp-protocol-version"));
        hookId = message.id;
        await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
        sawAbort();
        return new Response(null, { status: 500 });
      default:
        return new Response(null, { status: 202 });
    }
  });
  const url = `http://localhost:${server.addr.port}/mcp`;
  const m = await gateway([
    httpEntry("Hole", url, { hooks: ["tool_pre_invoke"], timeout: 0.3, on_error: "fail" }),
  ]);
  try {
    await assert.rejects(m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" }));
    await within(aborted, "the server sees the POST aborted", 5_000);
    const id = await within(cancelled, "notifications/cancelled", 5_000);
    assert.equal(id, hookId);
  } finally {
    await m.shutdown();
    await server.shutdown();
  }
});
