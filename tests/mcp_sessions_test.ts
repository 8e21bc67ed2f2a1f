import assert from "node:assert/strict";
import { MAX_MCP_SESSIONS } from "../src/external/mcp/http_server.ts";
import { openSession, rpc, startHttpFixture } from "./helpers/mcp_fixtures.ts";

Deno.test("the MCP server caps its sessions, ending the least recently used one first", async () => {
  const f = await startHttpFixture();
  try {
    const first = await openSession(f.url);
    const second = await openSession(f.url);
    // Using the first session makes the second the least recently used.
    assert.equal((await rpc(f.url, first, { jsonrpc: "2.0", id: 1, method: "ping" })).status, 200);
    for (let i = 0; i < MAX_MCP_SESSIONS - 1; i++) await openSession(f.url);
    assert.equal(f.handle.sessionCount, MAX_MCP_SESSIONS);
    assert.equal((await rpc(f.url, second, { jsonrpc: "2.0", id: 2, method: "ping" })).status, 404);
    assert.equal((await rpc(f.url, first, { jsonrpc: "2.0", id: 3, method: "ping" })).status, 200);
  } finally {
    await f.close();
  }
});
