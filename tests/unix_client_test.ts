/**
 * Tests of the gateway-side raw Unix socket client (`UnixSocketExternalPlugin`, wire.md §6.3),
 * loaded by a real {@linkcode PluginManager} for `kind: external` + `unix_socket:`. The servers
 * are real: our {@linkcode ExternalPluginServer} on a unique `/tmp` socket, or a raw frame server
 * scripted to misbehave (late, garbage, empty, truncated or missing replies). Covers initialize,
 * the hook round trip, remote errors under `on_error`, context round trips, the client and
 * manager timeouts (including the reference's late-reply desync, wire.md §9.11), concurrency,
 * reconnects after a server restart, retries and shutdown.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Config,
  type GlobalContext,
  parseConfig,
  type PluginConfigInput,
  PluginContext,
  PluginError,
  PluginManager,
  type PluginManagerOptions,
  type PluginResult,
  type UnixSocketClientConfig,
} from "../mod.ts";
import { UnixSocketExternalPlugin } from "../src/external/unix/client.ts";
import { encodeMessage } from "../src/external/proto/codec.ts";
import { FrameReader, writeFrame } from "../src/external/unix/frame.ts";
import { toStruct } from "../src/external/proto/struct.ts";
import { gctx, rejection, ScriptedPlugin, sleep } from "./helpers/plugins.ts";
import {
  allowReply,
  type RawHandler,
  RawUnixServer,
  type RunningPluginServer,
  socketPath,
  startPluginServer,
  until,
  within,
} from "./helpers/unix_fixtures.ts";

const HOOKS = ["tool_pre_invoke", "tool_post_invoke"];

/** The gateway's plugin entry for `Gate` on `path`; `unix` and `extra` override defaults. */
function gatewayEntry(
  path: string,
  unix: Partial<UnixSocketClientConfig> = {},
  extra: Partial<PluginConfigInput> = {},
): PluginConfigInput {
  return {
    name: "Gate",
    kind: "external",
    hooks: HOOKS,
    mode: "sequential",
    on_error: "fail",
    unix_socket: { path, timeout: 5, reconnect_attempts: 3, reconnect_delay: 0.01, ...unix },
    ...extra,
  };
}

function gatewayConfig(...entries: PluginConfigInput[]): Config {
  return parseConfig({ plugins: entries });
}

/** A gateway manager (warnings collected into `warnings`) after `initialize()`. */
async function gateway(
  config: Config,
  options: PluginManagerOptions = {},
  warnings: string[] = [],
): Promise<PluginManager> {
  const manager = new PluginManager(config, {
    logger: { warn: (m: string) => warnings.push(m), info: () => {} },
    ...options,
  });
  await within(manager.initialize(), "gateway initialize");
  return manager;
}

/** Runs `fn` with console.warn collected (the client warns through the console). */
async function capturingConsoleWarn<T>(
  fn: (warnings: string[]) => Promise<T>,
): Promise<T> {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));
  try {
    return await fn(warnings);
  } finally {
    console.warn = original;
  }
}

function pre(
  name: string,
  args: Record<string, unknown> = {},
): { name: string; args: Record<string, unknown> } {
  return { name, args };
}

/** The `name` and `args` of a tool payload (the hook schema adds `headers: null`). */
function toolCall(payload: unknown): { name: unknown; args: unknown } {
  const p = payload as { name?: unknown; args?: unknown } | null | undefined;
  return { name: p?.name, args: p?.args };
}

async function invoke(
  manager: PluginManager,
  name: string,
  global: GlobalContext = gctx(`req-${name}`),
) {
  return await within(
    manager.invokeHook("tool_pre_invoke", pre(name), global),
    `invokeHook(${name})`,
  );
}

/** A server-side plugin `Gate` that answers by payload name: allow, modify, block or throw. */
function scriptedGate(): ScriptedPlugin {
  return new ScriptedPlugin(
    { name: "Gate", kind: "inline", hooks: HOOKS, mode: "sequential", on_error: "fail" },
    (payload: { name: string; args: Record<string, unknown> }): PluginResult => {
      switch (payload.name) {
        case "modify":
          return { modified_payload: { name: "modify", args: { ...payload.args, safe: true } } };
        case "block":
          return {
            continue_processing: false,
            violation: {
              reason: "forbidden",
              description: "the tool is not allowed",
              code: "NO_TOOL",
              details: { tool: payload.name, level: 3 },
              mcp_error_code: -32001,
            },
          };
        case "remote-error":
          throw new PluginError({
            message: "Sadly! the remote plugin failed",
            plugin_name: "Gate",
            code: "REMOTE_SAD",
            details: { why: "testing", attempt: 1 },
            mcp_error_code: -32002,
          });
        case "remote-throw":
          throw new TypeError("bad thing");
        default:
          return {};
      }
    },
  );
}

