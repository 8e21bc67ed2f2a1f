/**
 * Bad input to the MCP servers: each gets the right HTTP status or JSON-RPC error, and the
 * server keeps serving everyone else afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import { STDIO_CHILD } from "./helpers/mcp_fixtures.ts";
import {
  INITIALIZE,
  mcpHeaders,
  openSession,
  rpc,
  startHttpFixture,
  toolCall,
} from "./helpers/mcp_fixtures.ts";

const INVOKE_ARGS = {
  hook_type: "tool_pre_invoke",
  plugin_name: "Block",
  payload: { name: "echo", args: { text: "hello" } },
  context: { global_context: { request_id: "r" } },
};

/** A full good call in a new session: the server still serves. */
async function stillServes(url: string): Promise<void> {
  const session = await openSession(url);
  const { status, json } = await rpc(url, session, toolCall(9, "invoke_hook", INVOKE_ARGS));
  assert.equal(status, 200);
  const result = json!.result as { content: { text: string }[] };
  const text = JSON.parse(result.content[0].text);
  assert.equal(text.plugin_name, "Block");
  assert.equal(text.result.violation.code, "BLOCKED_WORD");
  assert.equal(text.result.metadata, null);
}

Deno.test("http: invalid JSON is a 400 parse error", async () => {
  const f = await startHttpFixture();
  try {
    const { status, json } = await rpc(f.url, undefined, "{not json");
    assert.equal(status, 400);
    assert.deepEqual(json!.error, { code: -32700, message: "Parse error: Invalid JSON" });
    const session = await openSession(f.url);
    const inSession = await rpc(f.url, session, "[1,");
    assert.equal(inSession.status, 400);
    await stillServes(f.url);
  } finally {
    await f.close();
  }
});

Deno.test("http: JSON-RPC with wrong types is refused with -32600/-32602", async () => {
  const f = await startHttpFixture();
  try {
    const session = await openSession(f.url);
    const notRpc = await rpc(f.url, session, { hello: "world" });
    assert.equal(notRpc.status, 400);
    assert.equal((notRpc.json!.error as { code: number }).code, -32700);
    const badParams = await rpc(f.url, session, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: 123 },
    });
    assert.equal(badParams.status, 200);
    const error = badParams.json!.error as { code: number; message: string };
    assert.equal(error.code, -32602);
    assert.match(error.message, /params\.name/);
    const noSession = await rpc(f.url, undefined, toolCall(2, "invoke_hook", INVOKE_ARGS));
    assert.equal(noSession.status, 400);
    const unknownSession = await rpc(f.url, "feedface", toolCall(3, "invoke_hook", INVOKE_ARGS));
    assert.equal(unknownSession.status, 404);
    assert.equal((unknownSession.json!.error as { code: number }).code, -32001);
    const put = await fetch(f.url, { method: "PUT", headers: mcpHeaders(session), body: "{}" });
    assert.equal(put.status, 405);
    await put.body?.cancel();
    await stillServes(f.url);
  } finally {
    await f.close();
  }
});

Deno.test("http: unknown tool and invalid invoke_hook arguments are tool errors", async () => {
  const f = await startHttpFixture();
  try {
    const session = await openSession(f.url);
    const unknown = await rpc(f.url, session, toolCall(1, "nope", {}));
    const r1 = unknown.json!.result as { isError: boolean; content: { text: string }[] };
    assert.equal(r1.isError, true);
    assert.match(r1.content[0].text, /Tool nope not found/);
    const invalid = await rpc(f.url, session, toolCall(2, "invoke_hook", { hook_type: 1 }));
    const r2 = invalid.json!.result as { isError: boolean; content: { text: string }[] };
    assert.equal(r2.isError, true);
    assert.match(r2.content[0].text, /Input validation error/);
    assert.match(r2.content[0].text, /plugin_name/);
    // Valid arguments with a context missing request_id: an error object, not a crash.
    const noRequestId = await rpc(
      f.url,
      session,
      toolCall(3, "invoke_hook", { ...INVOKE_ARGS, context: { global_context: {} } }),
    );
    const r3 = noRequestId.json!.result as { content: { text: string }[] };
    const body = JSON.parse(r3.content[0].text);
    assert.match(body.error.message, /request_id/);
    await stillServes(f.url);
  } finally {
    await f.close();
  }
});

