/**
 * Direction A of the MCP interop: the Python reference gateway (cpex 0.1.4 `PluginManager` with
 * `kind: external` + `mcp:` entries, run by `mcp_gateway.py`) against OUR `ExternalPluginServer`
 * hosting the TypeScript plugins of `served_plugins.ts` (the set of
 * `tests/helpers/mcp_interop_plugins.ts`, which the STDIO child serves), over both MCP
 * transports:
 *
 * - `http`: our Streamable HTTP server in this process on 127.0.0.1 (free port), reached at
 *   `http://localhost:PORT/mcp` (a hostname passes the reference's SSRF rule; the `Host:
 *   localhost:PORT` header must pass our DNS-rebinding check);
 * - `stdio`: the reference gateway starts `deno run --no-prompt tests/helpers/mcp_interop_child.ts`
 *   as its child and speaks MCP over its pipes.
 *
 * Each test runs one gateway scenario (a fresh Python process, bounded to 45 s) and asserts on
 * what the reference gateway saw. MCP merges the remote config, so the gateway YAML leaves hooks,
 * mode and `config` to our server unless a scenario overrides them.
 *
 * Run: `deno task test:interop`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TlsConfig } from "../../mod.ts";
import { ExternalPluginServer } from "../../server.ts";
import { assertDenyWordViolation } from "./gateway_scenarios.ts";
import { createTestPki } from "../helpers/tls_pki.ts";
import type { McpHttpServerHandle } from "../../src/external/mcp/http_server.ts";
import { denoStdioBlock, INTEROP_DIR } from "./mcp_helpers.ts";
import { runPythonJson } from "./unix_helpers.ts";
import { SERVED_NAMES, servedPlugins } from "./served_plugins.ts";

const GATEWAY = `${INTEROP_DIR}mcp_gateway.py`;

type Json = Record<string, unknown>;
type Transport = "http" | "stdio";

/** Runs one reference-gateway scenario against our server on `transport`. */
async function gateway(
  transport: Transport,
  scenario: string,
  options: {
    host?: string;
    env?: Record<string, string>;
    /** Server TLS (served over https). */
    serverTls?: TlsConfig;
    /** The `tls` block of the reference gateway's `mcp:` entry. */
    clientTls?: Record<string, unknown>;
  } = {},
): Promise<Json> {
  if (transport === "stdio") {
    return await runPythonJson([GATEWAY, JSON.stringify(denoStdioBlock()), scenario]);
  }
  const server = new ExternalPluginServer({ plugins: servedPlugins("mcp") });
  try {
    const handle = await server.serve({
      transport: "http",
      host: "127.0.0.1",
      port: 0,
      printReady: false,
      handleSignals: false,
      tls: options.serverTls,
    }) as McpHttpServerHandle;
    const port = Number(handle.address.split(":").pop());
    const scheme = options.serverTls ? "https" : "http";
    const url = `${scheme}://${options.host ?? "localhost"}:${port}/mcp`;
    const mcp = {
      proto: "STREAMABLEHTTP",
      url,
      ...(options.clientTls && { tls: options.clientTls }),
    };
    const out = await runPythonJson([GATEWAY, JSON.stringify(mcp), scenario], {
      env: options.env,
    });
    // The reference gateway ends its sessions on shutdown (HTTP DELETE); none is left open.
    assert.equal(handle.sessionCount, 0, "sessions left open after the gateway shut down");
    return out;
  } finally {
    await server.close();
  }
}

const sanitize = { sanitizeOps: true, sanitizeResources: true };

/** Registers `fn` as one test per transport. */
function both(name: string, fn: (transport: Transport) => Promise<void>): void {
  for (const transport of ["http", "stdio"] as const) {
    Deno.test({
      name: `python gateway -> deno ${transport} server: ${name}`,
      ...sanitize,
      fn: () => fn(transport),
    });
  }
}

both("an allowing plugin lets the request through; ints stay ints over JSON", async (t) => {
  const out = await gateway(t, "allow");
  assert.equal(out.plugin_count, 1);
  const result = out.result as Json;
  assert.equal(result.continue_processing, true);
  assert.equal(result.modified_payload, null);
  assert.equal(result.violation, null);
  assert.deepEqual(result.metadata, {
    allowed_by: "deno",
    // JSON keeps integers (unlike the protobuf transports, where 3 arrives as 3.0).
    arg_types: { q: "string", n: "number", tags: "array" },
    config: { secret: "remote-value", limits: { max: 3 } },
  });
});

Deno.test({
  name:
    "python gateway -> deno http server: an IP-literal URL with SSRF protection off passes the Host check",
  ...sanitize,
  async fn() {
    // Host: 127.0.0.1:PORT instead of localhost:PORT.
    const out = await gateway("http", "allow", {
      host: "127.0.0.1",
      env: { PLUGINS_SSRF_PROTECTION_ENABLED: "false" },
    });
    assert.equal(out.plugin_count, 1);
    assert.equal((out.result as Json).continue_processing, true);
  },
});

