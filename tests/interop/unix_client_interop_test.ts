/**
 * Direction B of the raw Unix socket interop: OUR `PluginManager` as the gateway (config
 * entries with `kind: external` + `unix_socket:`, served by `src/external/unix/client.ts`)
 * against the Python reference's Unix plugin server runtime (cpex 0.1.4) hosting the Python
 * test plugins of `plugins/unix_interop.py`. Each test starts the runtime on a fresh socket,
 * waits for `READY`, runs one scenario and stops the runtime in `finally`.
 *
 * Run: `deno task test:interop` (needs `--allow-net` for `unix:` sockets, `--allow-run`).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type GlobalContext,
  parseConfig,
  PluginManager,
  type PluginManagerOptions,
} from "../../mod.ts";
import {
  assertConcurrentEchoReplies,
  assertDenyWordViolation,
  expectPluginError,
  globalContext,
  PRE_PAYLOAD,
  SANITIZE,
} from "./gateway_scenarios.ts";
import { INTEROP_DIR, startPythonUnixServer, uniqueSocketPath } from "./unix_helpers.ts";

const SERVER_CONFIG = `${INTEROP_DIR}plugins/unix_interop.yaml`;

interface Entry {
  name: string;
  hooks: string[];
  mode?: string;
  on_error?: string;
  priority?: number;
  /** Extra `unix_socket` settings (timeout, reconnect_attempts, ...). */
  socket?: Record<string, unknown>;
}

function gatewayConfig(path: string, entries: Entry[]) {
  return parseConfig({
    plugins: entries.map(({ socket, ...e }) => ({
      kind: "external",
      mode: "sequential",
      on_error: "fail",
      ...e,
      unix_socket: { path, timeout: 10, reconnect_attempts: 1, reconnect_delay: 0.05, ...socket },
    })),
  });
}

/**
 * Starts the reference's Unix runtime, builds our gateway manager for `entries` on its socket,
 * runs `fn`, then shuts both down.
 */
async function withGateway<T>(
  entries: Entry[],
  fn: (manager: PluginManager) => Promise<T>,
  options: PluginManagerOptions = {},
): Promise<T> {
  const path = uniqueSocketPath("b");
  const server = await startPythonUnixServer(SERVER_CONFIG, path);
  try {
    const manager = new PluginManager(gatewayConfig(path, entries), { timeout: 15, ...options });
    await manager.initialize();
    try {
      return await fn(manager);
    } finally {
      await manager.shutdown();
    }
  } catch (error) {
    if (error instanceof Error) error.message += `\nreference server log:\n${server.stderr()}`;
    throw error;
  } finally {
    await server.stop();
  }
}

Deno.test({
  name: "deno gateway: an allowing python plugin lets the request through with its metadata",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Allow", hooks: ["tool_pre_invoke"] }], async (manager) => {
      assert.equal(manager.pluginCount, 1);
      const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
      assert.equal(result.continue_processing, true);
      assert.equal(result.modified_payload ?? null, null);
      assert.equal(result.violation ?? null, null);
      // Integers travel as protobuf doubles: the python plugin sees 3.0.
      assert.deepEqual(result.metadata, {
        allowed_by: "python",
        arg_types: { q: "str", n: "float", tags: "list" },
      });
    });
  },
});

Deno.test({
  name: "deno gateway: a python plugin's modified payload replaces the request payload",
  ...SANITIZE,
  async fn() {
    await withGateway(
      [{ name: "Modify", hooks: ["tool_pre_invoke"], mode: "transform" }],
      async (manager) => {
        const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
        assert.equal(result.continue_processing, true);
        assert.deepEqual(result.modified_payload, {
          name: "search",
          args: { q: "HELLO", n: 3, tags: ["a", "b"], added: true },
          headers: null,
        });
        assert.deepEqual(result.metadata, { modified_by: "python" });
      },
    );
  },
});

Deno.test({
  name: "deno gateway: a python violation keeps code, reason, details and mcp_error_code",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Block", hooks: ["tool_pre_invoke"] }], async (manager) => {
      const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
      assert.equal(result.continue_processing, false);
      assert.equal(result.modified_payload ?? null, null);
      const violation = result.violation!;
      assert.ok(violation, "expected a violation");
      // Its plugin_name is stamped by our executor (never on the wire).
      assertDenyWordViolation(violation);
    });
  },
});

