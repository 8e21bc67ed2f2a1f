/**
 * Direction B of the MCP interop: OUR `PluginManager` as the gateway (config entries with
 * `kind: external` + `mcp:`, served by `src/external/mcp/client.ts`) against the Python
 * reference's MCP runtime (cpex 0.1.4, `python -m cpex.framework.external.mcp.server.runtime`)
 * hosting the Python test plugins of `plugins/mcp_interop.yaml`, over both MCP transports:
 *
 * - `http`: the runtime with `PLUGINS_TRANSPORT=http` on a free port of 127.0.0.1 (started per
 *   test, awaited until `GET /health` answers, stopped in `finally`), reached at
 *   `http://localhost:PORT/mcp` (the runtime's DNS-rebinding check accepts `localhost:PORT`);
 * - `stdio`: our gateway starts the runtime as its child with `mcp: {proto: STDIO, cmd:
 *   [.venv/bin/python, -m, <runtime>], env: {PLUGINS_TRANSPORT: stdio, PLUGINS_CONFIG_PATH}}`.
 *
 * Run: `deno task test:interop`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type GlobalContext,
  parseConfig,
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
import {
  INTEROP_DIR,
  PY_MCP_CONFIG,
  PY_MCP_RUNTIME,
  PYTHON,
  requireVenv,
  startPythonMcpHttpServer,
} from "./mcp_helpers.ts";

type Transport = "http" | "stdio";

interface Entry {
  name: string;
  /** Keys the gateway sets locally (everything else comes from the remote config). */
  [key: string]: unknown;
}

function stdioBlock(): Record<string, unknown> {
  return {
    proto: "STDIO",
    cmd: [PYTHON, "-m", PY_MCP_RUNTIME],
    cwd: INTEROP_DIR, // the test plugins are imported as `plugins.<module>.<Class>`
    env: {
      PLUGINS_TRANSPORT: "stdio",
      PLUGINS_CONFIG_PATH: PY_MCP_CONFIG,
      PYTHONPATH: INTEROP_DIR,
      PYTHONDONTWRITEBYTECODE: "1",
      // The child's stderr is the gateway's: keep the expected load error of "Ghost" quiet.
      PLUGINS_LOG_LEVEL: "CRITICAL",
    },
    reconnect_attempts: 1,
    reconnect_delay: 0.05,
  };
}

/**
 * Starts the reference server for `transport` (HTTP only: a STDIO child is started by the
 * gateway itself), builds our gateway for `entries`, runs `fn`, then shuts both down.
 */
async function withGateway<T>(
  transport: Transport,
  entries: Entry[],
  fn: (manager: PluginManager) => Promise<T>,
  options: PluginManagerOptions = {},
): Promise<T> {
  await requireVenv();
  const server = transport === "http" ? await startPythonMcpHttpServer(PY_MCP_CONFIG) : null;
  try {
    const mcp = server
      ? { proto: "STREAMABLEHTTP", url: server.url, reconnect_attempts: 1, reconnect_delay: 0.05 }
      : stdioBlock();
    const manager = new PluginManager(
      parseConfig({ plugins: entries.map((e) => ({ kind: "external", ...e, mcp })) }),
      { timeout: 15, ...options },
    );
    await manager.initialize();
    try {
      return await fn(manager);
    } finally {
      await manager.shutdown();
    }
  } catch (error) {
    if (server && error instanceof Error) {
      error.message += `\nreference server log:\n${server.log()}`;
    }
    throw error;
  } finally {
    await server?.stop();
  }
}

/** Registers `fn` as one test per transport. */
function both(name: string, fn: (transport: Transport) => Promise<void>): void {
  for (const transport of ["http", "stdio"] as const) {
    Deno.test({
      name: `deno gateway -> python ${transport} server: ${name}`,
      ...SANITIZE,
      fn: () => fn(transport),
    });
  }
}

both("an allowing plugin lets the request through; ints stay ints over JSON", async (t) => {
  await withGateway(t, [{ name: "Allow" }], async (manager) => {
    assert.equal(manager.pluginCount, 1);
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload ?? null, null);
    assert.equal(result.violation ?? null, null);
    assert.deepEqual(result.metadata, {
      allowed_by: "python",
      config: { secret: "remote-value", limits: { max: 3 } },
      // JSON keeps integers (the protobuf transports turn 3 into 3.0).
      arg_types: { q: "str", n: "int", tags: "list" },
    });
  });
});

