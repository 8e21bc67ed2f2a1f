/**
 * The gateway-side core of external plugins (issue 10 item 1): one retry helper with one
 * attempt-counting convention, and {@linkcode RemotePlugin} driving a transport's connection
 * (re-send only what was not delivered, except once to another replica when the connection
 * died after delivery; error mapping, allow fast path, context write-back,
 * decoding with the plugin's own registry), plus the health probe of every transport against a
 * real server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HookRegistry, type PluginConfigInput, PluginContext, PluginError } from "../mod.ts";
import type { HookCallOptions } from "../src/plugin.ts";
import {
  type ConnectionPolicy,
  type RemoteCall,
  RemoteCallError,
  type RemoteConnection,
  RemotePlugin,
  type RemoteReply,
} from "../src/external/remote_plugin.ts";
import { backoffMs, RetriesExhausted, retry } from "../src/external/retry.ts";
import { GrpcExternalPlugin } from "../src/external/grpc/client.ts";
import { McpExternalPlugin } from "../src/external/mcp/client.ts";
import { UnixSocketExternalPlugin } from "../src/external/unix/client.ts";
import { FAST_BACKOFF, settleBackoffTimers } from "./helpers/grpc_fixtures.ts";
import { EMAIL_PRE_SEND, emailRegistry } from "./helpers/email_hooks.ts";
import { serveOn } from "./helpers/email_served.ts";
import { within } from "./helpers/unix_fixtures.ts";

Deno.test("retry counts every try, the first included, and doubles its sleeps", async () => {
  let calls = 0;
  const started = performance.now();
  const error = await retry(() => {
    calls++;
    return Promise.reject(new Error(`try ${calls}`));
  }, { attempts: 3, delayMs: 40 }).catch((e) => e);
  const elapsed = performance.now() - started;
  assert.ok(error instanceof RetriesExhausted);
  assert.equal(error.attempts, 3);
  assert.equal(calls, 3);
  assert.equal((error.cause as Error).message, "try 3");
  assert.ok(elapsed >= 120, `slept 40 + 80 ms, took ${elapsed} ms`);
  assert.ok(elapsed < 2_000, `took ${elapsed} ms`);
});

Deno.test("backoff doubles with at most 10 % jitter on top", () => {
  for (let i = 0; i < 50; i++) {
    const first = backoffMs({ attempts: 4, delayMs: 100 }, 1);
    const third = backoffMs({ attempts: 4, delayMs: 100 }, 3);
    assert.ok(first >= 100 && first <= 110, String(first));
    assert.ok(third >= 400 && third <= 440, String(third));
  }
});

Deno.test("retry rethrows at once what shouldRetry refuses", async () => {
  let calls = 0;
  const refused = new Error("permission denied");
  const error = await retry(
    () => {
      calls++;
      return Promise.reject(refused);
    },
    { attempts: 5, delayMs: 1000 },
    { shouldRetry: (e) => e !== refused },
  ).catch((e) => e);
  assert.equal(error, refused);
  assert.equal(calls, 1);
});

/** An in-memory connection that answers from a script and counts what it was sent. */
class ScriptedConnection implements RemoteConnection {
  readonly target = "memory";
  connected = true;
  connects = 0;
  sent: RemoteCall[] = [];
  readonly policy: ConnectionPolicy = {
    initial: { attempts: 2, delayMs: 1 },
    initialFailure: (attempts) => `unreachable after ${attempts}`,
    configTimeoutMs: 1_000,
    remoteConfig: "merge",
    reconnect: { attempts: 2, delayMs: 1 },
    sends: 3,
    resendDelayMs: 1,
    invalidReply: "invalid reply",
  };
  constructor(readonly script: (call: RemoteCall, n: number) => RemoteReply) {}
  connect(): Promise<void> {
    this.connects++;
    this.connected = true;
    return Promise.resolve();
  }
  fetchConfig(): Promise<Record<string, unknown>> {
    return Promise.resolve({ name: "Scripted", kind: "external", priority: 7 });
  }
  invoke(call: RemoteCall): Promise<RemoteReply> {
    this.sent.push(call);
    try {
      return Promise.resolve(this.script(call, this.sent.length));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  probe(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.connected = false;
    return Promise.resolve();
  }
}

const ENTRY: PluginConfigInput = {
  name: "Scripted",
  kind: "external",
  hooks: [EMAIL_PRE_SEND],
  // Only for the config's validation: the scripted connection reaches nothing.
  unix_socket: { path: "/tmp/cpex-remote-plugin-test-unused.sock" },
};

function callOptions(): HookCallOptions {
  return { signal: new AbortController().signal, extensions: null };
}

async function scripted(
  script: (call: RemoteCall, n: number) => RemoteReply,
): Promise<{ plugin: RemotePlugin; connection: ScriptedConnection }> {
  const connection = new ScriptedConnection(script);
  const plugin = new RemotePlugin(ENTRY, () => connection, { hookRegistry: emailRegistry() });
  await plugin.initialize();
  return { plugin, connection };
}

function call(plugin: RemotePlugin, context = new PluginContext({ request_id: "r1" })) {
  return plugin.handleHook(
    EMAIL_PRE_SEND,
    { recipient: "ana@example.com", subject: "" },
    context,
    callOptions(),
  );
}

Deno.test("the core merges the remote config under the local entry", async () => {
  const { plugin } = await scripted(() => ({ allow: true }));
  assert.equal(plugin.config.priority, 7);
  assert.deepEqual(plugin.config.hooks, [EMAIL_PRE_SEND]);
  await plugin.shutdown();
});

Deno.test("the core re-sends a request that was not delivered, after reconnecting", async () => {
  const { plugin, connection } = await scripted((_, n) => {
    if (n < 3) throw new RemoteCallError("refused", { retryable: true });
    return { allow: true };
  });
  const result = await call(plugin);
  assert.equal(result.continue_processing, true);
  assert.equal(connection.sent.length, 3);
  assert.equal(connection.connects, 1 + 2, "initial connect, then one per re-send");
  await plugin.shutdown();
});

Deno.test("the core never re-sends a delivered request", async () => {
  const { plugin, connection } = await scripted(() => {
    throw new RemoteCallError("lost after sending", { retryable: false });
  });
  await assert.rejects(call(plugin), (error: unknown) => {
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "lost after sending");
    assert.equal(error.error.plugin_name, "Scripted");
    return true;
  });
  assert.equal(connection.sent.length, 1);
  await plugin.shutdown();
});

/** Two scripted replicas behind one plugin (`unix_socket.paths`, reaching nothing). */
async function twoReplicas(
  scripts: [
    (call: RemoteCall, n: number) => RemoteReply,
    (call: RemoteCall, n: number) => RemoteReply,
  ],
  extra: Partial<PluginConfigInput> = {},
): Promise<{ plugin: RemotePlugin; connections: ScriptedConnection[] }> {
  const connections = scripts.map((script) => new ScriptedConnection(script));
  let next = 0;
  const plugin = new RemotePlugin(
    {
      ...ENTRY,
      unix_socket: { paths: ["/tmp/cpex-rp-test-a.sock", "/tmp/cpex-rp-test-b.sock"] },
      // No probe during the test.
      health_check: { interval: 3600, timeout: 1, unhealthy_threshold: 1, healthy_threshold: 1 },
      ...extra,
    },
    () => connections[next++],
    { hookRegistry: emailRegistry() },
  );
  await plugin.initialize();
  return { plugin, connections };
}

const LOST = () => {
  throw new RemoteCallError("connection closed by the server", { connectionLost: true });
};

Deno.test("with replicas, a delivered call whose connection died goes once to another replica", async () => {
  // Both orders: whichever replica the balancer picks first loses the connection.
  for (const lostOn of [0, 1]) {
    const { plugin, connections } = await twoReplicas(
      lostOn === 0 ? [LOST, () => ({ allow: true })] : [() => ({ allow: true }), LOST],
    );
    for (let i = 0; i < 4; i++) {
      const result = await call(plugin);
      assert.equal(result.continue_processing, true);
    }
    assert.ok(connections[lostOn].sent.length >= 1, "the dying replica was tried");
    // What the metrics read (cpex.remote.resends), zeroed once taken.
    assert.deepEqual(plugin.takeCounts(), {
      resent: connections[lostOn].sent.length,
      circuit_open: 0,
    });
    assert.deepEqual(plugin.takeCounts(), { resent: 0, circuit_open: 0 });
    assert.equal(connections[1 - lostOn].sent.length, 4, "every call answered by the other");
    await plugin.shutdown();
  }
});

Deno.test("a call is re-sent at most once, and only on a connection loss", async () => {
  const both = await twoReplicas([LOST, LOST]);
  await assert.rejects(call(both.plugin), /connection closed by the server/);
  assert.deepEqual(both.connections.map((c) => c.sent.length), [1, 1]);
  await both.plugin.shutdown();
  // A delivered failure that is not a connection loss (a bad reply) is never re-sent.
  const bad = () => {
    throw new RemoteCallError("invalid response");
  };
  const other = await twoReplicas([bad, bad]);
  await assert.rejects(call(other.plugin), /invalid response/);
  assert.equal(other.connections[0].sent.length + other.connections[1].sent.length, 1);
  await other.plugin.shutdown();
});

Deno.test("retry_on_connection_loss: false, or one endpoint: a delivered call is never re-sent", async () => {
  const off = await twoReplicas([LOST, LOST], { retry_on_connection_loss: false });
  await assert.rejects(call(off.plugin), /connection closed by the server/);
  assert.equal(off.connections[0].sent.length + off.connections[1].sent.length, 1);
  await off.plugin.shutdown();
  const connection = new ScriptedConnection(LOST);
  const single = new RemotePlugin({ ...ENTRY, retry_on_connection_loss: true }, () => connection, {
    hookRegistry: emailRegistry(),
  });
  await single.initialize();
  await assert.rejects(call(single), /connection closed by the server/);
  assert.equal(connection.sent.length, 1, "never twice to the same server");
  await single.shutdown();
});

Deno.test("the core gives up after the policy's sends and names them", async () => {
  const { plugin, connection } = await scripted(() => {
    throw new RemoteCallError("refused", { retryable: true });
  });
  await assert.rejects(call(plugin), /^PluginError: Request failed after 3 attempts: refused$/);
  assert.equal(connection.sent.length, 3);
  await plugin.shutdown();
});

Deno.test("the core maps a server's error, writes the context back and decodes with the plugin's registry", async () => {
  const { plugin } = await scripted((_, n) =>
    n === 1
      ? { error: { message: "boom", code: "E1", details: { why: 1 }, mcp_error_code: -32000 } }
      : {
        result: { continue_processing: true, modified_payload: { recipient: "b@example.com" } },
        context: { state: { seen: true }, globalState: { g: 1 } },
      }
  );
  await assert.rejects(call(plugin), (error: unknown) => {
    assert.ok(error instanceof PluginError);
    assert.deepEqual(error.error, {
      message: "boom",
      plugin_name: "Scripted",
      code: "E1",
      details: { why: 1 },
      mcp_error_code: -32000,
    });
    return true;
  });
  const context = new PluginContext({ request_id: "r2" });
  const result = await call(plugin, context);
  // The plugin's own registry parsed the payload: its schema defaults `subject` to "".
  assert.deepEqual(result.modified_payload, { recipient: "b@example.com", subject: "" });
  assert.deepEqual(context.state, { seen: true });
  assert.deepEqual(context.global_context.state, { g: 1 });
  await plugin.shutdown();
});

Deno.test("a hook the plugin's registry lacks is refused before anything is sent", async () => {
  const connection = new ScriptedConnection(() => ({ allow: true }));
  const plugin = new RemotePlugin(ENTRY, () => connection, { hookRegistry: new HookRegistry() });
  await plugin.initialize();
  await assert.rejects(call(plugin), /No result type registered for hook: email_pre_send/);
  assert.equal(connection.sent.length, 0);
  await plugin.shutdown();
});

for (const transport of ["unix", "grpc", "http"] as const) {
  Deno.test(`the health probe answers over ${transport}, and fails once the server is gone`, async () => {
    const served = await serveOn(transport);
    const options = { hookRegistry: emailRegistry() };
    const plugin = transport === "unix"
      ? new UnixSocketExternalPlugin(served.entry, options)
      : transport === "grpc"
      ? new GrpcExternalPlugin(served.entry, { ...options, channelOptions: FAST_BACKOFF })
      : new McpExternalPlugin(served.entry, options);
    try {
      await within(plugin.initialize(), "initialize");
      const signal = new AbortController().signal;
      await within(plugin.probe(signal), "probe");
      await served.close();
      await assert.rejects(within(plugin.probe(signal), "probe of a gone server"));
    } finally {
      await plugin.shutdown();
      await served.close().catch(() => {});
      // The channel's reconnect backoff (after the failed probe) outlives its close briefly.
      if (transport === "grpc") await settleBackoffTimers(500);
    }
  });
}