/** Runs `fn` with our plugin server hosting `plugins` on a fresh socket; always closed. */
async function withPluginServer<T>(
  label: string,
  plugins: ScriptedPlugin[],
  fn: (server: RunningPluginServer) => Promise<T>,
): Promise<T> {
  const server = await startPluginServer(plugins, socketPath(label));
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** Runs `fn` with a raw server on a fresh socket; always closed. */
async function withRawServer<T>(
  label: string,
  handler: RawHandler,
  fn: (raw: RawUnixServer) => Promise<T>,
): Promise<T> {
  const raw = RawUnixServer.listen(socketPath(label), handler);
  try {
    return await fn(raw);
  } finally {
    await raw.close();
  }
}

/** Shuts `manager` down, bounded. */
async function stop(manager: PluginManager): Promise<void> {
  await within(manager.shutdown(), "gateway shutdown");
}

// --- initialize ------------------------------------------------------------------------------

Deno.test("initialize connects and finds the plugin's config on our server without warnings", async () => {
  await withPluginServer("init", [scriptedGate()], async (server) => {
    await capturingConsoleWarn(async (consoleWarnings) => {
      const warnings: string[] = [];
      const manager = await gateway(gatewayConfig(gatewayEntry(server.path)), {}, warnings);
      try {
        assert.equal(manager.initialized, true);
        assert.equal(manager.pluginCount, 1);
        const plugin = manager.getPlugin("Gate");
        assert.ok(plugin instanceof UnixSocketExternalPlugin);
        assert.equal(plugin.socketPath, server.path);
        assert.deepEqual(plugin.hooks, HOOKS, "hooks come from the gateway's entry");
        assert.deepEqual(warnings, []);
        assert.deepEqual(consoleWarnings, []);
      } finally {
        await stop(manager);
      }
    });
  });
});

Deno.test("initialize sends exactly one config query and reuses that connection for the first call", async () => {
  await withRawServer("init-raw", (req, peer) => peer.reply(allowReply(req)), async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      assert.equal(raw.configQueries, 1);
      assert.equal(raw.opened, 1);
      const [result] = await invoke(manager, "first");
      assert.deepEqual(toolCall(result.modified_payload), { name: "answered:first", args: {} });
      assert.equal(raw.opened, 1, "the first call used the pooled connection");
      assert.equal(raw.requests[0].plugin_name, "Gate");
      assert.equal(raw.requests[0].hook_type, "tool_pre_invoke");
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a server without the plugin only warns: the plugin is initialized and calls get the remote error", async () => {
  const other = new ScriptedPlugin({ name: "Other", kind: "inline", hooks: HOOKS });
  await withPluginServer("init-missing", [other], async (server) => {
    await capturingConsoleWarn(async (consoleWarnings) => {
      const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
      try {
        assert.equal(manager.initialized, true);
        assert.equal(manager.pluginCount, 1);
        assert.equal(consoleWarnings.length, 1);
        assert.match(consoleWarnings[0], /Gate/);
        assert.match(consoleWarnings[0], /not found/);
        const error = await rejection(invoke(manager, "x"));
        assert.ok(error instanceof PluginError);
        assert.match(error.message, /Unable to find tool_pre_invoke for plugin Gate/);
      } finally {
        await stop(manager);
      }
    });
  });
});

Deno.test("connection refused at initialize is a PluginError naming the path", async () => {
  const path = socketPath("refused");
  // A socket file nobody listens on (a killed server's leftover): connect is refused.
  const listener = Deno.listen({ transport: "unix", path });
  listener.close();
  try {
    const plugin = new UnixSocketExternalPlugin(gatewayEntry(path));
    const error = await rejection(within(plugin.initialize(), "initialize"));
    assert.ok(error instanceof PluginError);
    assert.ok(
      error.message.startsWith(`Failed to connect to ${path}: `),
      `unexpected message: ${error.message}`,
    );
    assert.equal(error.error.plugin_name, "Gate");
    await plugin.shutdown();

    const missing = socketPath("missing");
    const absent = new UnixSocketExternalPlugin(gatewayEntry(missing));
    const error2 = await rejection(within(absent.initialize(), "initialize"));
    assert.ok(error2 instanceof PluginError);
    assert.ok(error2.message.startsWith(`Failed to connect to ${missing}: `), error2.message);
    await absent.shutdown();
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("connection refused at initialize: fail_on_plugin_error raises, otherwise the plugin is skipped with a warning", async () => {
  const path = socketPath("refused-mgr");
  const config = gatewayConfig(gatewayEntry(path));

  const strict = new PluginManager(config, {
    failOnPluginError: true,
    logger: { warn: () => {} },
  });
  const error = await rejection(within(strict.initialize(), "strict initialize"));
  assert.ok(error instanceof Error);
  assert.match(error.message, /Plugin initialization failed: Gate - Failed to connect to /);
  assert.ok(error.message.includes(path));
  assert.ok((error as Error).cause instanceof PluginError);
  assert.equal(strict.initialized, false);
  assert.equal(strict.pluginCount, 0);
  await stop(strict);

  const warnings: string[] = [];
  const lenient = await gateway(config, { failOnPluginError: false }, warnings);
  try {
    assert.equal(lenient.initialized, true);
    assert.equal(lenient.pluginCount, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /Skipping plugin Gate/);
    assert.ok(warnings[0].includes(`Failed to connect to ${path}`));
    const [result] = await invoke(lenient, "x");
    assert.equal(result.continue_processing, true);
  } finally {
    await stop(lenient);
  }
});

// --- round trip ------------------------------------------------------------------------------

Deno.test("allow, modify and block round trip through invokeHook with the violation stamped", async () => {
  const gate = scriptedGate();
  await withPluginServer("roundtrip", [gate], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      const [allowed] = await within(
        manager.invokeHook("tool_pre_invoke", pre("allow", { q: "deno", n: 2 }), gctx("r-allow")),
        "allow",
      );
      assert.equal(allowed.continue_processing, true);
      assert.equal(allowed.modified_payload ?? null, null);
      assert.equal(allowed.violation ?? null, null);
      assert.deepEqual(toolCall(gate.calls[0].payload), {
        name: "allow",
        args: { q: "deno", n: 2 },
      });
      assert.equal(gate.calls[0].context.global_context.request_id, "r-allow");

      const [modified] = await within(
        manager.invokeHook("tool_pre_invoke", pre("modify", { q: "x" }), gctx("r-mod")),
        "modify",
      );
      assert.equal(modified.continue_processing, true);
      assert.deepEqual(toolCall(modified.modified_payload), {
        name: "modify",
        args: { q: "x", safe: true },
      });

      const [blocked] = await invoke(manager, "block");
      assert.equal(blocked.continue_processing, false);
      const v = blocked.violation!;
      assert.ok(v, "a violation is returned");
      assert.equal(v.reason, "forbidden");
      assert.equal(v.description, "the tool is not allowed");
      assert.equal(v.code, "NO_TOOL");
      assert.deepEqual(v.details, { tool: "block", level: 3 });
      assert.equal(v.mcp_error_code, -32001);
      assert.equal(v.plugin_name, "Gate");
      assert.equal(gate.callCount, 3);
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a block with violationsAsExceptions raises the remote violation", async () => {
  await withPluginServer("roundtrip-exc", [scriptedGate()], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      const error = await rejection(
        manager.invokeHook("tool_pre_invoke", pre("block"), gctx(), {
          violationsAsExceptions: true,
        }),
      );
      assert.ok(error instanceof Error);
      const violation = (error as Error & { violation?: { code: string; plugin_name?: string } })
        .violation;
      assert.equal(violation?.code, "NO_TOOL");
      assert.equal(violation?.plugin_name, "Gate");
    } finally {
      await stop(manager);
    }
  });
});

// --- remote errors -----------------------------------------------------------------------------

Deno.test("a remote error is a PluginError with message, code and details; on_error fail raises it", async () => {
  await withPluginServer("remote-err", [scriptedGate()], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      const error = await rejection(invoke(manager, "remote-error"));
      assert.ok(error instanceof PluginError);
      assert.equal(error.message, "Sadly! the remote plugin failed");
      assert.equal(error.error.message, "Sadly! the remote plugin failed");
      assert.equal(error.error.code, "REMOTE_SAD");
      assert.deepEqual(error.error.details, { why: "testing", attempt: 1 });
      assert.equal(error.error.mcp_error_code, -32002);
      assert.equal(error.error.plugin_name, "Gate");

      const thrown = await rejection(invoke(manager, "remote-throw"));
      assert.ok(thrown instanceof PluginError);
      assert.match(thrown.message, /TypeError/);
      assert.match(thrown.message, /bad thing/);

      // The connection survives a remote error (it is an answer, not an I/O failure).
      const [ok] = await invoke(manager, "allow");
      assert.equal(ok.continue_processing, true);
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a remote error with on_error ignore continues and is recorded as a plugin error", async () => {
  await withPluginServer("remote-ignore", [scriptedGate()], async (server) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(server.path, {}, { on_error: "ignore" })),
    );
    try {
      const [result] = await invoke(manager, "remote-error");
      assert.equal(result.continue_processing, true);
      assert.equal(result.violation ?? null, null);
      const record = result.executions.find((r) => r.plugin_name === "Gate");
      assert.ok(record);
      assert.equal(record.status, "error");
      assert.equal(record.error_code, "plugin_error");
      assert.match(record.reason ?? "", /Sadly! the remote plugin failed/);
    } finally {
      await stop(manager);
    }
  });
});

// --- contexts ------------------------------------------------------------------------------------

Deno.test("local and global context state round trip across pre and post hooks", async () => {
  const seen: { hook: string; local: unknown; global: unknown }[] = [];
  const gate = new ScriptedPlugin(
    { name: "Gate", kind: "inline", hooks: HOOKS, mode: "sequential" },
    (_payload, context, _options, hookName) => {
      seen.push({
        hook: hookName,
        local: structuredClone(context.state),
        global: structuredClone(context.global_context.state),
      });
      if (hookName === "tool_pre_invoke") {
        context.setState("ticket", "t-42");
        context.setState("nested", { n: 1, list: ["a", "b"] });
        context.global_context.state!.seen_by_gate = true;
      } else {
        context.setState("post_saw", context.getState("ticket"));
      }
      return {};
    },
  );
  await withPluginServer("context", [gate], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      const global = gctx("req-ctx", { state: { tenant: "acme" } });
      const [preResult, contexts] = await within(
        manager.invokeHook("tool_pre_invoke", pre("allow"), global),
        "pre",
      );
      assert.equal(preResult.continue_processing, true);
      assert.ok(contexts);
      const local = Object.values(contexts)[0];
      assert.ok(local);
      assert.deepEqual(local.state, { ticket: "t-42", nested: { n: 1, list: ["a", "b"] } });
      assert.equal(global.state?.seen_by_gate, true, "the remote global write reached the caller");
      assert.equal(global.state?.tenant, "acme");

      const [postResult] = await within(
        manager.invokeHook("tool_post_invoke", { name: "allow", result: { ok: 1 } }, global, {
          localContexts: contexts,
        }),
        "post",
      );
      assert.equal(postResult.continue_processing, true);
      assert.deepEqual(seen[0], { hook: "tool_pre_invoke", local: {}, global: { tenant: "acme" } });
      assert.equal(seen[1].hook, "tool_post_invoke");
      assert.deepEqual(seen[1].local, { ticket: "t-42", nested: { n: 1, list: ["a", "b"] } });
      assert.deepEqual(seen[1].global, { tenant: "acme", seen_by_gate: true });
      assert.equal(local.getState("post_saw"), "t-42");
    } finally {
      await stop(manager);
    }
  });
});

