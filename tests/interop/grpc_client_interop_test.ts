/**
 * Direction B of the gRPC interop: OUR `PluginManager` as the gateway (config entries with
 * `kind: external` + `grpc:`, served by `src/external/grpc/client.ts`) against the Python
 * reference's gRPC runtime (cpex 0.1.4, `python -m cpex.framework.external.grpc.server.runtime`)
 * hosting the Python test plugins of `plugins/unix_interop.py` and `plugins/grpc_interop.py`
 * (config `plugins/grpc_interop.yaml`), over TCP (`PLUGINS_GRPC_SERVER_HOST`/`_PORT`, target
 * `localhost:PORT`), a Unix socket (`PLUGINS_GRPC_SERVER_UDS`, `grpc: {uds}`) and TLS/mTLS
 * (`PLUGINS_GRPC_SERVER_SSL_*`).
 *
 * The GOAWAY hazard (denoland/deno#36788): this test process runs the grpc-js client, and a
 * grpc-js client under Deno can crash natively when its server shuts down gracefully. So every
 * test shuts the manager (and with it the channel) down first and only then stops the Python
 * runtime, with SIGKILL (no GOAWAY); see `grpc_helpers.ts`.
 *
 * Run: `deno task test:interop`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type GlobalContext,
  parseConfig,
  PluginError,
  PluginManager,
  type PluginManagerOptions,
  withTraceId,
} from "../../mod.ts";
import {
  assertConcurrentEchoReplies,
  assertDenyWordViolation,
  expectPluginError,
  globalContext,
  PRE_PAYLOAD,
  SANITIZE,
  tracingProvider,
} from "./gateway_scenarios.ts";
import { createTestPki } from "../helpers/tls_pki.ts";
import {
  freePort,
  grpcSocketPath,
  type PythonGrpcListen,
  type PythonGrpcServer,
  startPythonGrpcServer,
} from "./grpc_helpers.ts";
import { INTEROP_DIR } from "./unix_helpers.ts";
import { GrpcExternalPlugin } from "../../src/external/grpc/client.ts";

const SERVER_CONFIG = `${INTEROP_DIR}plugins/grpc_interop.yaml`;

type Addressing = "tcp" | "uds";
type Json = Record<string, unknown>;

/** A gateway entry: only what is set locally (the rest comes from the remote config). */
type Entry = { name: string } & Record<string, unknown>;

/** grpc-js reconnect-backoff timers outlive a closed channel by up to 1.2 s (grpc_fixtures.ts). */
const settleBackoffTimers = () => new Promise((resolve) => setTimeout(resolve, 1_300));

function grpcBlock(server: PythonGrpcServer, tls?: Json): Json {
  if (server.address.startsWith("/")) return { uds: server.address };
  const port = server.address.split(":").pop();
  return { target: `localhost:${port}`, ...(tls && { tls }) };
}

function listenFor(addressing: Addressing): PythonGrpcListen {
  return addressing === "uds" ? { uds: grpcSocketPath("b") } : { port: freePort() };
}

/**
 * Starts the reference's gRPC runtime, builds our gateway manager for `entries` on it, runs
 * `fn`, then shuts the manager down (closing the channel) BEFORE killing the runtime.
 */
async function withGateway<T>(
  listen: PythonGrpcListen,
  entries: Entry[],
  fn: (manager: PluginManager, server: PythonGrpcServer) => Promise<T>,
  options: { tls?: Json; manager?: PluginManagerOptions } = {},
): Promise<T> {
  const server = await startPythonGrpcServer(SERVER_CONFIG, listen);
  try {
    const manager = new PluginManager(
      parseConfig({
        plugins: entries.map((e) => ({
          kind: "external",
          ...e,
          grpc: grpcBlock(server, options.tls),
        })),
      }),
      { timeout: 15, ...options.manager },
    );
    try {
      await manager.initialize();
      return await fn(manager, server);
    } finally {
      await manager.shutdown();
    }
  } catch (error) {
    if (error instanceof Error) error.message += `\nreference server log:\n${server.stderr()}`;
    throw error;
  } finally {
    await server.kill();
  }
}

/** Registers `fn` as one test per addressing (TCP and Unix socket). */
function both(name: string, fn: (addressing: Addressing) => Promise<void>): void {
  for (const addressing of ["tcp", "uds"] as const) {
    Deno.test({
      name: `deno gateway -> python grpc server (${addressing}): ${name}`,
      ...SANITIZE,
      fn: () => fn(addressing),
    });
  }
}

