/**
 * Requests in flight on the MCP HTTP server are bounded in number and in body bytes (issue 9,
 * item 2): the excess is answered 503 with a JSON-RPC error at once, never left hanging, and
 * the server serves again once the load is gone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mcpHeaders, openSession, startHttpFixture, toolCall } from "./helpers/mcp_fixtures.ts";
import { SlowPlugin, testPluginsWithSlow } from "./helpers/mcp_plugins.ts";
import { within } from "./helpers/subprocess.ts";

const slowCall = (id: number, ms: number, pad = "") =>
  toolCall(id, "invoke_hook", {
    hook_type: "tool_pre_invoke",
    plugin_name: "Slow",
    payload: { name: "echo", args: { ms, pad } },
    context: { global_context: { request_id: "r" } },
  });

async function post(url: string, session: string, body: unknown) {
  const res = await fetch(url, {
    method: "POST",
    headers: mcpHeaders(session),
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

Deno.test("POSTs over the in-flight cap get 503 at once; the others are served", async () => {
  const f = await startHttpFixture({ maxInFlight: 2 }, testPluginsWithSlow());
  try {
    const session = await openSession(f.url);
    const slow = [
      post(f.url, session, slowCall(1, 1_500)),
      post(f.url, session, slowCall(2, 1_500)),
    ];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    const refused = await within(
      Promise.all([3, 4, 5].map((id) => post(f.url, session, slowCall(id, 0)))),
      "answers over the cap",
      1_000,
    );
    assert.ok(performance.now() - started < 1_000);
    for (const r of refused) {
      assert.equal(r.status, 503);
      assert.equal(r.json.error.code, -32000);
      assert.match(r.json.error.message, /too many requests in flight/);
    }
    for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
    assert.equal((await post(f.url, session, slowCall(6, 0))).status, 200);
  } finally {
    SlowPlugin.wakeAll();
    await within(f.close(), "server close");
  }
});

Deno.test("POSTs whose bodies would pass the in-flight byte budget get 503 before being read", async () => {
  // Bodies of about 300 KB; the budget holds two of them (it is raised to maxBodyBytes at least).
  const f = await startHttpFixture(
    { maxBodyBytes: 400_000, maxInFlightBytes: 700_000 },
    testPluginsWithSlow(),
  );
  try {
    const session = await openSession(f.url);
    const pad = "x".repeat(300_000);
    const slow = [
      post(f.url, session, slowCall(1, 1_500, pad)),
      post(f.url, session, slowCall(2, 1_500, pad)),
    ];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const big = await within(post(f.url, session, slowCall(3, 0, pad)), "a big body over budget");
    assert.equal(big.status, 503);
    // A small call still fits.
    assert.equal((await post(f.url, session, slowCall(4, 0))).status, 200);
    for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
    assert.equal((await post(f.url, session, slowCall(5, 0, pad))).status, 200);
  } finally {
    SlowPlugin.wakeAll();
    await within(f.close(), "server close");
  }
});