// --- unregistered hooks ------------------------------------------------------------------------

Deno.test("an unregistered custom hook fails with a PluginError before anything is sent", async () => {
  await withRawServer("custom", (req, peer) => peer.reply(allowReply(req)), async (raw) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(raw.path, {}, { hooks: ["cpex_unknown_custom_hook"] })),
    );
    try {
      const error = await rejection(
        within(
          manager.invokeHook("cpex_unknown_custom_hook", { anything: 1 }, gctx()),
          "custom hook",
        ),
      );
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /No result type registered for hook: cpex_unknown_custom_hook/);
      assert.equal(raw.requests.length, 0, "nothing was sent");
    } finally {
      await stop(manager);
    }
  });
});

// --- timeouts ------------------------------------------------------------------------------------

Deno.test("a client timeout fails that call and the next calls get their own answers, never the late one", async () => {
  // Answers every request with its own name; "slow" is answered 300 ms late.
  const handler: RawHandler = async (req, peer) => {
    if (req.payload.name === "slow") await sleep(300, peer.signal);
    await peer.reply(allowReply(req));
  };
  await withRawServer("late", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path, { timeout: 0.1 })));
    try {
      const started = performance.now();
      const error = await rejection(invoke(manager, "slow"));
      const elapsed = performance.now() - started;
      assert.ok(error instanceof PluginError, String(error));
      assert.equal(error.message, "Request timed out after 0.1s");
      assert.equal(error.error.plugin_name, "Gate");
      assert.ok(elapsed >= 90 && elapsed < 2_000, `timed out after ${elapsed} ms`);

      // Sent at once: a client that kept the timed-out connection would read "slow"'s late
      // answer here, and each later call would read its predecessor's.
      for (const name of ["second", "third", "fourth"]) {
        const [result] = await invoke(manager, name);
        assert.deepEqual(toolCall(result.modified_payload), { name: `answered:${name}`, args: {} });
      }
      // After the late reply has certainly been written, still no mix-up.
      await sleep(350);
      const [fifth] = await invoke(manager, "fifth");
      assert.deepEqual(toolCall(fifth.modified_payload), { name: "answered:fifth", args: {} });

      const slow = raw.requests.find((r) => r.payload.name === "slow")!;
      await until(() => raw.closed.has(slow.connection), "the timed-out connection to close");
      // Each request reached the server exactly once, none of them on the timed-out connection
      // (a client that kept it would have written "second" there, behind the late reply).
      assert.deepEqual(
        raw.requests.map((r) => r.payload.name),
        ["slow", "second", "third", "fourth", "fifth"],
      );
      assert.equal(raw.requests.filter((r) => r.connection === slow.connection).length, 1);
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a timeout at initialize's config query is only a warning and that connection is dropped", async () => {
  const path = socketPath("init-slow");
  // Never answers the config query; answers hook calls.
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.UnixConn[] = [];
  const served: Promise<void>[] = [];
  const closedByClient: boolean[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        const index = closedByClient.push(false) - 1;
        served.push((async () => {
          const buf = new Uint8Array(1024);
          try {
            while ((await conn.read(buf)) !== null) {
              // Swallow everything.
            }
            closedByClient[index] = true;
          } catch {
            // Closed below.
          }
        })());
      }
    } catch {
      // Listener closed.
    }
  })();
  try {
    await capturingConsoleWarn(async (warnings) => {
      const plugin = new UnixSocketExternalPlugin(gatewayEntry(path, { timeout: 0.1 }));
      const started = performance.now();
      await within(plugin.initialize(), "initialize");
      assert.ok(performance.now() - started < 2_000);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /Request timed out after 0.1s/);
      await until(() => closedByClient[0] === true, "the client to drop the connection");
      await plugin.shutdown();
    });
  } finally {
    listener.close();
    await accepting;
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.all(served);
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("the manager's per-plugin timeout aborts an in-flight call and drops its connection", async () => {
  // "hang" is never answered; everything else is answered at once.
  const handler: RawHandler = async (req, peer) => {
    if (req.payload.name !== "hang") await peer.reply(allowReply(req));
  };
  await withRawServer("mgr-timeout", handler, async (raw) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(raw.path, { timeout: 30 }, { timeout: 0.2 })),
    );
    try {
      const started = performance.now();
      const error = await rejection(invoke(manager, "hang"));
      const elapsed = performance.now() - started;
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /Gate exceeded 0.2s timeout/);
      assert.ok(elapsed >= 190 && elapsed < 2_000, `timed out after ${elapsed} ms`);

      const hung = raw.requests.find((r) => r.payload.name === "hang")!;
      await until(() => raw.closed.has(hung.connection), "the aborted call's connection to close");

      const [after] = await invoke(manager, "after");
      assert.deepEqual(toolCall(after.modified_payload), { name: "answered:after", args: {} });
      const next = raw.requests.find((r) => r.payload.name === "after")!;
      assert.notEqual(next.connection, hung.connection);
      assert.equal(raw.requests.filter((r) => r.payload.name === "hang").length, 1, "not re-sent");
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a manager timeout with on_error ignore continues, and the dropped connection does not leak", async () => {
  const handler: RawHandler = async (req, peer) => {
    if (req.payload.name !== "hang") await peer.reply(allowReply(req));
  };
  await withRawServer("mgr-timeout-ign", handler, async (raw) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(raw.path, {}, { timeout: 0.1, on_error: "ignore" })),
    );
    try {
      const [result] = await invoke(manager, "hang");
      assert.equal(result.continue_processing, true);
      const record = result.executions.find((r) => r.plugin_name === "Gate")!;
      assert.equal(record.status, "timeout");
      assert.equal(record.error_code, "plugin_timeout");
      await until(() => raw.openCount === 0, "the aborted connection to close");
    } finally {
      await stop(manager);
    }
  });
});

