/**
 * Direction A of the raw Unix socket interop: the Python reference gateway (cpex 0.1.4
 * `PluginManager` with `kind: external` + `unix_socket:` entries, run by `unix_gateway.py`)
 * against OUR `ExternalPluginServer` serving the TypeScript plugins of `served_plugins.ts` on a
 * Unix socket in this process. Each test starts a server on a fresh socket, runs one gateway
 * scenario and asserts on what the reference gateway saw.
 *
 * Run: `deno task test:interop` (needs `--allow-net` for `unix:` sockets, `--allow-run`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ExternalPluginServer } from "../../server.ts";
import { assertDenyWordViolation } from "./gateway_scenarios.ts";
import { SERVED_NAMES, servedPlugins } from "./served_plugins.ts";
import { INTEROP_DIR, runPythonJson, uniqueSocketPath } from "./unix_helpers.ts";

const GATEWAY = `${INTEROP_DIR}unix_gateway.py`;

type Json = Record<string, unknown>;

/** Serves the test plugins on a fresh socket, runs one gateway scenario, always closes. */
async function gateway(scenario: string): Promise<Json> {
  const path = uniqueSocketPath("a");
  const server = new ExternalPluginServer({ plugins: servedPlugins("unix") });
  try {
    const handle = await server.serve({ transport: "unix", path, printReady: false });
    assert.equal(handle.address, path);
    return await runPythonJson([GATEWAY, path, scenario]);
  } finally {
    await server.close();
  }
}

const sanitize = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "python gateway: an allowing deno plugin lets the request through with its metadata",
  ...sanitize,
  async fn() {
    const out = await gateway("allow");
    assert.equal(out.plugin_count, 1);
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.equal(result.violation, null);
    assert.deepEqual(result.metadata, { allowed_by: "deno" });
  },
});

Deno.test({
  name: "python gateway: a deno plugin's modified payload reaches the gateway as the new payload",
  ...sanitize,
  async fn() {
    const out = await gateway("modify");
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.modified_payload, {
      name: "search",
      // `n: 3` travels as a protobuf double both ways (3.0 in Python, 3 again in JSON).
      args: { q: "HELLO", n: 3, tags: ["a", "b"], added: true },
      headers: null,
    });
    assert.deepEqual(result.metadata, { modified_by: "deno" });
  },
});

Deno.test({
  name: "python gateway: a deno violation keeps code, reason, details and mcp_error_code",
  ...sanitize,
  async fn() {
    const out = await gateway("block");
    const result = out.result as Json;
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload, null);
    const violation = result.violation as Json;
    // Its plugin_name is stamped by the gateway's executor from its own config.
    assertDenyWordViolation(violation);
  },
});

Deno.test({
  name: "python gateway: a throwing deno plugin fails the hook when the gateway says on_error fail",
  ...sanitize,
  async fn() {
    const out = await gateway("raise_fail");
    assert.equal(out.result, undefined);
    const error = out.error as Json;
    assert.equal(error.message, "Error('boom from deno')");
    assert.equal(error.plugin_name, "Raise");
    assert.equal(error.mcp_error_code, -32603);
  },
});

Deno.test({
  name: "python gateway: a throwing deno plugin is skipped when the gateway says on_error ignore",
  ...sanitize,
  async fn() {
    const out = await gateway("raise_ignore");
    assert.equal(out.error, undefined);
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
    assert.equal(result.modified_payload, null);
  },
});

Deno.test({
  name: "python gateway: a deno PluginError keeps its message, code and mcp_error_code",
  ...sanitize,
  async fn() {
    const out = await gateway("raise_structured");
    const error = out.error as Json;
    assert.equal(error.message, "quota exhausted");
    assert.equal(error.plugin_name, "RaiseStructured");
    assert.equal(error.code, "QUOTA");
    assert.equal(error.mcp_error_code, -32002);
  },
});

