/**
 * The gateway-side gRPC client (`GrpcExternalPlugin`, wire.md §4.3): loaded by the manager from
 * a YAML `grpc:` block, remote config merged under the local entry, the config-fetch retries,
 * every failure mapped to `PluginError` (gRPC status, `error` field with details, empty reply,
 * undecodable reply), cancellation through the hook's signal, and recovery after the plugin
 * server process is killed (SIGTERM or SIGKILL) and a new one started on the same port or
 * socket.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext, PluginError, PluginManager } from "../mod.ts";
import { encodeMessage } from "../src/external/proto/codec.ts";
import { toStruct } from "../src/external/proto/struct.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import {
  guardSession,
  type Http2Factories,
  installGoawayGuard,
} from "../src/external/grpc/goaway_guard.ts";
import { loadGrpcJs } from "../src/external/grpc/grpc_js.ts";
import { EventEmitter } from "node:events";
import http2 from "node:http2";
import {
  connectPlugin,
  FAST_BACKOFF,
  freePort,
  RawGrpcServer,
  settleBackoffTimers,
  socketPath,
  startGrpcServer,
  Subprocess,
  within,
} from "./helpers/grpc_fixtures.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";

const HOOKS = ["tool_pre_invoke"];
const payload = { name: "echo", args: { text: "hello" } };

function opts(signal = new AbortController().signal) {
  return { signal, extensions: null };
}

function remotePlugins(): ScriptedPlugin[] {
  return [
    new ScriptedPlugin(
      {
        name: "Remote",
        hooks: HOOKS,
        priority: 10,
        mode: "sequential",
        tags: ["remote"],
        config: { words: ["crap"] },
      },
      (p) => ({ modified_payload: { ...p, args: { text: "yikes" } } }),
    ),
  ];
}

Deno.test("the manager loads a grpc external plugin from YAML; local keys win, the rest comes from the remote", async () => {
  const server = await startGrpcServer(remotePlugins());
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-gc-" });
  try {
    await Deno.writeTextFile(
      `${dir}/gateway.yaml`,
      [
        "plugins:",
        "  - name: Remote",
        "    kind: external",
        "    priority: 5",
        "    grpc:",
        `      target: "${server.address}"`,
      ].join("\n") + "\n",
    );
    const manager = new PluginManager(`${dir}/gateway.yaml`);
    await manager.initialize();
    try {
      const plugin = manager.getPlugin("Remote")!;
      assert.equal(plugin.priority, 5, "local priority wins");
      assert.deepEqual(plugin.hooks, HOOKS, "hooks from the remote");
      assert.deepEqual(plugin.tags, ["remote"], "tags from the remote");
      assert.deepEqual(plugin.config.config, { words: ["crap"] }, "config from the remote");
      assert.equal(plugin.config.kind, "external");
      assert.equal(plugin.config.grpc?.target, server.address, "transport block stays local");

      const [result] = await manager.invokeHook("tool_pre_invoke", payload, {
        request_id: "req-1",
      });
      assert.equal(result.continue_processing, true);
      assert.deepEqual(result.modified_payload, {
        name: "echo",
        args: { text: "yikes" },
        headers: null,
      });
    } finally {
      await manager.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await server.close();
  }
});

Deno.test("the config fetch retries and then fails naming the attempts", async () => {
  // A port nobody listens on: bind a server, note its port, close it.
  const gone = await startGrpcServer([]);
  const address = gone.address;
  await gone.close();
  const started = performance.now();
  const error = await connectPlugin(address, { name: "Remote" }, {
    retryDelaysMs: [50, 100],
    channelOptions: FAST_BACKOFF,
  }).catch((e) => e);
  await settleBackoffTimers(250);
  assert.ok(error instanceof PluginError, String(error));
  assert.match(error.error.message, /^gRPC plugin 'Remote' connection failed after 3 attempts: /);
  assert.match(error.error.message, /UNAVAILABLE/);
  assert.ok(performance.now() - started >= 150, "slept between attempts");
});

function exampleServer(address: string): Subprocess {
  const flags = address.startsWith("/")
    ? [`--allow-net=unix:${address}`, `--allow-read=${address}`, `--allow-write=${address}`]
    : [`--allow-net=${address}`];
  return new Subprocess([
    "run",
    "--no-prompt",
    ...flags,
    GRPC_ENV_FLAG,
    new URL("../examples/grpc_server.ts", import.meta.url).pathname,
    address.startsWith("/") ? `unix:${address}` : address,
  ]);
}

async function stop(server: Subprocess, signal: Deno.Signal): Promise<void> {
  server.kill(signal);
  await server.finish().catch(() => {});
}

const validatorPayload = { name: "search", args: { query: "ok" } };

// The plugin server runs in its own process, killed and started again, as in production.
//
// SIGTERM stops the server gracefully (grpc-js tryShutdown sends HTTP/2 GOAWAY). On Deno 2.9.6
// a received GOAWAY used to crash the gateway process natively (nghttp2 assertion
// `stream->closed_next == NULL` or a segfault, denoland/deno#36788): Deno's node:http2 destroys
// the session from inside nghttp2's GOAWAY processing. The GOAWAY guard installed by
// loadGrpcJs() (src/external/grpc/goaway_guard.ts) defers that teardown; these tests prove the
// gateway survives and recovers. SIGKILL sends no GOAWAY.
for (const kind of ["tcp", "uds"] as const) {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    Deno.test({
      name:
        `the client recovers when the plugin server is killed (${signal}) and restarted (${kind})`,
    }, async () => {
      const address = kind === "tcp" ? `127.0.0.1:${freePort()}` : socketPath("rs");
      let server = exampleServer(address);
      let plugin: Awaited<ReturnType<typeof connectPlugin>> | null = null;
      try {
        await within(server.ready, "first server READY", 60_000);
        plugin = await connectPlugin(address, { name: "ArgumentValidator" });
        const ctx = new PluginContext({ request_id: "r" });
        const call = () => plugin!.handleHook("tool_pre_invoke", validatorPayload, ctx, opts());
        assert.equal((await call()).continue_processing, true);
        await stop(server, signal);

        // While the server is down, calls fail fast with a PluginError: UNAVAILABLE once the
        // channel has noticed the dropped connection. A call made before the client has read the
        // connection's end races it and fails INTERNAL ("socket has been ended"); that window
        // closes within a second.
        const downSince = Date.now();
        while (true) {
          const down = await within(
            call().catch((e) => e),
            "a call while the server is down",
            5_000,
          );
          assert.ok(down instanceof PluginError, String(down));
          if (/UNAVAILABLE/.test(down.error.message)) break;
          assert.match(down.error.message, /INTERNAL \(13\): .*ended by the other party/);
          assert.ok(Date.now() - downSince < 1_000, `still not UNAVAILABLE: ${down.error.message}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }

        server = exampleServer(address); // a killed server leaves its socket file: replaced
        await within(server.ready, "second server READY", 60_000);
        // The channel's reconnect backoff is capped at 1 s: a call succeeds within 3 s.
        const started = Date.now();
        let failures = 0;
        while (true) {
          try {
            assert.equal((await call()).continue_processing, true);
            break;
          } catch (error) {
            failures++;
            if (Date.now() - started > 3_000) throw error;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        const results = await Promise.all(Array.from({ length: 16 }, call));
        assert.equal(results.length, 16, `recovered after ${failures} failed calls`);
      } finally {
        await plugin?.shutdown();
        await stop(server, "SIGKILL");
        if (kind === "uds") await Deno.remove(address).catch(() => {});
        await settleBackoffTimers();
      }
    });
  }
}

Deno.test("after a received GOAWAY, the guard runs the session's close and destroy a macrotask later", async () => {
  await loadGrpcJs();
  assert.equal(
    installGoawayGuard(http2 as unknown as Http2Factories),
    false,
    "loadGrpcJs() already guarded node:http2",
  );
  const calls: string[] = [];
  const session = guardSession(
    Object.assign(new EventEmitter(), {
      close: (...args: unknown[]) => void calls.push(`close ${args.length}`),
      destroy: (...args: unknown[]) => void calls.push(`destroy ${args.length}`),
    }),
  );
  session.close();
  assert.deepEqual(calls, ["close 0"], "before a GOAWAY: untouched");
  let seen = 0;
  session.on("goaway", () => seen++);
  session.emit("goaway", 0, 3);
  session.close();
  session.destroy(new Error("x"), 0);
  assert.equal(seen, 1, "listeners still see the goaway");
  assert.deepEqual(calls, ["close 0"], "teardown deferred while the frame is processed");
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(calls, ["close 0", "close 0", "destroy 2"]);
  assert.equal(guardSession(session), session, "idempotent");
});

Deno.test("a restart without calls in between: the first call after it succeeds at once", async () => {
  const address = socketPath("rs2");
  let server = exampleServer(address);
  let plugin: Awaited<ReturnType<typeof connectPlugin>> | null = null;
  try {
    await within(server.ready, "first server READY", 60_000);
    plugin = await connectPlugin(address, { name: "ArgumentValidator" });
    const ctx = new PluginContext({ request_id: "r" });
    await plugin.handleHook("tool_pre_invoke", validatorPayload, ctx, opts());
    await stop(server, "SIGKILL");
    server = exampleServer(address);
    await within(server.ready, "second server READY", 60_000);
    const result = await within(
      plugin.handleHook("tool_pre_invoke", validatorPayload, ctx, opts()),
      "first call after the restart",
    );
    assert.equal(result.continue_processing, true);
  } finally {
    await plugin?.shutdown();
    await stop(server, "SIGKILL");
    await Deno.remove(address).catch(() => {});
    await settleBackoffTimers();
  }
});

Deno.test("aborting the hook's signal cancels the RPC; the channel keeps working", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const slow = new ScriptedPlugin({ name: "Slow", hooks: HOOKS }, async (p) => {
    if (p.args.text === "wait") await gate;
    return {};
  });
  const server = await startGrpcServer([slow]);
  const plugin = await connectPlugin(server.address, { name: "Slow" });
  try {
    const ctx = new PluginContext({ request_id: "r" });
    const controller = new AbortController();
    const pending = plugin.handleHook(
      "tool_pre_invoke",
      { name: "t", args: { text: "wait" } },
      ctx,
      opts(controller.signal),
    );
    setTimeout(() => controller.abort(new Error("deadline")), 50);
    await assert.rejects(within(pending, "the cancelled call"), /deadline/);
    const ok = await plugin.handleHook("tool_pre_invoke", payload, ctx, opts());
    assert.equal(ok.continue_processing, true);
  } finally {
    release();
    await plugin.shutdown();
    await server.close();
  }
});

Deno.test("the manager's timeout bounds a hanging remote hook", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const hang = new ScriptedPlugin({ name: "Hang", hooks: HOOKS }, async () => {
    await gate;
    return {};
  });
  const server = await startGrpcServer([hang]);
  const manager = new PluginManager(
    {
      plugins: [{
        name: "Hang",
        kind: "external",
        on_error: "ignore",
        grpc: { target: server.address },
      }],
    } as never,
    { timeout: 0.2, logger: { warn: () => {} } },
  );
  try {
    await manager.initialize();
    const started = performance.now();
    const [result] = await manager.invokeHook("tool_pre_invoke", payload, { request_id: "r" });
    assert.ok(performance.now() - started < 2_000);
    assert.equal(result.continue_processing, true);
    assert.equal(result.executions[0]?.status, "timeout");
  } finally {
    release();
    await manager.shutdown();
    await server.close();
  }
});

Deno.test("every failure is a PluginError: status, error field with details, empty and garbage replies", async () => {
  const configReply = () =>
    encodeMessage("GetPluginConfigResponse", {
      found: true,
      config: toStruct({ name: "Odd", kind: "x", hooks: HOOKS }),
    });
  let mode = "status";
  const raw = await RawGrpcServer.start({
    "/cpex.PluginService/GetPluginConfig": configReply,
    "/cpex.PluginService/InvokeHook": () => {
      switch (mode) {
        case "status":
          return { code: 8, details: "too busy" };
        case "error":
          return encodeMessage("InvokeHookResponse", {
            plugin_name: "Odd",
            error: {
              message: "nope",
              code: "DENIED",
              details: toStruct({ why: "policy" }),
              mcp_error_code: -32000,
            },
          });
        case "empty":
          return new Uint8Array(0);
        default:
          return new Uint8Array([0xff, 0xff, 0xff]);
      }
    },
  });
  const plugin = await connectPlugin(raw.address, { name: "Odd" });
  try {
    const call = () =>
      plugin.handleHook("tool_pre_invoke", payload, new PluginContext({ request_id: "r" }), opts())
        .catch((e) => e);

    const status = await call();
    assert.ok(status instanceof PluginError);
    assert.match(status.error.message, /RESOURCE_EXHAUSTED \(8\): too busy/);
    assert.deepEqual(status.error.details, { grpc_status: "RESOURCE_EXHAUSTED", grpc_code: 8 });

    mode = "error";
    const error = await call();
    assert.ok(error instanceof PluginError);
    assert.deepEqual(error.error, {
      message: "nope",
      plugin_name: "Odd",
      code: "DENIED",
      details: { why: "policy" },
      mcp_error_code: -32000,
    });

    mode = "empty";
    const empty = await call();
    assert.ok(empty instanceof PluginError);
    assert.equal(empty.error.message, "Received invalid response from gRPC plugin server");

    mode = "garbage";
    const garbage = await call();
    assert.ok(garbage instanceof PluginError);
    assert.match(garbage.error.message, /INTERNAL/);

    const unregistered = await plugin.handleHook(
      "no_such_hook",
      {},
      new PluginContext({ request_id: "r" }),
      opts(),
    ).catch((e) => e);
    assert.ok(unregistered instanceof PluginError);
    assert.equal(unregistered.error.message, "No result type registered for hook: no_such_hook");
  } finally {
    await plugin.shutdown();
    await raw.close();
  }
  const closed = await plugin.handleHook(
    "tool_pre_invoke",
    payload,
    new PluginContext({ request_id: "r" }),
    opts(),
  ).catch((e) => e);
  assert.ok(closed instanceof PluginError, "shut down: the channel is closed");
});