// --- concurrency ---------------------------------------------------------------------------------

Deno.test("16 concurrent calls run in parallel on separate connections, each with its own answer", async () => {
  const SLEEP_MS = 50;
  let inFlight = 0;
  let maxInFlight = 0;
  const gate = new ScriptedPlugin(
    { name: "Gate", kind: "inline", hooks: HOOKS },
    async (payload: { name: string }, _ctx, options) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await sleep(SLEEP_MS, options.signal);
      } finally {
        inFlight--;
      }
      return { modified_payload: { name: `done:${payload.name}`, args: {} } };
    },
  );
  await withPluginServer("concurrent", [gate], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      await invoke(manager, "warmup");
      maxInFlight = 0;
      const names = Array.from({ length: 16 }, (_, i) => `c${i}`);
      const started = performance.now();
      const results = await within(
        Promise.all(
          names.map((name) => manager.invokeHook("tool_pre_invoke", pre(name), gctx(name))),
        ),
        "16 concurrent calls",
      );
      const elapsed = performance.now() - started;
      results.forEach(([result], i) => {
        assert.deepEqual(toolCall(result.modified_payload), { name: `done:${names[i]}`, args: {} });
      });
      assert.ok(elapsed < 8 * SLEEP_MS, `16 calls of ${SLEEP_MS} ms took ${elapsed} ms`);
      assert.ok(maxInFlight >= 8, `only ${maxInFlight} calls overlapped on the server`);
    } finally {
      await stop(manager);
    }
  });
});