both("a modified payload reaches the gateway as the new payload", async (t) => {
  const out = await gateway(t, "modify");
  const result = out.result as Json;
  assert.equal(result.continue_processing, true);
  assert.deepEqual(result.modified_payload, {
    name: "search",
    args: { q: "HELLO", n: 3, tags: ["a", "b"], added: true },
    headers: null,
  });
  assert.deepEqual(result.metadata, { modified_by: "deno" });
});

both("a violation keeps code, reason, description, details and mcp_error_code", async (t) => {
  const out = await gateway(t, "block");
  const result = out.result as Json;
  assert.equal(result.continue_processing, false);
  assert.equal(result.modified_payload, null);
  const violation = result.violation as Json;
  // Its plugin_name is stamped by the reference gateway's executor (never on the wire).
  assertDenyWordViolation(violation);
});

both("a throwing plugin fails the hook when the gateway says on_error fail", async (t) => {
  const out = await gateway(t, "raise_fail");
  assert.equal(out.result, undefined);
  assert.deepEqual(out.error, {
    message: "Error('boom from deno')",
    plugin_name: "Raise",
    code: "",
    details: {},
    mcp_error_code: -32603,
  });
});

both("a throwing plugin is skipped when the gateway says on_error ignore", async (t) => {
  const out = await gateway(t, "raise_ignore");
  assert.equal(out.error, undefined);
  const result = out.result as Json;
  assert.equal(result.continue_processing, true);
  assert.equal(result.violation, null);
  assert.equal(result.modified_payload, null);
});

both("a PluginError keeps message, code, details and mcp_error_code", async (t) => {
  const out = await gateway(t, "raise_structured");
  // Over MCP the whole error model travels as JSON, details included.
  assert.deepEqual(out.error, {
    message: "quota exhausted",
    plugin_name: "RaiseStructured",
    code: "QUOTA",
    details: { limit: 5 },
    mcp_error_code: -32002,
  });
});

both("an unknown plugin is skipped at load: get_plugin_config answers {}", async (t) => {
  // The reference gateway logs "Unable to retrieve configuration" and skips the plugin.
  const out = await gateway(t, "unknown_plugin");
  assert.equal(out.plugin_count, 0);
  assert.match(String(out.log), /Unable to retrieve configuration for external plugin/);
});

both("a hook the plugin does not declare gets the 'Unable to find' error", async (t) => {
  const out = await gateway(t, "unknown_hook");
  const error = out.error as Json;
  assert.equal(
    error.message,
    "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
  );
  assert.equal(error.plugin_name, "Allow");
  assert.equal(error.mcp_error_code, -32603);
});

both("local and global context state round-trip across pre and post hooks", async (t) => {
  const out = await gateway(t, "context");
  const pre = out.pre as Json;
  assert.equal(pre.continue_processing, true);
  assert.deepEqual(pre.metadata, {
    saw_global_state: { gateway_seed: "seed", stateful_seen: true },
    saw_request_id: "req-1",
    saw_server_id: "srv-1",
    saw_tenant_id: "ten-1",
    saw_user: "alice",
  });
  assert.deepEqual(out.global_state_after_pre, { gateway_seed: "seed", stateful_seen: true });
  assert.deepEqual(out.local_after_pre, [
    { state: { seen_q: "hello", calls: 1 }, metadata: { phase: "pre" } },
  ]);
  const post = out.post as Json;
  assert.deepEqual(post.metadata, { local_state_before_post: { seen_q: "hello", calls: 1 } });
  assert.deepEqual(out.local_after_post, [
    { state: { seen_q: "hello", calls: 2 }, metadata: { phase: "post" } },
  ]);
  assert.deepEqual(out.global_state_after_post, { gateway_seed: "seed", stateful_seen: true });
});

both("config merge: local keys win, hooks and config come from our server", async (t) => {
  const out = await gateway(t, "merge");
  const config = out.config as Json;
  // Local (gateway YAML): priority, description, tags.
  assert.equal(config.priority, 5);
  assert.equal(config.description, "local description");
  assert.deepEqual(config.tags, ["local"]);
  // Remote (our server): hooks, mode, on_error, config.
  assert.deepEqual(config.hooks, ["tool_pre_invoke"]);
  assert.equal(config.mode, "sequential");
  assert.equal(config.on_error, "fail");
  assert.deepEqual(config.config, { secret: "remote-value", limits: { max: 3 } });
  // The transport block stays local.
  assert.equal(config.kind, "external");
  assert.equal((config.mcp as Json).proto, t === "http" ? "STREAMABLEHTTP" : "STDIO");
  // The plugin sees its own (server-side) config section.
  const result = out.result as Json;
  assert.deepEqual((result.metadata as Json).config, {
    secret: "remote-value",
    limits: { max: 3 },
  });
});

both("a violation of a plugin in server-side transform mode is suppressed", async (t) => {
  const out = await gateway(t, "block_server_transform");
  const result = out.result as Json;
  // wire.md §1.2 step 4: the server applies its own mode, whatever the gateway says.
  assert.equal(result.continue_processing, true);
  assert.equal(result.violation, null);
});