Deno.test({
  name: "deno gateway: a raising python plugin fails the hook when the gateway says on_error fail",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Raise", hooks: ["tool_pre_invoke"] }], async (manager) => {
      const error = await expectPluginError(
        manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
      );
      assert.equal(error.error.message, "ValueError('boom from python')");
      assert.equal(error.error.plugin_name, "Raise");
      assert.equal(error.error.mcp_error_code, -32603);
    });
  },
});

Deno.test({
  name: "deno gateway: a raising python plugin is skipped when the gateway says on_error ignore",
  ...SANITIZE,
  async fn() {
    await withGateway(
      [{ name: "Raise", hooks: ["tool_pre_invoke"], on_error: "ignore" }],
      async (manager) => {
        const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
        assert.equal(result.continue_processing, true);
        assert.equal(result.violation ?? null, null);
        assert.equal(result.modified_payload ?? null, null);
        const record = result.executions.find((r) => r.plugin_name === "Raise");
        assert.equal(record?.status, "error");
        assert.match(String(record?.reason), /boom from python/);
      },
    );
  },
});

Deno.test({
  name:
    "deno gateway: a python PluginError keeps message, code and mcp_error_code (details dropped)",
  ...SANITIZE,
  async fn() {
    await withGateway(
      [{ name: "RaiseStructured", hooks: ["tool_pre_invoke"] }],
      async (manager) => {
        const error = await expectPluginError(
          manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
        );
        assert.equal(error.error.message, "quota exhausted");
        assert.equal(error.error.plugin_name, "RaiseStructured");
        assert.equal(error.error.code, "QUOTA");
        assert.equal(error.error.mcp_error_code, -32002);
        // The reference's Unix server never sends an error's details (wire.md §6.2).
        assert.deepEqual(error.error.details ?? {}, {});
      },
    );
  },
});

Deno.test({
  name: "deno gateway: an unknown plugin name gets the reference's 'Unable to find' error",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Nope", hooks: ["tool_pre_invoke"] }], async (manager) => {
      // Initialization tolerated the config check's "not found".
      assert.equal(manager.pluginCount, 1);
      const error = await expectPluginError(
        manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext()),
      );
      assert.equal(
        error.error.message,
        "Unable to find tool_pre_invoke for plugin Nope.  Make sure the plugin is registered.",
      );
      assert.equal(error.error.plugin_name, "Nope");
    });
  },
});

Deno.test({
  name: "deno gateway: a hook the python plugin does not declare gets the 'Unable to find' error",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Allow", hooks: ["tool_post_invoke"] }], async (manager) => {
      const error = await expectPluginError(
        manager.invokeHook("tool_post_invoke", { name: "search", result: "x" }, globalContext()),
      );
      assert.equal(
        error.error.message,
        "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
      );
      assert.equal(error.error.plugin_name, "Allow");
    });
  },
});

Deno.test({
  name: "deno gateway: local and global context state round-trips across pre and post hooks",
  ...SANITIZE,
  async fn() {
    await withGateway(
      [{ name: "Stateful", hooks: ["tool_pre_invoke", "tool_post_invoke"] }],
      async (manager) => {
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
        assert.ok(contexts, "expected a context table");
        const locals = Object.values(contexts).map((c) => ({
          state: c.state,
          metadata: c.metadata,
        }));
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
      },
    );
  },
});

Deno.test({
  name: "deno gateway: several plugins on one python server run in priority order in one chain",
  ...SANITIZE,
  async fn() {
    await withGateway(
      [
        { name: "Block", hooks: ["tool_pre_invoke"], priority: 30 },
        { name: "Modify", hooks: ["tool_pre_invoke"], priority: 10 },
        { name: "Allow", hooks: ["tool_pre_invoke"], priority: 20 },
      ],
      async (manager) => {
        const [result] = await manager.invokeHook("tool_pre_invoke", PRE_PAYLOAD, globalContext());
        assert.equal(result.continue_processing, false);
        // Block saw Modify's upper-cased argument.
        assert.deepEqual(result.violation?.details, {
          word: "HELLO",
          positions: [0, 4],
          nested: { strict: true },
        });
        assert.deepEqual(
          result.executions.map((r) => r.plugin_name),
          ["Modify", "Allow", "Block"],
        );
      },
    );
  },
});