// Issue 13: a pool of 16 idle connections made every round of 64 concurrent calls open 48 new
// ones. The pool now keeps what the load needed, so a repeated burst reuses them all.
Deno.test("a repeated burst of 64 concurrent calls reuses the pooled connections", async () => {
  const BURST = 64;
  let waiting: (() => void)[] = [];
  // Replies only when the whole burst has arrived: every call needs its own connection.
  const handler: RawHandler = async (req, peer) => {
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (waiting.length === BURST) { for (const release of waiting.splice(0)) release(); }
    });
    await peer.reply(allowReply(req));
  };
  await withRawServer("burst", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      const burst = (round: number) =>
        within(
          Promise.all(
            Array.from(
              { length: BURST },
              (_, i) => manager.invokeHook("tool_pre_invoke", pre(`b${i}`), gctx(`r${round}-${i}`)),
            ),
          ),
          `burst ${round}`,
        );
      await burst(1);
      const afterFirst = raw.opened;
      assert.ok(afterFirst >= BURST, `the first burst opened only ${afterFirst} connections`);
      await burst(2);
      await burst(3);
      assert.equal(raw.opened, afterFirst, "later bursts opened new connections");
      assert.equal(raw.openCount, afterFirst, "pooled connections were closed");
    } finally {
      waiting = [];
      await stop(manager);
    }
  });
});