both("a structured user, unicode and nulls reach the plugin unchanged", async (t) => {
  const out = await gateway(t, "echo");
  const result = out.result as Json;
  assert.deepEqual(result.metadata, {
    args: {
      text: "h\u00e9llo \u2713 \u{1f600}",
      none: null,
      flag: false,
      list: [1.5, "x"],
      n: 3,
    },
    user: { id: "u1", roles: ["admin"], active: true },
    request_id: "req-1",
  });
});

both("concurrent-mode plugins are served in parallel", async (t) => {
  const out = await gateway(t, "concurrent");
  const result = out.result as Json;
  assert.equal(out.plugin_count, 3);
  assert.equal(result.continue_processing, true);
  assert.deepEqual(result.metadata, { Slow1: "done", Slow2: "done", Slow3: "done" });
  // Three 400 ms plugins one after another would take 1.2 s.
  assert.ok(Number(out.elapsed_s) < 1.0, `took ${out.elapsed_s} s`);
});

both("raw tool calls: tool list, config queries and invoke_hook errors", async (t) => {
  const out = await gateway(t, "raw");
  assert.deepEqual(out.tools, ["get_plugin_config", "get_plugin_configs", "invoke_hook"]);
  // Case-insensitive lookup; the entry validates as the reference's PluginConfig.
  const [allow] = out.allow as Json[];
  assert.equal(allow.name, "Allow");
  const validated = out.allow_validated as Json;
  assert.equal(validated.priority, 10);
  assert.deepEqual(validated.hooks, ["tool_pre_invoke"]);
  assert.deepEqual(validated.config, { secret: "remote-value", limits: { max: 3 } });
  assert.deepEqual(out.missing, [{}]);
  const names = SERVED_NAMES;
  // One text item per plugin, plus structuredContent.result.
  assert.deepEqual(out.all_names, names);
  assert.deepEqual(out.all_structured_names, names);
  assert.deepEqual(out.nope, [{
    plugin_name: "Nope",
    error: {
      message:
        "Unable to find tool_pre_invoke for plugin Nope.  Make sure the plugin is registered.",
      plugin_name: "Nope",
      code: "",
      details: {},
      mcp_error_code: -32603,
    },
  }]);
  // A context without global_context, a payload without name: error objects, not crashes.
  for (const key of ["bad_context", "bad_payload"]) {
    const [item] = out[key] as Json[];
    assert.equal(item.plugin_name, "Allow", key);
    const error = item.error as Json;
    assert.equal(error.plugin_name, "Allow", key);
    assert.equal(error.mcp_error_code, -32603, key);
    assert.equal(typeof error.message, "string", key);
  }
  assert.match(
    String(((out.bad_context as Json[])[0].error as Json).message),
    /global_context/,
  );
  assert.match(String(((out.bad_payload as Json[])[0].error as Json).message), /name/);
});

Deno.test({
  name:
    "python gateway -> deno https server with mTLS: a client certificate gets through, none is refused",
  ...sanitize,
  async fn() {
    await using pki = await createTestPki();
    const serverTls: TlsConfig = {
      certfile: pki.serverCert,
      keyfile: pki.serverKey,
      ca_bundle: pki.caCert,
      ssl_cert_reqs: 2,
    };
    const trusted = { ca_bundle: pki.caCert, certfile: pki.clientCert, keyfile: pki.clientKey };
    const out = await gateway("http", "block", { serverTls, clientTls: trusted });
    assert.equal(out.plugin_count, 1);
    assert.equal(((out.result as Json).violation as Json).code, "DENY_WORD");
    // Without a client certificate, or with one from a CA the server does not trust, the
    // handshake fails. (The reference gateway then does not skip the plugin cleanly: the MCP
    // SDK's task group surfaces a CancelledError out of PluginManager.initialize().)
    const certless = await gateway("http", "allow", {
      serverTls,
      clientTls: { ca_bundle: pki.caCert },
    });
    assert.equal(certless.plugin_count, undefined, JSON.stringify(certless));
    assert.ok(certless.init_error_type, "expected initialize to fail");
    // The alert reaches the client as an SSL error or, when the TLS 1.3 handshake already
    // completed on its side, as a dropped connection (newer httpx builds report only that).
    assert.match(
      String(certless.log),
      /CERTIFICATE_REQUIRED|ReadError|SSLError|RemoteProtocolError/,
    );
    const rogue = await gateway("http", "allow", {
      serverTls,
      clientTls: {
        ca_bundle: pki.caCert,
        certfile: pki.rogueClientCert,
        keyfile: pki.rogueClientKey,
      },
    });
    assert.equal(rogue.plugin_count, undefined, JSON.stringify(rogue));
    assert.ok(rogue.init_error_type, "expected initialize to fail");
    // TLS 1.3: the server's rejection arrives after the client's handshake completed, so the
    // reference client sees the connection drop (httpx ReadError or RemoteProtocolError) or an SSL alert.
    assert.match(String(rogue.log), /ReadError|SSLError|RemoteProtocolError/);
  },
});