both("an allowing plugin lets the request through; ints arrive as floats", async (a) => {
  await withGateway(listenFor(a), [{ name: "Allow" }], async (manager) => {
    assert.equal(manager.pluginCount, 1);
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload ?? null, null);
    assert.equal(result.violation ?? null, null);
    assert.deepEqual(result.metadata, {
      allowed_by: "python",
      config: { secret: "remote-value", limits: { max: 3 } },
      // Integers travel as protobuf doubles: the python plugin sees 3.0.
      arg_types: { q: "str", n: "float", tags: "list" },
    });
  });
});

both("a modified payload replaces the request payload", async (a) => {
  await withGateway(listenFor(a), [{ name: "Modify", mode: "transform" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { q: "HELLO", n: 3, tags: ["a", "b"], added: true },
      headers: null,
    });
    assert.deepEqual(result.metadata, { modified_by: "python" });
  });
});

both("a violation keeps code, reason, description, details and both error codes", async (a) => {
  await withGateway(listenFor(a), [{ name: "Block" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload ?? null, null);
    const violation = result.violation!;
    assert.ok(violation, "expected a violation");
    // Its plugin_name is stamped by our executor (never on the wire).
    assertDenyWordViolation(violation);
  });
});

both("a raising plugin fails the hook when the gateway says on_error fail", async (a) => {
  await withGateway(listenFor(a), [{ name: "Raise", on_error: "fail" }], async (manager) => {
    const error = await expectPluginError(
      manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
    );
    assert.equal(error.error.message, "ValueError('boom from python')");
    assert.equal(error.error.plugin_name, "Raise");
    assert.equal(error.error.mcp_error_code, -32603);
  });
});

both("a raising plugin is skipped when the gateway says on_error ignore", async (a) => {
  await withGateway(listenFor(a), [{ name: "Raise", on_error: "ignore" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation ?? null, null);
    assert.equal(result.modified_payload ?? null, null);
    const record = result.executions.find((r) => r.plugin_name === "Raise");
    assert.equal(record?.status, "error");
    assert.match(String(record?.reason), /boom from python/);
  });
});

both("a PluginError keeps message, code, details and mcp_error_code", async (a) => {
  await withGateway(listenFor(a), [{ name: "RaiseStructured" }], async (manager) => {
    const error = await expectPluginError(
      manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
    );
    assert.equal(error.error.message, "quota exhausted");
    assert.equal(error.error.plugin_name, "RaiseStructured");
    assert.equal(error.error.code, "QUOTA");
    // gRPC keeps an error's details (the raw Unix transport drops them).
    assert.deepEqual(error.error.details, { limit: 5 });
    assert.equal(error.error.mcp_error_code, -32002);
  });
});

both("an unknown plugin fails initialize: the server has no config for it", async (a) => {
  const server = await startPythonGrpcServer(SERVER_CONFIG, listenFor(a));
  const plugin = new GrpcExternalPlugin(
    { name: "Nope", kind: "external", hooks: ["tool_pre_invoke"], grpc: grpcBlock(server) },
    { retryDelaysMs: [50, 50] },
  );
  try {
    const error = await plugin.initialize().then(() => null, (e) => e);
    assert.ok(error instanceof PluginError, String(error));
    // GetPluginConfig answered found=false (an empty message): no retry, a clear error.
    assert.equal(error.error.message, "Unable to retrieve configuration for external plugin");
    assert.equal(error.error.plugin_name, "Nope");
  } finally {
    // The plugin does not close its channel when initialize() fails (see the last test).
    await plugin.shutdown();
    await server.kill();
  }
});

both("a listed plugin the server could not load gets the 'Unable to find' error", async (a) => {
  await withGateway(listenFor(a), [{ name: "Ghost" }], async (manager) => {
    // Its config is found (hooks come from it), but no instance exists on the server.
    assert.deepEqual(manager.getPlugin("Ghost")?.config.hooks, ["tool_pre_invoke"]);
    const error = await expectPluginError(
      manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
    );
    assert.equal(
      error.error.message,
      "Unable to find tool_pre_invoke for plugin Ghost.  Make sure the plugin is registered.",
    );
    assert.equal(error.error.plugin_name, "Ghost");
  });
});