// --- reconnect -----------------------------------------------------------------------------------

Deno.test("after a server restart on the same path the next call reconnects and succeeds", async () => {
  await withPluginServer("restart", [scriptedGate()], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      const [before] = await invoke(manager, "modify");
      assert.equal(before.continue_processing, true);
      await server.stop();
      await server.start();
      const [after] = await invoke(manager, "block");
      assert.equal(after.continue_processing, false);
      assert.equal(after.violation?.code, "NO_TOOL");
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("with the server down a call fails after the reconnect attempts with bounded backoff", async () => {
  await withPluginServer("down", [scriptedGate()], async (server) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(server.path, { reconnect_attempts: 3, reconnect_delay: 0.1 })),
    );
    try {
      await invoke(manager, "allow");
      await server.stop();
      const started = performance.now();
      const error = await rejection(invoke(manager, "allow"));
      const elapsed = performance.now() - started;
      assert.ok(error instanceof PluginError, String(error));
      // The dead pooled connection fails, then reconnecting gives up (wire.md §6.3).
      assert.match(error.message, /^Failed to reconnect after 3 attempts: /);
      assert.equal(error.error.plugin_name, "Gate");
      // The dead pooled connection (0.1 s), then connects sleeping 0.1 s and 0.2 s (doubling,
      // up to 10 % jitter). Unbounded retries would blow the upper bound.
      assert.ok(elapsed >= 350, `gave up after only ${elapsed} ms`);
      assert.ok(elapsed < 1_500, `took ${elapsed} ms`);

      await server.start();
      const [back] = await invoke(manager, "modify");
      assert.deepEqual(toolCall(back.modified_payload), { name: "modify", args: { safe: true } });
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("after a server restart the next call succeeds even when many pooled connections went stale", async () => {
  await withPluginServer("restart-pool", [scriptedGate()], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      // Leave several idle connections in the client's pool.
      const names = Array.from({ length: 8 }, (_, i) => `p${i}`);
      await within(
        Promise.all(names.map((n) => manager.invokeHook("tool_pre_invoke", pre(n), gctx(n)))),
        "8 concurrent calls",
      );
      await server.stop();
      await server.start();
      const [after] = await invoke(manager, "modify");
      assert.deepEqual(toolCall(after.modified_payload), { name: "modify", args: { safe: true } });
    } finally {
      await stop(manager);
    }
  });
});

// --- misbehaving servers -------------------------------------------------------------------------

// Issue 9 item 10: a request that reached the server must not be re-sent (the reference re-sends
// it up to reconnect_attempts times, so a plugin with side effects ran up to 4 times).
Deno.test("a server that closes mid-reply gets the request once: a PluginError, no re-send", async () => {
  const handler: RawHandler = async (_req, peer) => {
    // Announce 100 bytes, send 3, hang up.
    await peer.writeRaw(new Uint8Array([0, 0, 0, 100, 1, 2, 3]));
    peer.close();
  };
  await withRawServer("midframe", handler, async (raw) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(raw.path, { reconnect_attempts: 2, reconnect_delay: 0.01 })),
    );
    try {
      const error = await rejection(invoke(manager, "cut"));
      assert.equal(raw.requests.length, 1, "the server received the request exactly once");
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /^Connection lost after the request was sent \(not re-sent/);
      assert.match(error.message, /3 of 100 bytes/);
      await until(() => raw.openCount === 0, "the broken connection to close");
      // The plugin is still usable: the next call is sent (once) on a new connection.
      await rejection(invoke(manager, "again"));
      assert.equal(raw.requests.length, 2);
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a server that closes without a reply gets the request once, whatever reconnect_attempts says", async () => {
  const handler: RawHandler = (_req, peer) => peer.close();
  await withRawServer("noreply", handler, async (raw) => {
    const manager = await gateway(
      gatewayConfig(gatewayEntry(raw.path, { reconnect_attempts: 3, reconnect_delay: 0.01 })),
    );
    try {
      const error = await rejection(invoke(manager, "once"));
      assert.equal(raw.requests.length, 1, "the server received the request exactly once");
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /not re-sent.*connection closed by the server/);
    } finally {
      await stop(manager);
    }
  });
});

// Issue 9 item 10, both sides: the error echoing a 17 MiB message did not fit a frame, the server
// closed the connection unanswered, and the gateway ran the failing plugin 4 times.
Deno.test("a plugin error too large for a frame: the plugin runs once and the gateway gets it truncated", async () => {
  const huge = new ScriptedPlugin({ name: "Gate", kind: "inline", hooks: HOOKS }, () => {
    throw new Error("boom ".repeat(3.5 * 1024 * 1024));
  });
  await withPluginServer("huge-error", [huge], async (server) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(server.path)));
    try {
      const error = await rejection(invoke(manager, "big"));
      assert.equal(huge.callCount, 1, "the plugin server ran the request exactly once");
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /^Error\('boom boom .*\.\.\. \[\d+ more characters\]$/);
      assert.ok(error.message.length < 16 * 1024, `a message of ${error.message.length} chars`);
    } finally {
      await stop(manager);
    }
  });
});