Deno.test("http: a body over the limit gets 413 without being buffered", async () => {
  const f = await startHttpFixture();
  try {
    const big = JSON.stringify({ ...INITIALIZE, pad: "x".repeat(4 * 1024 * 1024) });
    const res = await fetch(f.url, { method: "POST", headers: mcpHeaders(), body: big });
    assert.equal(res.status, 413);
    const json = await res.json();
    assert.equal(json.error.code, -32000);
    assert.match(json.error.message, /4194304 bytes/);
    // Streamed without a Content-Length: cut off at the limit too.
    const small = await startHttpFixture({ maxBodyBytes: 1024 });
    try {
      const chunks = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode("x".repeat(512)));
          c.close();
        },
      });
      const streamed = await fetch(small.url, {
        method: "POST",
        headers: mcpHeaders(),
        body: chunks,
      });
      assert.equal(streamed.status, 413);
      await streamed.body?.cancel();
      await stillServes(small.url);
    } finally {
      await small.close();
    }
    await stillServes(f.url);
  } finally {
    await f.close();
  }
});

Deno.test("http: clients that drop mid-request or mid-stream do not hurt the server", async () => {
  const f = await startHttpFixture();
  try {
    // Half a request body, then the connection goes away.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: f.port });
    await conn.write(
      new TextEncoder().encode(
        `POST /mcp HTTP/1.1\r\nHost: localhost:${f.port}\r\ncontent-type: application/json\r\n` +
          `accept: application/json, text/event-stream\r\ncontent-length: 1000\r\n\r\n{"jsonrpc":`,
      ),
    );
    conn.close();
    // A standalone SSE stream (GET) that the client aborts.
    const session = await openSession(f.url);
    const abort = new AbortController();
    const stream = await fetch(f.url, {
      headers: { ...mcpHeaders(session), accept: "text/event-stream" },
      signal: abort.signal,
    });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get("content-type"), "text/event-stream");
    abort.abort();
    await stream.body?.cancel().catch(() => {});
    // A tool call whose client gives up before the answer.
    const early = new AbortController();
    const pending = fetch(f.url, {
      method: "POST",
      headers: mcpHeaders(session),
      body: JSON.stringify(toolCall(5, "invoke_hook", INVOKE_ARGS)),
      signal: early.signal,
    });
    early.abort();
    await pending.then((r) => r.body?.cancel()).catch(() => {});
    await stillServes(f.url);
    const del = await fetch(f.url, { method: "DELETE", headers: mcpHeaders(session) });
    assert.equal(del.status, 200);
    await del.body?.cancel();
    const gone = await rpc(f.url, session, toolCall(6, "invoke_hook", INVOKE_ARGS));
    assert.equal(gone.status, 404);
  } finally {
    await f.close();
  }
});

Deno.test("stdio: unreadable lines get JSON-RPC errors and the server keeps answering", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", STDIO_CHILD],
    env: { PLUGINS_TRANSPORT: "stdio" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = [
    JSON.stringify(INITIALIZE),
    "this is not json",
    JSON.stringify({ hello: "world", id: 7 }),
    JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: 5 } }),
    JSON.stringify(toolCall(2, "nope", {})),
    JSON.stringify(toolCall(3, "invoke_hook", { hook_type: 1 })),
    JSON.stringify(toolCall(4, "invoke_hook", INVOKE_ARGS)),
  ];
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = new TextDecoder().decode((await child.output()).stdout);
  const replies = out.trim().split("\n").map((l) => JSON.parse(l));
  const byId = (id: unknown) => replies.filter((r) => r.id === id);
  assert.equal(byId(0)[0].result.serverInfo.name, "MCP Plugin Server");
  const nullIds = byId(null).map((r) => r.error.code).sort();
  assert.deepEqual(nullIds, [-32700]);
  assert.equal(byId(7)[0].error.code, -32600);
  assert.equal(byId(1)[0].error.code, -32602);
  assert.equal(byId(2)[0].result.isError, true);
  assert.equal(byId(3)[0].result.isError, true);
  const answer = JSON.parse(byId(4)[0].result.content[0].text);
  assert.equal(answer.result.violation.code, "BLOCKED_WORD");
  assert.equal(replies.length, 7, "nothing but MCP on stdout");
});
