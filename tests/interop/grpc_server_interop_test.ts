/**
 * Direction A of the gRPC interop: the Python reference gateway (cpex 0.1.4 `PluginManager` with
 * `kind: external` + `grpc:` entries, run by `grpc_gateway.py`) against OUR
 * `ExternalPluginServer` (hosting the plugins of `served_plugins.ts`) served with
 * `serve({transport: "grpc"})` in this process, over both
 * addressings:
 *
 * - `tcp`: our server on 127.0.0.1 (free port), the gateway's `grpc: {target: "localhost:PORT"}`;
 * - `uds`: our server on a fresh Unix socket, the gateway's `grpc: {uds: PATH}`.
 *
 * Plus TLS: the reference gateway with a client certificate (`grpc: {target, tls: {ca_bundle,
 * certfile, keyfile}}`) against our server with `client_auth: require`, and gateways without a
 * certificate or with one from an untrusted CA being refused.
 *
 * Each test runs one gateway scenario (a fresh Python process, bounded to 45 s) and asserts on
 * what the reference gateway saw. gRPC merges the remote config (wire.md §1.5), so the gateway
 * YAML leaves hooks, mode and `config` to our server unless a scenario overrides them. Our
 * server is the grpc-js side here, so the GOAWAY hazard of grpc-js clients under Deno does not
 * apply (the Python process is the client).
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
import { grpcSocketPath } from "./grpc_helpers.ts";
import { SERVED_NAMES, servedPlugins } from "./served_plugins.ts";
import { INTEROP_DIR, runPythonJson } from "./unix_helpers.ts";

const GATEWAY = `${INTEROP_DIR}grpc_gateway.py`;

type Json = Record<string, unknown>;
type Addressing = "tcp" | "uds";

/**
 * Serves the test plugins over gRPC (`addressing`, optional server TLS on TCP), runs one
 * reference-gateway scenario with the `grpc:` block pointing at it, always closes the server.
 */
async function gateway(
  addressing: Addressing,
  scenario: string,
  options: { serverTls?: TlsConfig; clientTls?: Record<string, unknown> } = {},
): Promise<Json> {
  const server = new ExternalPluginServer({ plugins: servedPlugins("grpc") });
  const uds = addressing === "uds" ? grpcSocketPath("a") : undefined;
  try {
    const handle = await server.serve({
      transport: "grpc",
      ...(uds ? { uds } : { host: "127.0.0.1", port: 0 }),
      tls: options.serverTls,
      printReady: false,
      handleSignals: false,
    });
    let block: Json;
    if (uds) {
      assert.equal(handle.address, uds);
      assert.equal((await Deno.stat(uds)).mode! & 0o777, 0o600, "socket mode");
      block = { uds };
    } else {
      const port = Number(handle.address.split(":").pop());
      block = { target: `localhost:${port}`, ...(options.clientTls && { tls: options.clientTls }) };
    }
    return await runPythonJson([GATEWAY, JSON.stringify(block), scenario]);
  } finally {
    await server.close();
    if (uds) {
      // Our server removes its socket file when it closes.
      await assert.rejects(Deno.lstat(uds), Deno.errors.NotFound);
    }
  }
}

const sanitize = { sanitizeOps: true, sanitizeResources: true };

/** Registers `fn` as one test per addressing (TCP and Unix socket). */
function both(name: string, fn: (addressing: Addressing) => Promise<void>): void {
  for (const addressing of ["tcp", "uds"] as const) {
    Deno.test({
      name: `python gateway -> deno grpc server (${addressing}): ${name}`,
      ...sanitize,
      fn: () => fn(addressing),
    });
  }
}

both("an allowing plugin lets the request through; ints arrive as doubles", async (a) => {
  const out = await gateway(a, "allow");
  assert.equal(out.plugin_count, 1, JSON.stringify(out));
  const result = out.result as Json;
  assert.equal(result.continue_processing, true);
  assert.equal(result.modified_payload, null);
  assert.equal(result.violation, null);
  assert.deepEqual(result.metadata, {
    allowed_by: "deno",
    arg_types: { q: "string", n: "number", tags: "array" },
    config: { secret: "remote-value", limits: { max: 3 } },
  });
});

both("a modified payload reaches the gateway as the new payload", async (a) => {
  const out = await gateway(a, "modify");
  const result = out.result as Json;
  assert.equal(result.continue_processing, true);
  assert.deepEqual(result.modified_payload, {
    name: "search",
    // `n: 3` travels as a protobuf double both ways (3.0 in Python, 3 again in JSON).
    args: { q: "HELLO", n: 3, tags: ["a", "b"], added: true },
    headers: null,
  });
  assert.deepEqual(result.metadata, { modified_by: "deno" });
});