// ...but a request the server never read is re-sent: a pooled connection the server closes (its
// idle timeout) just as the request goes out fails with a reset, and the call must still work.
Deno.test("a connection the server closes with the request unread is retried on a new one", async () => {
  const path = socketPath("unread");
  const listener = Deno.listen({ transport: "unix", path });
  const plugin = new UnixSocketExternalPlugin(gatewayEntry(path));
  let requests = 0;
  const serving = (async () => {
    const first = await listener.accept();
    await sleep(100); // the request has arrived; close without reading it
    first.close();
    const second = await listener.accept();
    const reader = new FrameReader(second);
    try {
      if (await reader.read()) requests++;
      await writeFrame(
        second,
        encodeMessage("InvokeHookResponse", {
          plugin_name: "Gate",
          result: toStruct({ continue_processing: true, metadata: { second: true } }),
        }),
      );
      await reader.read(); // until the client closes
    } catch {
      // The client went away.
    } finally {
      second.close();
    }
  })();
  try {
    const result = await within(
      plugin.handleHook("tool_pre_invoke", pre("unread"), new PluginContext(gctx()), {
        signal: new AbortController().signal,
        extensions: null,
      }),
      "the retried call",
    );
    assert.deepEqual(result.metadata, { second: true });
    assert.equal(requests, 1, "the second connection carried the request");
  } finally {
    await plugin.shutdown();
    listener.close(); // a server still waiting for the retry stops accepting
    await within(serving.catch(() => {}), "the scripted server");
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("a garbage reply is a PluginError", async () => {
  const handler: RawHandler = (_req, peer) =>
    peer.reply(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]));
  await withRawServer("garbage", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      const error = await rejection(invoke(manager, "g"));
      assert.ok(error instanceof PluginError, String(error));
      assert.match(error.message, /decode/i);
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("the client's own handleHook turns a garbage reply into a PluginError", async () => {
  const handler: RawHandler = (_req, peer) =>
    peer.reply(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]));
  await withRawServer("garbage-direct", handler, async (raw) => {
    const plugin = new UnixSocketExternalPlugin(gatewayEntry(raw.path));
    await within(plugin.initialize(), "initialize");
    try {
      const error = await rejection(
        within(
          plugin.handleHook("tool_pre_invoke", pre("g"), new PluginContext(gctx()), {
            signal: new AbortController().signal,
            extensions: null,
          }),
          "handleHook",
        ),
      );
      assert.ok(
        error instanceof PluginError,
        `wire.md §1.7: every gateway-side failure surfaces as PluginError; got ${error}`,
      );
    } finally {
      await plugin.shutdown();
    }
  });
});

Deno.test("a result the hook's schema rejects is a PluginError, through the manager and from handleHook", async () => {
  const handler: RawHandler = (req, peer) =>
    peer.reply(
      allowReply(req, {
        continue_processing: true,
        modified_payload: { name: 42, args: "not an object" },
      } as unknown as PluginResult),
    );
  await withRawServer("bad-result", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      const error = await rejection(invoke(manager, "b"));
      assert.ok(error instanceof PluginError, String(error));
      assert.equal(error.error.plugin_name, "Gate");
    } finally {
      await stop(manager);
    }
    const plugin = new UnixSocketExternalPlugin(gatewayEntry(raw.path));
    await within(plugin.initialize(), "initialize");
    try {
      const direct = await rejection(
        within(
          plugin.handleHook("tool_pre_invoke", pre("b"), new PluginContext(gctx()), {
            signal: new AbortController().signal,
            extensions: null,
          }),
          "handleHook",
        ),
      );
      assert.ok(
        direct instanceof PluginError,
        `wire.md §1.7: every gateway-side failure surfaces as PluginError; got ${direct}`,
      );
    } finally {
      await plugin.shutdown();
    }
  });
});

