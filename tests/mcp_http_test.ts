/**
 * MCP Streamable HTTP: our gateway (PluginManager + McpExternalPlugin) against our plugin
 * server over real sockets — hook outcomes, context round trips, the config merge, health,
 * the Host check, Unix sockets, TLS, mTLS, and reconnects after a terminated session or a
 * server restart.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type PluginConfigInput, PluginError, type PluginViolationError } from "../mod.ts";
import type { PluginContext } from "../src/context.ts";
import { McpExternalPlugin } from "../src/external/mcp/client.ts";
import { createTestPki } from "./helpers/tls_pki.ts";
import { gateway, httpEntry, mcpHeaders, startHttpFixture } from "./helpers/mcp_fixtures.ts";

/** Initializing a proxy for `entry` fails with a PluginError (and leaves nothing open). */
async function refused(entry: PluginConfigInput): Promise<void> {
  const plugin = new McpExternalPlugin(entry);
  await assert.rejects(plugin.initialize(), PluginError);
}

const PAYLOAD = { name: "echo", args: { text: "hello" } };

Deno.test("http round trips: allow, modify, block with violation fields, raise", async () => {
  const f = await startHttpFixture();
  const m = await gateway([
    httpEntry("Allow", f.url),
    httpEntry("Modify", f.url),
    httpEntry("Block", f.url, { priority: 200 }),
  ]);
  try {
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r1" });
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.modified_payload, {
      name: "echo",
      args: { text: "HELLO" },
      headers: null,
    });
    const v = result.violation!;
    assert.equal(v.code, "BLOCKED_WORD");
    assert.equal(v.reason, "Blocked word");
    assert.equal(v.description, "Tool echo is blocked");
    assert.deepEqual(v.details, { arg: "text" });
    assert.equal(v.http_status_code, 403);
    assert.equal(v.plugin_name, "Block");
  } finally {
    await m.shutdown();
  }
  const raising = await gateway([httpEntry("Raise", f.url)]);
  try {
    await assert.rejects(
      raising.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r2" }),
      (e: unknown) =>
        e instanceof PluginError && e.message === "Error('Sadly! boom')" &&
        e.error.plugin_name === "Raise",
    );
  } finally {
    await raising.shutdown();
    await f.close();
  }
});

Deno.test("http violations can surface as exceptions with the plugin name", async () => {
  const f = await startHttpFixture();
  const m = await gateway([httpEntry("Block", f.url)]);
  try {
    await assert.rejects(
      m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" }, {
        violationsAsExceptions: true,
      }),
      (e: PluginViolationError) => e.violation?.plugin_name === "Block",
    );
  } finally {
    await m.shutdown();
    await f.close();
  }
});

Deno.test("http unknown remote plugin fails initialize; unknown hook fails the call", async () => {
  const f = await startHttpFixture();
  try {
    const ghost = new McpExternalPlugin(httpEntry("Ghost", f.url));
    await assert.rejects(
      ghost.initialize(),
      /Unable to retrieve configuration for external plugin Ghost/,
    );
    const m = await gateway([
      httpEntry("Allow", f.url, { hooks: ["tool_pre_invoke", "prompt_pre_fetch"] }),
    ]);
    try {
      await assert.rejects(
        m.invokeHook("prompt_pre_fetch", { prompt_id: "p", args: {} }, { request_id: "r" }),
        (e: unknown) =>
          e instanceof PluginError &&
          e.message ===
            "Unable to find prompt_pre_fetch for plugin Allow.  Make sure the plugin is registered.",
      );
    } finally {
      await m.shutdown();
    }
    assert.equal(f.handle.sessionCount, 0, "sessions are ended with DELETE on shutdown");
  } finally {
    await f.close();
  }
});

Deno.test("http merge: local keys win, remote fills hooks and config", async () => {
  const f = await startHttpFixture();
  const m = await gateway([httpEntry("Allow", f.url, { priority: 5 })]);
  try {
    const config = m.getPlugin("Allow")!.config;
    assert.equal(config.priority, 5);
    assert.deepEqual(config.hooks, ["tool_pre_invoke"]);
    assert.deepEqual(config.config, { secret: "remote" });
    assert.equal(config.kind, "external");
    assert.equal(config.mcp?.proto, "STREAMABLEHTTP");
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.equal(result.continue_processing, true);
  } finally {
    await m.shutdown();
    await f.close();
  }
});

Deno.test("http context round trip: state kept from pre to post, global state returned", async () => {
  const f = await startHttpFixture();
  const m = await gateway([httpEntry("Context", f.url)]);
  try {
    const global = { request_id: "ctx-1", server_id: "srv" };
    const [pre, contexts] = await m.invokeHook("tool_pre_invoke", PAYLOAD, global);
    assert.equal(pre.continue_processing, true);
    const ctx = Object.values(contexts!)[0] as PluginContext;
    assert.deepEqual(ctx.state, { count: 1 });
    assert.deepEqual(ctx.metadata, { pre: true });
    const [post] = await m.invokeHook(
      "tool_post_invoke",
      { name: "echo", result: { text: "x" } },
      global,
      { localContexts: contexts },
    );
    assert.deepEqual(post.modified_payload, { name: "echo", result: { count: 1 } });
  } finally {
    await m.shutdown();
    await f.close();
  }
});

