/**
 * Every request to the MCP HTTP server gets an answer within a bound, whatever its method,
 * session id and body (issue 9, item 7: three combinations hung the response): a table over
 * method × session-id state × body kind, plus the orders that stranded a POST in the SDK
 * (a request cancelled in its own batch, an id reused while in flight, a session ended under a
 * waiting call).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  INITIALIZE,
  mcpHeaders,
  openSession,
  startHttpFixture,
  toolCall,
} from "./helpers/mcp_fixtures.ts";
import { SlowPlugin, testPluginsWithSlow } from "./helpers/mcp_plugins.ts";
import { within } from "./helpers/subprocess.ts";

/** How long any answer may take (the slow plugin sleeps 60 s: a hang shows as a timeout). */
const BOUND_MS = 5_000;

const slowCall = (id: number) =>
  toolCall(id, "invoke_hook", {
    hook_type: "tool_pre_invoke",
    plugin_name: "Slow",
    payload: { name: "echo", args: { ms: 60_000 } },
    context: { global_context: { request_id: "r" } },
  });
const cancel = (id: number) => ({
  jsonrpc: "2.0",
  method: "notifications/cancelled",
  params: { requestId: id, reason: "test" },
});
const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "ping" });

/** POST bodies by kind (a string is sent as is). */
const BODIES: Record<string, unknown> = {
  "initialize": INITIALIZE,
  "request": ping(1),
  "notification": { jsonrpc: "2.0", method: "notifications/initialized" },
  "response": { jsonrpc: "2.0", id: 99, result: {} },
  "batch": [ping(1), ping(2)],
  "batch with a duplicate id": [ping(1), ping(1)],
  "batch of notifications": [cancel(42), { jsonrpc: "2.0", method: "notifications/initialized" }],
  "request cancelled in its batch": [slowCall(7), cancel(7)],
  "cancel before the request": [cancel(8), slowCall(8)],
  "empty batch": [],
  "empty body": "",
  "invalid JSON": "{",
  "not JSON-RPC": { hello: "world" },
};

type SessionState = "absent" | "unknown" | "malformed" | "valid" | "ended";
const SESSIONS: SessionState[] = ["absent", "unknown", "malformed", "valid", "ended"];

/** Sends one request; resolves with its status once the answer (or SSE headers) arrived. */
async function answer(
  url: string,
  init: RequestInit,
  what: string,
): Promise<number> {
  const signal = AbortSignal.timeout(BOUND_MS);
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal });
  } catch (error) {
    throw new Error(`${what}: no answer within ${BOUND_MS} ms (${(error as Error).name})`);
  }
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
    await res.body?.cancel(); // a stream that stays open is an answer
  } else {
    try {
      await res.arrayBuffer();
    } catch (error) {
      throw new Error(`${what}: the body did not end within ${BOUND_MS} ms (${error})`);
    }
  }
  return res.status;
}

async function sessionHeader(url: string, state: SessionState): Promise<string | undefined> {
  switch (state) {
    case "absent":
      return undefined;
    case "unknown":
      return "feedfacefeedfacefeedfacefeedface";
    case "malformed":
      return "not a session \u00ff";
    case "valid":
      return await openSession(url);
    case "ended": {
      const id = await openSession(url);
      const res = await fetch(url, { method: "DELETE", headers: mcpHeaders(id) });
      await res.body?.cancel();
      return id;
    }
  }
}

Deno.test("every method x session-id x body combination is answered within a bound", async () => {
  const f = await startHttpFixture({}, testPluginsWithSlow());
  try {
    const seen: string[] = [];
    for (const state of SESSIONS) {
      for (const [kind, body] of Object.entries(BODIES)) {
        const session = await sessionHeader(f.url, state);
        const headers = mcpHeaders(session);
        const status = await answer(f.url, {
          method: "POST",
          headers,
          body: typeof body === "string" ? body : JSON.stringify(body),
        }, `POST ${kind}, session ${state}`);
        seen.push(`POST ${state} ${kind}: ${status}`);
        const wrongAccept = await answer(f.url, {
          method: "POST",
          headers: { ...headers, accept: "text/plain" },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }, `POST ${kind} with a wrong Accept, session ${state}`);
        seen.push(`POST ${state} ${kind} (wrong Accept): ${wrongAccept}`);
      }
      for (const method of ["GET", "DELETE", "PUT"]) {
        for (const accept of ["text/event-stream", "application/json"]) {
          const session = await sessionHeader(f.url, state);
          const status = await answer(f.url, {
            method,
            headers: { ...mcpHeaders(session), accept },
          }, `${method} (${accept}), session ${state}`);
          seen.push(`${method} ${state} ${accept}: ${status}`);
        }
      }
    }
    assert.equal(seen.length, SESSIONS.length * (Object.keys(BODIES).length * 2 + 6));
  } finally {
    SlowPlugin.wakeAll();
    await within(f.close(), "server close (it waits for unanswered requests)");
  }
});

Deno.test("a request id reused while the first is in flight: both are answered", async () => {
  const f = await startHttpFixture({}, testPluginsWithSlow());
  try {
    const session = await openSession(f.url);
    const headers = mcpHeaders(session);
    const first = answer(f.url, {
      method: "POST",
      headers,
      body: JSON.stringify(slowCall(5)),
    }, "the first call with id 5");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await answer(f.url, {
      method: "POST",
      headers,
      body: JSON.stringify(slowCall(5)),
    }, "the second call with id 5");
    assert.equal(second, 409);
    // The client gives up on the first: cancelling it answers it.
    const cancelled = await answer(f.url, {
      method: "POST",
      headers,
      body: JSON.stringify(cancel(5)),
    }, "the cancel");
    assert.equal(cancelled, 202);
    assert.equal(await first, 200);
  } finally {
    SlowPlugin.wakeAll();
    await within(f.close(), "server close (it waits for unanswered requests)");
  }
});

Deno.test("ending a session answers the calls still waiting in it", async () => {
  const f = await startHttpFixture({}, testPluginsWithSlow());
  try {
    const session = await openSession(f.url);
    const waiting = answer(f.url, {
      method: "POST",
      headers: mcpHeaders(session),
      body: JSON.stringify(slowCall(3)),
    }, "the call waiting when the session ends");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const deleted = await answer(f.url, {
      method: "DELETE",
      headers: mcpHeaders(session),
    }, "DELETE");
    assert.equal(deleted, 200);
    assert.equal(await waiting, 404);
    // Server shutdown does the same for calls in other sessions.
    const other = await openSession(f.url);
    const pending = answer(f.url, {
      method: "POST",
      headers: mcpHeaders(other),
      body: JSON.stringify(slowCall(4)),
    }, "the call waiting at shutdown");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await f.handle.terminateSessions();
    assert.equal(await pending, 404);
  } finally {
    SlowPlugin.wakeAll();
    await within(f.close(), "server close (it waits for unanswered requests)");
  }
});