Deno.test("an empty reply is 'Received invalid response from Unix socket plugin server'", async () => {
  const handler: RawHandler = (_req, peer) => peer.reply(new Uint8Array(0));
  await withRawServer("empty", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      const error = await rejection(invoke(manager, "e"));
      assert.ok(error instanceof PluginError, String(error));
      assert.equal(error.message, "Received invalid response from Unix socket plugin server");
      assert.equal(error.error.plugin_name, "Gate");
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a reply with neither result nor error is an invalid response", async () => {
  const handler: RawHandler = (req, peer) =>
    peer.reply(encodeMessage("InvokeHookResponse", { plugin_name: req.plugin_name }));
  await withRawServer("noresult", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      const error = await rejection(invoke(manager, "n"));
      assert.ok(error instanceof PluginError, String(error));
      assert.equal(error.message, "Received invalid response from Unix socket plugin server");
    } finally {
      await stop(manager);
    }
  });
});

Deno.test("a raw error reply keeps its code and details and falls back to the local plugin name", async () => {
  const handler: RawHandler = (_req, peer) =>
    peer.reply(
      encodeMessage("InvokeHookResponse", {
        error: {
          message: "raw failure",
          code: "RAW_CODE",
          details: toStruct({ k: "v" }),
          mcp_error_code: -32099,
        },
      }),
    );
  await withRawServer("raw-error", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    try {
      const error = await rejection(invoke(manager, "r"));
      assert.ok(error instanceof PluginError, String(error));
      assert.equal(error.message, "raw failure");
      assert.equal(error.error.code, "RAW_CODE");
      assert.deepEqual(error.error.details, { k: "v" });
      assert.equal(error.error.mcp_error_code, -32099);
      assert.equal(error.error.plugin_name, "Gate");
    } finally {
      await stop(manager);
    }
  });
});

// --- shutdown ------------------------------------------------------------------------------------

Deno.test("shutdown closes every pooled connection", async () => {
  const handler: RawHandler = async (req, peer) => {
    await sleep(30, peer.signal);
    await peer.reply(allowReply(req));
  };
  await withRawServer("shutdown", handler, async (raw) => {
    const manager = await gateway(gatewayConfig(gatewayEntry(raw.path)));
    const names = ["a", "b", "c", "d"];
    const results = await within(
      Promise.all(names.map((n) => manager.invokeHook("tool_pre_invoke", pre(n), gctx(n)))),
      "4 concurrent calls",
    );
    results.forEach(([r], i) => assert.equal(r.modified_payload?.name, `answered:${names[i]}`));
    assert.equal(raw.openCount, 4, "four connections are pooled");
    await stop(manager);
    await until(() => raw.openCount === 0, "every connection to close");
    assert.equal(raw.closed.size, 4);
  });
});

Deno.test("shutdown closes an in-flight call's connection and the call fails with a PluginError", async () => {
  const handler: RawHandler = () => {}; // never answers
  await withRawServer("shutdown-busy", handler, async (raw) => {
    const plugin = new UnixSocketExternalPlugin(gatewayEntry(raw.path));
    await within(plugin.initialize(), "initialize");
    const call = plugin.handleHook("tool_pre_invoke", pre("busy"), new PluginContext(gctx()), {
      signal: new AbortController().signal,
      extensions: null,
    });
    const settled = rejection(call);
    await until(() => raw.requests.length === 1, "the request to arrive");
    await plugin.shutdown();
    const error = await within(settled, "the in-flight call to settle");
    assert.ok(error instanceof PluginError, String(error));
    assert.match(error.message, /shut down/);
    await until(() => raw.openCount === 0, "the busy connection to close");
    assert.equal(raw.requests.length, 1, "not re-sent after shutdown");
  });
});

Deno.test("a call after shutdown fails without connecting", async () => {
  await withRawServer("after-shutdown", (req, peer) => peer.reply(allowReply(req)), async (raw) => {
    const plugin = new UnixSocketExternalPlugin(gatewayEntry(raw.path));
    await within(plugin.initialize(), "initialize");
    await plugin.shutdown();
    const opened = raw.opened;
    const error = await rejection(
      within(
        plugin.handleHook("tool_pre_invoke", pre("late"), new PluginContext(gctx()), {
          signal: new AbortController().signal,
          extensions: null,
        }),
        "handleHook",
      ),
    );
    assert.ok(error instanceof PluginError, String(error));
    assert.equal(raw.opened, opened);
    assert.equal(raw.requests.length, 0);
    await until(() => raw.openCount === 0, "the pooled connection to close");
  });
});