both("a hook the plugin does not declare gets the 'Unable to find' error", async (a) => {
  await withGateway(
    listenFor(a),
    [{ name: "Allow", hooks: ["tool_post_invoke"] }],
    async (manager) => {
      // The local hooks win the merge, so only tool_post_invoke is registered here.
      assert.equal(manager.hasHooksFor("tool_pre_invoke"), false);
      const error = await expectPluginError(
        manager.invokeHook("tool_post_invoke", { name: "search", result: "x" }, globalContext()),
      );
      assert.equal(
        error.error.message,
        "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
      );
      assert.equal(error.error.plugin_name, "Allow");
    },
  );
});

both("local and global context state round-trips across pre and post hooks", async (a) => {
  await withGateway(listenFor(a), [{ name: "Stateful" }], async (manager) => {
    const global: GlobalContext = {
      ...globalContext(),
      state: { gateway_seed: "seed" },
      metadata: { gateway_meta: "m" },
    };
    const [pre, contexts] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, global);
    assert.equal(pre.continue_processing, true);
    assert.deepEqual(pre.metadata, {
      saw_global_state: { gateway_seed: "seed", stateful_seen: true },
      saw_request_id: "req-1",
      saw_server_id: "srv-1",
      saw_tenant_id: "ten-1",
      saw_user: "alice",
    });
    // The global state written by the python plugin is merged into ours.
    assert.deepEqual(global.state, { gateway_seed: "seed", stateful_seen: true });
    assert.deepEqual(global.metadata, { gateway_meta: "m" });
    assert.ok(contexts, "expected a context table");
    const locals = Object.values(contexts).map((c) => ({ state: c.state, metadata: c.metadata }));
    assert.deepEqual(locals, [{
      state: { seen_q: "hello", calls: 1 },
      metadata: { phase: "pre" },
    }]);

    const [post, after] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "search", result: { text: "hi" } },
      global,
      { localContexts: contexts },
    );
    assert.deepEqual(post.metadata, { local_state_before_post: { seen_q: "hello", calls: 1 } });
    assert.ok(after, "expected a context table");
    const localsAfter = Object.values(after).map((c) => ({ state: c.state, metadata: c.metadata }));
    assert.deepEqual(localsAfter, [
      { state: { seen_q: "hello", calls: 2 }, metadata: { phase: "post" } },
    ]);
    assert.deepEqual(global.state, { gateway_seed: "seed", stateful_seen: true });
  });
});

both("config merge: local keys win, hooks, mode and config come from the server", async (a) => {
  await withGateway(
    listenFor(a),
    [{ name: "Allow", priority: 5, description: "local description", tags: ["local"] }],
    async (manager, server) => {
      const config = manager.getPlugin("Allow")!.config;
      // Local (gateway YAML): priority, description, tags.
      assert.equal(config.priority, 5);
      assert.equal(config.description, "local description");
      assert.deepEqual(config.tags, ["local"]);
      // Remote (the python server): hooks, mode, on_error, config (numbers back as integers).
      assert.deepEqual(config.hooks, ["tool_pre_invoke"]);
      assert.equal(config.mode, "sequential");
      assert.equal(config.on_error, "fail");
      assert.deepEqual(config.config, { secret: "remote-value", limits: { max: 3 } });
      // Kind and transport block stay local.
      assert.equal(config.kind, "external");
      const block = grpcBlock(server);
      if (a === "uds") assert.equal(config.grpc?.uds, block.uds);
      else assert.equal(config.grpc?.target, block.target);
      const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
      assert.equal(result.continue_processing, true);
    },
  );
});

both("a violation of a plugin in server-side transform mode is suppressed", async (a) => {
  await withGateway(listenFor(a), [{ name: "BlockSoft", mode: "sequential" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    // wire.md §1.2 step 4: the server applies its own mode, whatever the gateway says.
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation ?? null, null);
  });
});

both("a structured user, unicode and nulls reach the plugin unchanged", async (a) => {
  await withGateway(listenFor(a), [{ name: "Echo" }], async (manager) => {
    const args = { text: "h\u00e9llo \u2713 \u{1f600}", none: null, flag: false, list: [1.5, "x"] };
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "echo", args }, {
      request_id: "req-u",
      user: { id: "u1", roles: ["admin"], active: true },
    });
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.metadata, {
      args,
      user: { id: "u1", roles: ["admin"], active: true },
      request_id: "req-u",
    });
  });
});

both("concurrent calls multiplex on one channel and each gets its own reply", async (a) => {
  await withGateway(listenFor(a), [{ name: "Echo" }], async (manager) => {
    await assertConcurrentEchoReplies(manager);
  });
});