Deno.test({
  name: "deno gateway: a structured user, unicode and nulls reach the python plugin unchanged",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Echo", hooks: ["tool_pre_invoke"] }], async (manager) => {
      const args = {
        text: "h\u00e9llo \u2713 \u{1f600}",
        none: null,
        flag: false,
        list: [1.5, "x"],
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
  },
});

Deno.test({
  name: "deno gateway: after a read timeout the next call gets its own reply, not the late one",
  ...SANITIZE,
  async fn() {
    await withGateway(
      [{ name: "Echo", hooks: ["tool_pre_invoke"], socket: { timeout: 0.5 } }],
      async (manager) => {
        const slow = { name: "echo", args: { i: 1, sleep: 1.5 } };
        const error = await expectPluginError(
          manager.invokeHook("tool_pre_invoke", slow, { request_id: "r-1" }),
        );
        assert.equal(error.error.message, "Request timed out after 0.5s");
        assert.equal(error.error.plugin_name, "Echo");
        // Wait until the late reply to call 1 has been written by the server.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        for (const i of [2, 3]) {
          const [result] = await manager.invokeHook(
            "tool_pre_invoke",
            { name: "echo", args: { i } },
            { request_id: `r-${i}` },
          );
          assert.deepEqual(result.metadata, { args: { i }, user: null, request_id: `r-${i}` });
        }
      },
    );
  },
});

Deno.test({
  name: "deno gateway: concurrent calls to a python plugin each get their own reply in parallel",
  ...SANITIZE,
  async fn() {
    await withGateway([{ name: "Echo", hooks: ["tool_pre_invoke"] }], async (manager) => {
      await assertConcurrentEchoReplies(manager);
    });
  },
});

Deno.test({
  name: "deno gateway: a restarted python server is reached again through a fresh connection",
  ...SANITIZE,
  async fn() {
    const path = uniqueSocketPath("b");
    let server = await startPythonUnixServer(SERVER_CONFIG, path);
    try {
      const manager = new PluginManager(
        gatewayConfig(path, [{
          name: "Echo",
          hooks: ["tool_pre_invoke"],
          socket: { reconnect_attempts: 3, reconnect_delay: 0.1 },
        }]),
      );
      await manager.initialize();
      try {
        const call = (i: number) =>
          manager.invokeHook("tool_pre_invoke", { name: "echo", args: { i } }, {
            request_id: `r-${i}`,
          });
        assert.deepEqual((await call(1))[0].metadata?.args, { i: 1 });
        await server.stop();
        server = await startPythonUnixServer(SERVER_CONFIG, path);
        // The pooled connection died with the old server; the call is retried on a new one.
        assert.deepEqual((await call(2))[0].metadata?.args, { i: 2 });
        assert.deepEqual((await call(3))[0].metadata?.args, { i: 3 });
      } finally {
        await manager.shutdown();
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "deno gateway: a call to a stopped python server fails after the configured retries",
  ...SANITIZE,
  async fn() {
    const path = uniqueSocketPath("b");
    const server = await startPythonUnixServer(SERVER_CONFIG, path);
    try {
      const manager = new PluginManager(
        gatewayConfig(path, [{
          name: "Echo",
          hooks: ["tool_pre_invoke"],
          socket: { reconnect_attempts: 2, reconnect_delay: 0.05 },
        }]),
      );
      await manager.initialize();
      try {
        await server.stop();
        const error = await expectPluginError(
          manager.invokeHook("tool_pre_invoke", { name: "echo", args: {} }, { request_id: "r" }),
        );
        assert.equal(error.error.plugin_name, "Echo");
        assert.match(error.error.message, /^Failed to reconnect after 2 attempts: /);
      } finally {
        await manager.shutdown();
      }
    } finally {
      await server.stop();
    }
  },
});