both("a violation keeps code, reason, description, details and both error codes", async (a) => {
  const out = await gateway(a, "block");
  const result = out.result as Json;
  assert.equal(result.continue_processing, false);
  assert.equal(result.modified_payload, null);
  const violation = result.violation as Json;
  // Its plugin_name is stamped by the gateway's executor from its own config.
  assertDenyWordViolation(violation);
});

both("a throwing plugin fails the hook when the gateway says on_error fail", async (a) => {
  const out = await gateway(a, "raise_fail");
  assert.equal(out.result, undefined);
  const error = out.error as Json;
  assert.equal(error.message, "Error('boom from deno')");
  assert.equal(error.plugin_name, "Raise");
  assert.equal(error.mcp_error_code, -32603);
});

both("a throwing plugin is skipped when the gateway says on_error ignore", async (a) => {
  const out = await gateway(a, "raise_ignore");
  assert.equal(out.error, undefined);
  const result = out.result as Json;
  assert.equal(result.continue_processing, true);
  assert.equal(result.violation, null);
  assert.equal(result.modified_payload, null);
});

both("a PluginError keeps message, code, details and mcp_error_code", async (a) => {
  const out = await gateway(a, "raise_structured");
  const error = out.error as Json;
  assert.equal(error.message, "quota exhausted");
  assert.equal(error.plugin_name, "RaiseStructured");
  assert.equal(error.code, "QUOTA");
  // gRPC carries an error's details (PluginError field 4), unlike the raw Unix transport.
  assert.deepEqual(error.details, { limit: 5 });
  assert.equal(error.mcp_error_code, -32002);
});

both("an unknown plugin is not loaded: its config fetch finds nothing", async (a) => {
  const out = await gateway(a, "unknown_plugin");
  // GetPluginConfig answers found=false, the reference's initialize fails and the manager
  // skips the plugin.
  assert.equal(out.init_error, undefined, JSON.stringify(out));
  assert.equal(out.plugin_count, 0);
  assert.match(String(out.log), /Unable to retrieve configuration for external plugin/);
});

both("a hook the plugin does not declare gets the 'Unable to find' error", async (a) => {
  const out = await gateway(a, "unknown_hook");
  const error = out.error as Json;
  assert.equal(
    error.message,
    "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
  );
  assert.equal(error.plugin_name, "Allow");
  assert.equal(error.mcp_error_code, -32603);
});