both("a python plugin's modified payload replaces the request payload", async (t) => {
  await withGateway(t, [{ name: "Modify", mode: "transform" }], async (manager) => {
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

both("a violation keeps code, reason, description, details and mcp_error_code", async (t) => {
  await withGateway(t, [{ name: "Block" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload ?? null, null);
    const violation = result.violation!;
    assert.ok(violation, "expected a violation");
    // Its plugin_name is stamped by our executor (never on the wire).
    assertDenyWordViolation(violation);
  });
});

both("a raising plugin fails the hook when the gateway says on_error fail", async (t) => {
  await withGateway(t, [{ name: "Raise", on_error: "fail" }], async (manager) => {
    const error = await expectPluginError(
      manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
    );
    assert.equal(error.error.message, "ValueError('boom from python')");
    assert.equal(error.error.plugin_name, "Raise");
    assert.equal(error.error.mcp_error_code, -32603);
  });
});

both("a raising plugin is skipped when the gateway says on_error ignore", async (t) => {
  await withGateway(t, [{ name: "Raise", on_error: "ignore" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation ?? null, null);
    const record = result.executions.find((r) => r.plugin_name === "Raise");
    assert.equal(record?.status, "error");
    assert.match(String(record?.reason), /boom from python/);
  });
});

both("a python PluginError keeps message, code, details and mcp_error_code", async (t) => {
  await withGateway(t, [{ name: "RaiseStructured" }], async (manager) => {
    const error = await expectPluginError(
      manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
    );
    // Over MCP the whole error model travels as JSON, details included.
    assert.equal(error.error.message, "quota exhausted");
    assert.equal(error.error.plugin_name, "RaiseStructured");
    assert.equal(error.error.code, "QUOTA");
    assert.deepEqual(error.error.details, { limit: 5 });
    assert.equal(error.error.mcp_error_code, -32002);
  });
});

both("a plugin the server lists but could not load gets the 'Unable to find' error", async (t) => {
  // "Ghost" is in the server's YAML (so get_plugin_config finds it) but its class is missing.
  await withGateway(t, [{ name: "Ghost" }], async (manager) => {
    assert.equal(manager.pluginCount, 1);
    const error = await expectPluginError(
      manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
    );
    assert.equal(
      error.error.message,
      "Unable to find tool_pre_invoke for plugin Ghost.  Make sure the plugin is registered.",
    );
    assert.equal(error.error.plugin_name, "Ghost");
    assert.equal(error.error.mcp_error_code, -32603);
  });
});

both(
  "with failOnPluginError false an unknown plugin is skipped, as the reference gateway does",
  async (t) => {
    await withGateway(t, [{ name: "Nope", hooks: ["tool_pre_invoke"] }], (manager) => {
      // get_plugin_config answered {} -> "Unable to retrieve configuration" -> skipped.
      assert.equal(manager.pluginCount, 0);
      assert.equal(manager.getPlugin("Nope") ?? null, null);
      return Promise.resolve();
    }, { failOnPluginError: false });
  },
);

both("an unknown plugin fails initialize by default (fail closed, issue 12)", async (t) => {
  await assert.rejects(
    withGateway(t, [{ name: "Nope" }], () => Promise.resolve()),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /Unable to retrieve configuration for external plugin Nope/);
      return true;
    },
  );
});

both("a hook the python plugin does not declare gets the 'Unable to find' error", async (t) => {
  await withGateway(t, [{ name: "Allow", hooks: ["tool_post_invoke"] }], async (manager) => {
    const error = await expectPluginError(
      manager.invokeHook("tool_post_invoke", { name: "search", result: "x" }, globalContext()),
    );
    assert.equal(
      error.error.message,
      "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
    );
    assert.equal(error.error.plugin_name, "Allow");
  });
});

both("local and global context state round-trip across pre and post hooks", async (t) => {
  await withGateway(t, [{ name: "Stateful" }], async (manager) => {
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
    assert.deepEqual(global.state, { gateway_seed: "seed", stateful_seen: true });
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
    const localsAfter = Object.values(after).map((c) => ({
      state: c.state,
      metadata: c.metadata,
    }));
    assert.deepEqual(localsAfter, [
      { state: { seen_q: "hello", calls: 2 }, metadata: { phase: "post" } },
    ]);
    assert.deepEqual(global.state, { gateway_seed: "seed", stateful_seen: true });
    // global_context.metadata never comes back (wire.md §1.6); ours is left as it was.
    assert.deepEqual(global.metadata, { gateway_meta: "m" });
  });
});

both("config merge: local keys win, hooks, mode and config come from the server", async (t) => {
  await withGateway(
    t,
    [{ name: "Allow", priority: 5, description: "local description", tags: ["local"] }],
    async (manager) => {
      const config = manager.getPlugin("Allow")!.config;
      assert.equal(config.priority, 5);
      assert.equal(config.description, "local description");
      assert.deepEqual(config.tags, ["local"]);
      assert.deepEqual(config.hooks, ["tool_pre_invoke"]);
      assert.equal(config.mode, "sequential");
      assert.equal(config.on_error, "fail");
      assert.deepEqual(config.config, { secret: "remote-value", limits: { max: 3 } });
      assert.equal(config.kind, "external");
      assert.equal(config.mcp?.proto, t === "http" ? "STREAMABLEHTTP" : "STDIO");
      // The hook is registered from the remote `hooks` and the plugin sees its own config.
      const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
      assert.deepEqual(result.metadata?.config, { secret: "remote-value", limits: { max: 3 } });
    },
  );
});

both("a violation of a plugin in server-side transform mode is suppressed", async (t) => {
  await withGateway(t, [{ name: "BlockSoft", mode: "sequential" }], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
    // wire.md §1.2 step 4 / §9.18: the server applies its own mode first.
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation ?? null, null);
  });
});