Deno.test({
  name:
    "deno gateway -> python grpc server with mTLS: a client certificate gets through, a missing one is refused",
  ...SANITIZE,
  async fn() {
    await using pki = await createTestPki();
    const listen: PythonGrpcListen = {
      port: freePort(),
      tls: {
        certfile: pki.serverCert,
        keyfile: pki.serverKey,
        ca_certs: pki.caCert,
        client_auth: "require",
      },
    };
    const trusted = { ca_bundle: pki.caCert, certfile: pki.clientCert, keyfile: pki.clientKey };
    await withGateway(listen, [{ name: "Block" }], async (manager) => {
      assert.equal(manager.pluginCount, 1);
      const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
      assert.equal(result.violation?.code, "DENY_WORD");
      assert.equal(manager.getPlugin("Block")?.config.grpc?.target?.startsWith("localhost:"), true);
    }, { tls: trusted });

    // Without a client certificate the reference server (client_auth require) refuses the
    // handshake: every config fetch attempt fails with UNAVAILABLE.
    const server = await startPythonGrpcServer(SERVER_CONFIG, listen);
    const plugin = new GrpcExternalPlugin(
      { name: "Block", kind: "external", grpc: grpcBlock(server, { ca_bundle: pki.caCert }) },
      { retryDelaysMs: [50, 50] },
    );
    try {
      const error = await plugin.initialize().then(() => null, (e) => e);
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.error.message, /connection failed after 3 attempts: .*UNAVAILABLE/);
    } finally {
      await plugin.shutdown();
      await server.kill();
    }
    await settleBackoffTimers();
  },
});

Deno.test({
  name:
    "deno gateway -> python grpc server with TLS: host-name and IP-literal targets verify against the CA",
  ...SANITIZE,
  async fn() {
    await using pki = await createTestPki();
    const listen: PythonGrpcListen = {
      port: freePort(),
      tls: { certfile: pki.serverCert, keyfile: pki.serverKey, client_auth: "none" },
    };
    const server = await startPythonGrpcServer(SERVER_CONFIG, listen);
    try {
      for (const target of [`localhost:${listen.port}`, `127.0.0.1:${listen.port}`]) {
        const manager = new PluginManager(
          parseConfig({
            plugins: [{
              name: "Allow",
              kind: "external",
              grpc: { target, tls: { ca_bundle: pki.caCert } },
            }],
          }),
        );
        try {
          await manager.initialize();
          assert.equal(manager.pluginCount, 1, target);
          const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, {
            request_id: "r",
          });
          assert.equal(result.metadata?.allowed_by, "python", target);
        } finally {
          await manager.shutdown();
        }
      }
    } catch (error) {
      if (error instanceof Error) error.message += `\nreference server log:\n${server.stderr()}`;
      throw error;
    } finally {
      await server.kill();
    }
  },
});

Deno.test({
  name:
    "deno gateway -> python grpc server: a plugin the manager skips at initialize leaves no channel open",
  ...SANITIZE,
  async fn() {
    // Known bug (see the report): GrpcExternalPlugin.initialize() throws after opening its
    // channel, and PluginManager skips the plugin without calling its shutdown(), so the
    // channel's timers and subchannel stay alive and the sanitizers report them. Kept last in
    // the file so the leaked timers cannot spill into other tests. Skipping needs
    // fail_on_plugin_error: false since issue 12 (the default fails closed).
    const warnings: string[] = [];
    await withGateway(
      listenFor("tcp"),
      [{ name: "Nope", hooks: ["tool_pre_invoke"] }, { name: "Echo" }],
      (manager) => {
        assert.equal(manager.pluginCount, 1);
        assert.equal(manager.getPlugin("Nope"), null);
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(warnings[0], /Nope.*Unable to retrieve configuration for external plugin/);
        return Promise.resolve();
      },
      {
        manager: {
          failOnPluginError: false,
          logger: { warn: (m: string) => warnings.push(m), info: () => {} },
        },
      },
    );
  },
});

both(
  "a traced call carries traceparent/tracestate in metadata; the reference answers as usual",
  async (a) => {
    const provider = tracingProvider();
    await withGateway(listenFor(a), [{ name: "Allow" }, { name: "Block" }], async (manager) => {
      const [result] = await withTraceId(
        "t1",
        () => manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
      );
      assert.equal(result.continue_processing, false);
      assertDenyWordViolation(result.violation!);
      assert.equal(result.metadata?.allowed_by, "python");
      assert.equal(provider.sent, 2, "both plugin calls sent the trace context");
    }, { manager: { observability: provider } });
  },
);