Deno.test({
  name: "python gateway: an unknown plugin name gets the reference's 'Unable to find' error",
  ...sanitize,
  async fn() {
    const out = await gateway("unknown_plugin");
    const error = out.error as Json;
    assert.equal(
      error.message,
      "Unable to find tool_pre_invoke for plugin Nope.  Make sure the plugin is registered.",
    );
    assert.equal(error.plugin_name, "Nope");
  },
});

Deno.test({
  name: "python gateway: a hook the deno plugin does not declare gets the 'Unable to find' error",
  ...sanitize,
  async fn() {
    const out = await gateway("unknown_hook");
    const error = out.error as Json;
    assert.equal(
      error.message,
      "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
    );
    assert.equal(error.plugin_name, "Allow");
  },
});

Deno.test({
  name: "python gateway: local and global context state round-trips across pre and post hooks",
  ...sanitize,
  async fn() {
    const out = await gateway("context");
    const pre = out.pre as Json;
    assert.equal(pre.continue_processing, true);
    assert.deepEqual(pre.metadata, {
      saw_global_state: { gateway_seed: "seed", stateful_seen: true },
      saw_request_id: "req-1",
      saw_server_id: "srv-1",
      saw_tenant_id: "ten-1",
      saw_user: "alice",
    });
    // The global state written on our server is merged into the gateway's global context.
    assert.deepEqual(out.global_state_after_pre, { gateway_seed: "seed", stateful_seen: true });
    // The local context comes back into the gateway's context table...
    assert.deepEqual(out.local_after_pre, [
      { state: { seen_q: "hello", calls: 1 }, metadata: { phase: "pre" } },
    ]);
    // ...and is sent again with the post hook, where the plugin finds it.
    const post = out.post as Json;
    assert.deepEqual(post.metadata, { local_state_before_post: { seen_q: "hello", calls: 1 } });
    assert.deepEqual(out.local_after_post, [
      { state: { seen_q: "hello", calls: 2 }, metadata: { phase: "post" } },
    ]);
    assert.deepEqual(out.global_state_after_post, { gateway_seed: "seed", stateful_seen: true });
  },
});

Deno.test({
  name: "python gateway: config queries on the socket are answered case-insensitively and validate",
  ...sanitize,
  async fn() {
    const out = await gateway("config");
    const allow = out.allow as Json;
    assert.equal(allow.found, true);
    const validated = allow.validated as Json;
    assert.equal(validated.name, "Allow");
    assert.deepEqual(validated.hooks, ["tool_pre_invoke"]);
    assert.equal(validated.mode, "sequential");
    assert.equal(validated.priority, 10);
    assert.deepEqual(out.Missing, { found: false });
    assert.deepEqual(out.all_names, SERVED_NAMES);
  },
});

Deno.test({
  name: "python gateway: a violation of a deno plugin in server-side transform mode is suppressed",
  ...sanitize,
  async fn() {
    const out = await gateway("block_server_transform");
    const result = out.result as Json;
    // wire.md §1.2 step 4: the server applies its own mode, whatever the gateway says.
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
  },
});

Deno.test({
  name: "python gateway: a structured user, unicode and nulls reach the deno plugin unchanged",
  ...sanitize,
  async fn() {
    const out = await gateway("echo");
    const result = out.result as Json;
    assert.deepEqual(result.metadata, {
      args: { text: "h\u00e9llo \u2713 \u{1f600}", none: null, flag: false, list: [1.5, "x"] },
      user: { id: "u1", roles: ["admin"], active: true },
      request_id: "req-1",
    });
  },
});

Deno.test({
  name: "python gateway: concurrent-mode plugins are served in parallel over separate connections",
  ...sanitize,
  async fn() {
    const out = await gateway("concurrent");
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.metadata, { Slow1: "done", Slow2: "done", Slow3: "done" });
    // Three 400 ms plugins one after another would take 1.2 s.
    assert.ok(Number(out.elapsed_s) < 1.0, `took ${out.elapsed_s} s`);
  },
});