both("local and global context state round-trips across pre and post hooks", async (a) => {
  const out = await gateway(a, "context");
  const pre = out.pre as Json;
  assert.equal(pre.continue_processing, true);
  assert.deepEqual(pre.metadata, {
    saw_global_state: { gateway_seed: "seed", stateful_seen: true },
    saw_global_metadata: { gateway_meta: "m" },
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

both("config merge: local keys win, hooks, mode and config come from our server", async (a) => {
  const out = await gateway(a, "merge");
  const config = out.config as Json;
  assert.equal(config.priority, 5);
  assert.equal(config.description, "local description");
  assert.deepEqual(config.tags, ["local"]);
  assert.deepEqual(config.hooks, ["tool_pre_invoke"]);
  assert.equal(config.mode, "sequential");
  assert.equal(config.on_error, "fail");
  assert.deepEqual(config.config, { secret: "remote-value", limits: { max: 3 } });
  assert.equal(config.kind, "external");
  const block = config.grpc as Json;
  if (a === "uds") assert.match(String(block.uds), /^\/tmp\/cpex-gi-a-/);
  else assert.match(String(block.target), /^localhost:\d+$/);
  assert.equal((out.result as Json).continue_processing, true);
});

both("a violation of a plugin in server-side transform mode is suppressed", async (a) => {
  const out = await gateway(a, "block_server_transform");
  const result = out.result as Json;
  // wire.md §1.2 step 4: the server applies its own mode, whatever the gateway says.
  assert.equal(result.continue_processing, true);
  assert.equal(result.violation, null);
});

both("a structured user, unicode and nulls reach the plugin unchanged", async (a) => {
  const out = await gateway(a, "echo");
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

both("concurrent-mode plugins are served in parallel on one channel", async (a) => {
  const out = await gateway(a, "concurrent");
  const result = out.result as Json;
  assert.equal(out.plugin_count, 3);
  assert.equal(result.continue_processing, true);
  assert.deepEqual(result.metadata, { Slow1: "done", Slow2: "done", Slow3: "done" });
  // Three 400 ms plugins one after another would take 1.2 s.
  assert.ok(Number(out.elapsed_s) < 1.0, `took ${out.elapsed_s} s`);
});

both("raw calls: config queries, both health services and error replies", async (a) => {
  const out = await gateway(a, "raw");
  // Case-insensitive lookup; the entry validates as the reference's PluginConfig.
  assert.equal(out.allow_found, true);
  const validated = out.allow_validated as Json;
  assert.equal(validated.name, "Allow");
  assert.equal(validated.priority, 10);
  assert.deepEqual(validated.hooks, ["tool_pre_invoke"]);
  assert.deepEqual(validated.config, { secret: "remote-value", limits: { max: 3 } });
  // Numbers are doubles on the wire: MessageToDict gives 10.0, JSON prints 10.
  assert.equal((out.allow as Json).priority, 10);
  // Not found: an empty message (wire.md §4.4).
  assert.equal(out.missing_bytes, "");
  assert.deepEqual(out.all_names, SERVED_NAMES);
  assert.equal(out.cpex_health, "SERVING");
  // grpc.health.v1 HealthCheckResponse{status: SERVING}.
  assert.equal(out.std_health_bytes, "0801");
  // Byte for byte the reference's reply to an unknown plugin (wire.md §4.5).
  assert.equal(
    out.nope_bytes,
    "0a044e6f706522670a54556e61626c6520746f2066696e6420746f6f6c5f7072655f696e766f6b6520666f7220" +
      "706c7567696e204e6f70652e20204d616b6520737572652074686520706c7567696e20697320726567697374" +
      "657265642e12044e6f706528a581feffffffffffff01",
  );
  // A payload without `name` is refused by the hook's payload validation: an error field, not a
  // gRPC failure.
  const bad = out.bad_payload as Json;
  assert.equal(bad.plugin_name, "Allow");
  const error = bad.error as Json;
  assert.equal(error.plugin_name, "Allow");
  assert.equal(error.mcp_error_code, -32603);
  assert.match(String(error.message), /name/);
  assert.equal(bad.result, undefined);
});

Deno.test({
  name:
    "python gateway -> deno grpc server with mTLS: a client certificate gets through, none or a rogue one is refused",
  ...sanitize,
  async fn() {
    await using pki = await createTestPki();
    const serverTls: TlsConfig = {
      certfile: pki.serverCert,
      keyfile: pki.serverKey,
      ca_bundle: pki.caCert,
      client_auth: "require",
    };
    const trusted = { ca_bundle: pki.caCert, certfile: pki.clientCert, keyfile: pki.clientKey };
    const out = await gateway("tcp", "block", { serverTls, clientTls: trusted });
    assert.equal(out.plugin_count, 1, JSON.stringify(out));
    assert.equal(((out.result as Json).violation as Json).code, "DENY_WORD");

    // The reference gateway without a client certificate: the handshake fails, every config
    // fetch attempt fails, and the plugin is skipped.
    const certless = await gateway("tcp", "allow", {
      serverTls,
      clientTls: { ca_bundle: pki.caCert },
    });
    assert.equal(certless.plugin_count, 0, JSON.stringify(certless));
    assert.match(String(certless.log), /connection failed after 3 attempts/);
    // A certificate from a CA our server does not trust: refused as well.
    const rogue = await gateway("tcp", "allow", {
      serverTls,
      clientTls: {
        ca_bundle: pki.caCert,
        certfile: pki.rogueClientCert,
        keyfile: pki.rogueClientKey,
      },
    });
    assert.equal(rogue.plugin_count, 0, JSON.stringify(rogue));
    assert.match(String(rogue.log), /connection failed after 3 attempts/);
  },
});

Deno.test({
  name:
    "python gateway -> deno grpc server with TLS: a server the gateway's CA did not sign is refused",
  ...sanitize,
  async fn() {
    await using pki = await createTestPki();
    const serverTls: TlsConfig = {
      certfile: pki.rogueServerCert,
      keyfile: pki.rogueServerKey,
      client_auth: "none",
    };
    const out = await gateway("tcp", "allow", {
      serverTls,
      clientTls: { ca_bundle: pki.caCert },
    });
    assert.equal(out.plugin_count, 0, JSON.stringify(out));
    // ...and with our own CA it works (server TLS, no client certificate: client_auth none).
    const ok = await gateway("tcp", "allow", {
      serverTls: { certfile: pki.serverCert, keyfile: pki.serverKey, client_auth: "none" },
      clientTls: { ca_bundle: pki.caCert },
    });
    assert.equal(ok.plugin_count, 1, JSON.stringify(ok));
    assert.equal((ok.result as Json).continue_processing, true);
  },
});