both("a structured user, unicode and nulls reach the python plugin unchanged", async (t) => {
  await withGateway(t, [{ name: "Echo" }], async (manager) => {
    const args = {
      text: "h\u00e9llo \u2713 \u{1f600}",
      none: null,
      flag: false,
      list: [1.5, "x"],
      n: 3,
    };
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

both("concurrent calls share one session and each gets its own reply", async (t) => {
  await withGateway(t, [{ name: "Echo" }], async (manager) => {
    await assertConcurrentEchoReplies(manager);
  });
});

Deno.test({
  name: "deno gateway -> python http server: a restarted server is reached again (reconnect)",
  ...SANITIZE,
  async fn() {
    let server = await startPythonMcpHttpServer(PY_MCP_CONFIG);
    const port = server.port;
    try {
      const manager = new PluginManager(parseConfig({
        plugins: [{
          name: "Echo",
          kind: "external",
          mcp: { proto: "STREAMABLEHTTP", url: server.url, reconnect_attempts: 5 },
        }],
      }));
      await manager.initialize();
      try {
        const call = (i: number) =>
          manager.invokeHook("tool_pre_invoke", { name: "echo", args: { i } }, {
            request_id: `r-${i}`,
          });
        assert.deepEqual((await call(1))[0].metadata?.args, { i: 1 });
        await server.stop();
        server = await startPythonMcpHttpServer(PY_MCP_CONFIG, { port });
        // The old session id is unknown to the new server (404) -> reconnect, retry once.
        assert.deepEqual((await call(2))[0].metadata?.args, { i: 2 });
        assert.deepEqual((await call(3))[0].metadata?.args, { i: 3 });
      } finally {
        await manager.shutdown();
      }
    } catch (error) {
      if (error instanceof Error) error.message += `\nreference server log:\n${server.log()}`;
      throw error;
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name:
    "deno gateway -> python stdio server: a child that dies fails the call, the next call restarts it",
  ...SANITIZE,
  async fn() {
    await withGateway("stdio", [{ name: "Crash" }], async (manager) => {
      const call = (args: Record<string, unknown>) =>
        manager.invokeHook("tool_pre_invoke", { name: "x", args }, { request_id: "r" });
      const [first] = await call({});
      const pid = first.metadata?.pid;
      assert.equal(typeof pid, "number");
      const error = await expectPluginError(call({ crash: true }));
      assert.equal(error.error.plugin_name, "Crash");
      assert.match(error.error.message, /MCP plugin server of Crash failed: .*code 3/);
      const [again] = await call({});
      assert.equal(again.continue_processing, true);
      assert.notEqual(again.metadata?.pid, pid, "expected a new child process");
    });
  },
});

both(
  "a traced call carries traceparent/tracestate in _meta; the reference answers as usual",
  async (t) => {
    const provider = tracingProvider();
    await withGateway(t, [{ name: "Allow" }, { name: "Block" }], async (manager) => {
      const [result] = await withTraceId(
        "t1",
        () => manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
      );
      assert.equal(result.continue_processing, false);
      assertDenyWordViolation(result.violation!);
      assert.equal(result.metadata?.allowed_by, "python");
      assert.equal(provider.sent, 2, "both plugin calls sent the trace context");
    }, { observability: provider });
  },
);