Deno.test("http health answers and the Host check refuses foreign hosts", async () => {
  const f = await startHttpFixture();
  const client = Deno.createHttpClient({ allowHost: true });
  try {
    const health = await fetch(`http://127.0.0.1:${f.port}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "healthy" });
    const wrong = await fetch(`http://127.0.0.1:${f.port}/mcp`, {
      method: "POST",
      headers: { ...mcpHeaders(), host: "evil.example:80" },
      body: "{}",
      client,
    });
    assert.equal(wrong.status, 421);
    assert.equal(await wrong.text(), "Invalid Host header");
    const origin = await fetch(`http://127.0.0.1:${f.port}/mcp`, {
      method: "POST",
      headers: { ...mcpHeaders(), origin: "http://evil.example" },
      body: "{}",
    });
    assert.equal(origin.status, 403);
    await origin.body?.cancel();
  } finally {
    client.close();
    await f.close();
  }
});

Deno.test("http over a Unix socket: mode 0600, round trip, socket removed on close", async () => {
  const path = `/tmp/cpex-mcp-${crypto.randomUUID().slice(0, 8)}.sock`;
  const f = await startHttpFixture({ uds: path });
  const m = await gateway([httpEntry("Block", f.url, {}, { uds: path })]);
  try {
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.equal(result.violation?.code, "BLOCKED_WORD");
  } finally {
    await m.shutdown();
    await f.close();
  }
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("http terminated session: the client reconnects and retries once", async () => {
  const f = await startHttpFixture();
  const m = await gateway([httpEntry("Allow", f.url)]);
  try {
    assert.equal(f.handle.sessionCount, 1);
    await f.handle.terminateSessions();
    assert.equal(f.handle.sessionCount, 0);
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.equal(result.continue_processing, true);
    assert.equal(f.handle.sessionCount, 1);
  } finally {
    await m.shutdown();
    await f.close();
  }
});

Deno.test("http server restart: the client reconnects to the new server", async () => {
  const f = await startHttpFixture();
  const m = await gateway([httpEntry("Modify", f.url)]);
  try {
    await f.restart();
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.deepEqual(result.modified_payload, {
      name: "echo",
      args: { text: "HELLO" },
      headers: null,
    });
  } finally {
    await m.shutdown();
    await f.close();
  }
});

Deno.test("http server gone for good: reconnect attempts run out as a PluginError", async () => {
  const f = await startHttpFixture();
  const m = await gateway([httpEntry("Allow", f.url, {}, { reconnect_attempts: 2 })]);
  try {
    await f.close();
    await assert.rejects(
      m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" }),
      (e: unknown) =>
        e instanceof PluginError && /Failed to reconnect after 2 attempts/.test(e.message),
    );
  } finally {
    await m.shutdown();
  }
});

Deno.test("https on Deno.listenTls: a client trusting the CA gets through", async () => {
  await using pki = await createTestPki();
  const f = await startHttpFixture({
    tls: { certfile: pki.serverCert, keyfile: pki.serverKey, ssl_cert_reqs: 0 },
  });
  const m = await gateway([httpEntry("Block", f.url, {}, { tls: { ca_bundle: pki.caCert } })]);
  try {
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.equal(result.violation?.code, "BLOCKED_WORD");
    await refused(httpEntry("Allow", f.url)); // the system store does not know the test CA
  } finally {
    await m.shutdown();
    await f.close();
  }
});

Deno.test("mTLS on node:https: a client certificate is required and verified", async () => {
  await using pki = await createTestPki();
  const f = await startHttpFixture({
    tls: {
      certfile: pki.serverCert,
      keyfile: pki.serverKey,
      ca_bundle: pki.caCert,
      ssl_cert_reqs: 2,
    },
  });
  const good = { ca_bundle: pki.caCert, certfile: pki.clientCert, keyfile: pki.clientKey };
  const m = await gateway([httpEntry("Modify", f.url, {}, { tls: good })]);
  try {
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.deepEqual(result.modified_payload, {
      name: "echo",
      args: { text: "HELLO" },
      headers: null,
    });
    // No certificate, and a certificate from a CA the server does not trust: refused.
    await refused(httpEntry("Allow", f.url, {}, { tls: { ca_bundle: pki.caCert } }));
    await refused(httpEntry("Allow", f.url, {}, {
      tls: { ca_bundle: pki.caCert, certfile: pki.rogueClientCert, keyfile: pki.rogueClientKey },
    }));
    // The server keeps serving the trusted client.
    const [again] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r2" });
    assert.equal(again.continue_processing, true);
  } finally {
    await m.shutdown();
    await f.close();
  }
});
