/**
 * Manager lifecycle (spec C57–C67, adapted: no Borg, each manager is independent), loading
 * plugins from YAML configs (module specifiers relative to the config file, `file:` URLs, a
 * `pluginKinds` map, `kind: external` through a registered transport), `plugin_settings` and
 * their PLUGINS_* overrides (Q18 fix), `fail_on_plugin_error` (C63), and `getPluginManager`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ConfigError,
  getPluginManager,
  type HookCallOptions,
  parseConfig,
  Plugin,
  type PluginConfig,
  type PluginContext,
  PluginError,
  PluginManager,
  type PluginManagerOptions,
  type PluginResult,
  registerExternalTransport,
  resetPluginManager,
} from "../mod.ts";
import { executorOf } from "../src/manager/manager.ts";
import { EchoPlugin, lifecycleLog } from "./fixtures/plugins/lifecycle_plugins.ts";
import { FnPlugin, gctx, WarningLog, withEnv } from "./helpers/context_plugins.ts";

const FIXTURES = new URL("./fixtures/manager/", import.meta.url);
const fixture = (name: string): URL => new URL(name, FIXTURES);
const PLUGINS_MODULE = new URL("./fixtures/plugins/lifecycle_plugins.ts", import.meta.url).href;

/** Every env variable these tests touch, cleared so the outer environment cannot interfere. */
const CLEAN_ENV = {
  PLUGINS_ENABLED: undefined,
  PLUGINS_CONFIG_FILE: undefined,
  PLUGINS_PLUGIN_TIMEOUT: undefined,
  PLUGINS_FAIL_ON_PLUGIN_ERROR: undefined,
};

function newManager(
  source: string | URL | ReturnType<typeof parseConfig> | null,
  options: PluginManagerOptions = {},
): { manager: PluginManager; log: WarningLog } {
  const log = new WarningLog();
  return { manager: new PluginManager(source, { logger: log, ...options }), log };
}

/** Runs `fn` on an initialized manager for `source`, always shutting it down. */
async function withManager(
  source: string | URL | ReturnType<typeof parseConfig> | null,
  fn: (manager: PluginManager, log: WarningLog) => Promise<void>,
  options: PluginManagerOptions = {},
): Promise<void> {
  const { manager, log } = newManager(source, options);
  await manager.initialize();
  try {
    await fn(manager, log);
  } finally {
    await manager.shutdown();
  }
}

function inlineConfig(plugins: Record<string, unknown>[], settings?: Record<string, unknown>) {
  return parseConfig({ plugins, plugin_settings: settings }, "inline.yaml");
}

function echoKind(exportName = "EchoPlugin"): string {
  return `${PLUGINS_MODULE}#${exportName}`;
}

function resetLog(): void {
  lifecycleLog.length = 0;
}

// --- loading by specifier ----------------------------------------------------------------------

Deno.test("kinds written as module.ts#Export load relative to the YAML config file", async () => {
  resetLog();
  await withEnv(CLEAN_ENV, () =>
    withManager(fixture("relative_kinds.yaml"), async (manager) => {
      assert.equal(manager.initialized, true);
      assert.equal(manager.pluginCount, 3);
      assert.ok(manager.getPlugin("first") instanceof EchoPlugin);
      assert.deepEqual(manager.getPlugin("first")!.config.config, { greeting: "hello" });
      const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      // Priority order: second (10) before first (20).
      assert.deepEqual(result.executions.map((r) => r.plugin_name), ["second", "first"]);
      assert.deepEqual(result.metadata, { second: null, first: { greeting: "hello" } });
      assert.equal(result.executions[1].plugin_kind, "../plugins/lifecycle_plugins.ts#EchoPlugin");
    }));
});

Deno.test("a config path may be given as a string", async () => {
  const path = decodeURIComponent(fixture("relative_kinds.yaml").pathname);
  await withEnv(CLEAN_ENV, () =>
    withManager(path, (manager) => {
      assert.equal(manager.pluginCount, 3);
      assert.equal(manager.config?.plugins.length, 4);
      return Promise.resolve();
    }));
});

Deno.test("disabled plugins are never instantiated, initialized or registered", async () => {
  resetLog();
  await withEnv(CLEAN_ENV, () =>
    withManager(fixture("relative_kinds.yaml"), (manager) => {
      assert.equal(manager.getPlugin("switched-off"), null);
      assert.equal(lifecycleLog.some((e) => e.endsWith(":switched-off")), false);
      return Promise.resolve();
    }));
});

Deno.test("a file: URL kind loads the exported class", async () => {
  const config = inlineConfig([{ name: "by-url", kind: echoKind(), hooks: ["tool_pre_invoke"] }]);
  await withManager(config, async (manager) => {
    assert.ok(manager.getPlugin("by-url") instanceof EchoPlugin);
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    assert.deepEqual(result.metadata, { "by-url": null });
  });
});

Deno.test("an absolute path kind loads the exported class", async () => {
  const path = decodeURIComponent(new URL(PLUGINS_MODULE).pathname);
  const config = inlineConfig([{
    name: "abs",
    kind: `${path}#EchoPlugin`,
    hooks: ["tool_pre_invoke"],
  }]);
  await withManager(config, (manager) => {
    assert.ok(manager.getPlugin("abs") instanceof EchoPlugin);
    return Promise.resolve();
  });
});

Deno.test("a pluginKinds map resolves kinds to classes", async () => {
  class Mapped extends Plugin {
    tool_pre_invoke(): PluginResult {
      return { metadata: { mapped: this.name } };
    }
  }
  const config = inlineConfig([{ name: "m", kind: "mapped", hooks: ["tool_pre_invoke"] }]);
  await withManager(config, async (manager) => {
    assert.ok(manager.getPlugin("m") instanceof Mapped);
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    assert.deepEqual(result.metadata, { mapped: "m" });
  }, { pluginKinds: { mapped: Mapped } });
});

Deno.test("a Config object is used as-is and exposed as manager.config", async () => {
  const config = inlineConfig([{ name: "e", kind: echoKind(), hooks: ["tool_pre_invoke"] }]);
  const { manager } = newManager(config);
  assert.equal(manager.config, config);
  await manager.initialize();
  assert.equal(manager.config, config);
  await manager.shutdown();
});

Deno.test("a missing config file fails initialize with a ConfigError naming it", async () => {
  const { manager } = newManager(fixture("no_such_file.yaml"));
  await assert.rejects(manager.initialize(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(String((error as Error).message), /no_such_file\.yaml/);
    return true;
  });
  assert.equal(manager.initialized, false);
});

Deno.test("plugins get a copy of their config; ordering and mode come from the trusted config", async () => {
  const calls: string[] = [];
  class SelfPromoting extends Plugin {
    override initialize(): Promise<void> {
      // Tampering with its own copy must not change how the manager runs it.
      this.config.priority = -1000;
      this.config.mode = "audit";
      return Promise.resolve();
    }
    tool_pre_invoke(): PluginResult {
      calls.push(this.name);
      return {
        continue_processing: false,
        violation: { reason: "r", description: "d", code: "C" },
      };
    }
  }
  class Early extends Plugin {
    tool_pre_invoke(): PluginResult {
      calls.push(this.name);
      return {};
    }
  }
  const config = inlineConfig([
    { name: "promoter", kind: "promoter", hooks: ["tool_pre_invoke"], priority: 50 },
    { name: "early", kind: "early", hooks: ["tool_pre_invoke"], priority: 10 },
  ]);
  await withManager(config, async (manager) => {
    assert.notEqual(manager.getPlugin("promoter")!.config, config.plugins[0]);
    assert.equal(config.plugins[0].priority, 50);
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    assert.deepEqual(calls, ["early", "promoter"]);
    // Still SEQUENTIAL per the trusted config, so it blocks.
    assert.equal(result.continue_processing, false);
    assert.equal(result.executions[1].mode, "sequential");
  }, { pluginKinds: { promoter: SelfPromoting, early: Early } });
});

// --- independence and initialize/shutdown ----------------------------------------------------

Deno.test("manager instances are independent: plugins, config and disabled sets are not shared", async () => {
  const failing = () =>
    new FnPlugin({
      name: "flaky",
      kind: "inline",
      hooks: ["tool_pre_invoke"],
      on_error: "disable",
    }, () => {
      throw new Error("boom");
    });
  const a = newManager(null).manager;
  const b =
    newManager(inlineConfig([{ name: "e", kind: echoKind(), hooks: ["tool_pre_invoke"] }])).manager;
  await a.initialize();
  await b.initialize();
  try {
    assert.equal(a.config, null);
    assert.equal(b.pluginCount, 1);
    assert.equal(a.pluginCount, 0);
    await a.registerPlugin(failing());
    await b.registerPlugin(failing());
    await a.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    assert.equal(executorOf(a).runtimeDisabled.has("flaky"), true);
    assert.equal(executorOf(b).runtimeDisabled.has("flaky"), false);
    assert.equal(a.getPlugin("e"), null);
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

Deno.test("concurrent initialize calls load and initialize each plugin once", async () => {
  resetLog();
  const config = inlineConfig([{ name: "once", kind: echoKind(), hooks: ["tool_pre_invoke"] }]);
  const { manager } = newManager(config);
  await Promise.all(Array.from({ length: 5 }, () => manager.initialize()));
  try {
    assert.deepEqual(lifecycleLog, ["construct:once", "initialize:once"]);
    assert.equal(manager.pluginCount, 1);
    await manager.initialize();
    assert.equal(lifecycleLog.length, 2, "a repeated initialize is a no-op");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent initialize and shutdown do not race; repeated shutdowns are idempotent", async () => {
  resetLog();
  const config = inlineConfig([{ name: "p", kind: echoKind(), hooks: ["tool_pre_invoke"] }]);
  const { manager } = newManager(config);
  await Promise.all([manager.initialize(), manager.shutdown(), manager.initialize()]);
  assert.equal(manager.initialized, true);
  assert.equal(manager.pluginCount, 1);
  resetLog();
  await Promise.all(Array.from({ length: 5 }, () => manager.shutdown()));
  assert.equal(manager.initialized, false);
  assert.equal(manager.pluginCount, 0);
  assert.deepEqual(lifecycleLog, ["shutdown:p"]);
});

Deno.test("shutdown before initialize is a no-op", async () => {
  const { manager } = newManager(null);
  await manager.shutdown();
  assert.equal(manager.initialized, false);
});

Deno.test("an uninitialized manager dispatches to nothing and returns null contexts", async () => {
  const config = inlineConfig([{ name: "p", kind: echoKind(), hooks: ["tool_pre_invoke"] }]);
  const { manager } = newManager(config);
  const [result, contexts] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
  assert.equal(result.continue_processing, true);
  assert.deepEqual(result.executions, []);
  assert.equal(contexts, null);
});

Deno.test("shutdown runs in reverse registration order and reports failures without throwing", async () => {
  resetLog();
  const { manager, log } = newManager(fixture("shutdown_order.yaml"));
  await manager.initialize();
  resetLog();
  await manager.shutdown();
  assert.deepEqual(lifecycleLog, ["shutdown:C", "shutdown:B", "shutdown:A"]);
  assert.equal(log.messages.length, 1);
  assert.match(log.messages[0], /^Error shutting down plugin B: .*shutdown exploded/);
  assert.equal(manager.initialized, false);
  assert.equal(manager.pluginCount, 0);
  assert.equal(manager.hasHooksFor("tool_pre_invoke"), false);
  assert.equal(manager.getPlugin("A"), null);
});

Deno.test("initialize after shutdown loads fresh plugins from the re-read config file", async () => {
  resetLog();
  const path = await Deno.makeTempFile({ dir: "/tmp", suffix: ".yaml" });
  try {
    const write = (onError: string) =>
      Deno.writeTextFile(
        path,
        `plugins:\n  - name: p\n    kind: ${echoKind()}\n    hooks: [tool_pre_invoke]\n` +
          `    on_error: ${onError}\n`,
      );
    await write("fail");
    const { manager } = newManager(path);
    await manager.initialize();
    const before = manager.getPlugin("p");
    assert.equal(manager.config?.plugins[0].on_error, "fail");
    await manager.shutdown();
    await write("ignore");
    await manager.initialize();
    try {
      assert.equal(manager.initialized, true);
      assert.notEqual(manager.getPlugin("p"), before);
      assert.equal(manager.config?.plugins[0].on_error, "ignore");
      assert.deepEqual(lifecycleLog.filter((e) => e.startsWith("construct")), [
        "construct:p",
        "construct:p",
      ]);
    } finally {
      await manager.shutdown();
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("registerPlugin initializes the plugin and unregisterPlugin shuts it down", async () => {
  resetLog();
  const { manager } = newManager(null);
  await manager.initialize();
  try {
    const plugin = new EchoPlugin(
      parseConfig({ plugins: [{ name: "r", kind: "k", hooks: ["tool_pre_invoke"] }] }).plugins[0],
    );
    await manager.registerPlugin(plugin);
    assert.deepEqual(lifecycleLog, ["construct:r", "initialize:r"]);
    assert.equal(manager.getPlugin("r"), plugin);
    assert.equal(manager.hasHooksFor("tool_pre_invoke"), true);
    await manager.unregisterPlugin("r");
    await manager.unregisterPlugin("unknown");
    assert.deepEqual(lifecycleLog.at(-1), "shutdown:r");
    assert.equal(manager.getPlugin("r"), null);
    assert.equal(manager.hasHooksFor("tool_pre_invoke"), false);
  } finally {
    await manager.shutdown();
  }
});

// --- duplicate names and missing handlers -------------------------------------------------------

Deno.test("registering a second plugin with the same name is rejected", async () => {
  const { manager } = newManager(null);
  await manager.initialize();
  try {
    await manager.registerPlugin(new FnPlugin({ name: "dup", kind: "inline", hooks: ["h"] }));
    await assert.rejects(
      manager.registerPlugin(new FnPlugin({ name: "dup", kind: "inline", hooks: ["h"] })),
      /Plugin dup already registered/,
    );
    assert.equal(manager.pluginCount, 1);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a duplicate name in a config is skipped with a warning when fail_on_plugin_error is false", async () => {
  const config = inlineConfig([
    { name: "dup", kind: echoKind(), hooks: ["tool_pre_invoke"], config: { n: 1 } },
    { name: "dup", kind: echoKind(), hooks: ["tool_pre_invoke"], config: { n: 2 } },
  ]);
  await withEnv(CLEAN_ENV, () =>
    withManager(config, (manager, log) => {
      assert.equal(manager.pluginCount, 1);
      assert.deepEqual(manager.getPlugin("dup")!.config.config, { n: 1 });
      assert.equal(log.messages.length, 1);
      assert.match(log.messages[0], /Skipping plugin dup because fail_on_plugin_error is disabled/);
      assert.match(log.messages[0], /already registered/);
      return Promise.resolve();
    }, { failOnPluginError: false }));
});

Deno.test("a plugin without a handler for a listed hook is rejected with a clear PluginError", async () => {
  const { manager } = newManager(null);
  await manager.initialize();
  try {
    const plugin = new EchoPlugin(
      parseConfig({
        plugins: [{ name: "nohandler", kind: "k", hooks: ["tool_pre_invoke", "prompt_pre_fetch"] }],
      }).plugins[0],
    );
    await assert.rejects(manager.registerPlugin(plugin), (error: unknown) => {
      assert.ok(error instanceof PluginError);
      assert.equal(
        (error as Error).message,
        "Plugin 'nohandler' has no hook: 'prompt_pre_fetch'. Method must either be named " +
          "'prompt_pre_fetch' or decorated with @hook('prompt_pre_fetch')",
      );
      return true;
    });
    // Not half-registered: neither the plugin nor its resolvable hook is registered.
    assert.equal(manager.pluginCount, 0);
    assert.equal(manager.hasHooksFor("tool_pre_invoke"), false);
  } finally {
    await manager.shutdown();
  }
});

// --- fail_on_plugin_error (C63, Q18) --------------------------------------------------------------

Deno.test("by default a plugin that fails to load fails initialize, naming it and the cause (issue 12)", async () => {
  resetLog();
  await withEnv(CLEAN_ENV, async () => {
    const { manager, log } = newManager(fixture("broken_plugin.yaml"));
    await assert.rejects(manager.initialize(), (error: unknown) => {
      const message = (error as Error).message;
      assert.match(message, /^Plugin initialization failed: missing-module - /);
      assert.match(message, /does_not_exist\.ts/);
      return true;
    });
    assert.equal(manager.initialized, false);
    assert.equal(manager.pluginCount, 0);
    // The plugin loaded before the failure was shut down again.
    assert.deepEqual(lifecycleLog, ["construct:good-1", "initialize:good-1", "shutdown:good-1"]);
    assert.deepEqual(log.infos, [
      `0 of 3 plugins loaded from ${fixture("broken_plugin.yaml")}: missing-module failed`,
    ]);
  });
});

Deno.test("fail_on_plugin_error: false skips a plugin that fails to load, and says N of M loaded", async () => {
  await withEnv(CLEAN_ENV, () =>
    withManager(fixture("broken_plugin.yaml"), (manager, log) => {
      assert.equal(manager.initialized, true);
      assert.equal(manager.pluginCount, 2);
      assert.ok(manager.getPlugin("good-1"));
      assert.ok(manager.getPlugin("good-2"));
      assert.equal(manager.getPlugin("missing-module"), null);
      assert.equal(log.messages.length, 1);
      assert.match(
        log.messages[0],
        /^Skipping plugin missing-module because fail_on_plugin_error is disabled/,
      );
      assert.deepEqual(log.infos, [
        `2 of 3 plugins loaded from ${fixture("broken_plugin.yaml")}`,
      ]);
      return Promise.resolve();
    }, { failOnPluginError: false }));
});

Deno.test("a manager whose logger has no info method gets the load report as a warning", async () => {
  const messages: string[] = [];
  const config = inlineConfig([{ name: "ok", kind: echoKind(), hooks: ["tool_pre_invoke"] }]);
  await withEnv(CLEAN_ENV, async () => {
    const manager = new PluginManager(config, { logger: { warn: (m) => messages.push(m) } });
    await manager.initialize();
    await manager.shutdown();
  });
  assert.deepEqual(messages, ["1 of 1 plugins loaded"]);
});

Deno.test("failOnPluginError makes initialize fail naming the plugin, and nothing stays loaded", async () => {
  resetLog();
  await withEnv(CLEAN_ENV, async () => {
    const { manager } = newManager(fixture("broken_plugin.yaml"), { failOnPluginError: true });
    await assert.rejects(
      manager.initialize(),
      /^Error: Plugin initialization failed: missing-module - /,
    );
    assert.equal(manager.initialized, false);
    assert.equal(manager.pluginCount, 0);
    // The plugin loaded before the failure was shut down again.
    assert.deepEqual(lifecycleLog, ["construct:good-1", "initialize:good-1", "shutdown:good-1"]);
  });
});

Deno.test("plugin_settings.fail_on_plugin_error: true in YAML makes initialize fail", async () => {
  await withEnv(CLEAN_ENV, async () => {
    const { manager } = newManager(fixture("broken_fail_on_error.yaml"));
    await assert.rejects(
      manager.initialize(),
      /Plugin initialization failed: missing-module - /,
    );
    assert.equal(manager.initialized, false);
    await manager.shutdown();
  });
});

Deno.test("PLUGINS_FAIL_ON_PLUGIN_ERROR=true overrides fail_on_plugin_error: false in YAML", async () => {
  await withEnv({ ...CLEAN_ENV, PLUGINS_FAIL_ON_PLUGIN_ERROR: "true" }, async () => {
    const { manager } = newManager(fixture("broken_no_fail.yaml"));
    await assert.rejects(manager.initialize(), /Plugin initialization failed: missing-module/);
    assert.equal(manager.initialized, false);
  });
});

Deno.test("PLUGINS_FAIL_ON_PLUGIN_ERROR=false overrides fail_on_plugin_error: true in YAML", async () => {
  await withEnv(
    { ...CLEAN_ENV, PLUGINS_FAIL_ON_PLUGIN_ERROR: "false" },
    () =>
      withManager(fixture("broken_fail_on_error.yaml"), (manager, log) => {
        assert.equal(manager.initialized, true);
        assert.equal(manager.pluginCount, 1);
        assert.equal(log.messages.length, 1);
        return Promise.resolve();
      }),
  );
});

Deno.test("the failOnPluginError option overrides PLUGINS_FAIL_ON_PLUGIN_ERROR", async () => {
  await withEnv(
    { ...CLEAN_ENV, PLUGINS_FAIL_ON_PLUGIN_ERROR: "true" },
    () =>
      withManager(fixture("broken_plugin.yaml"), (manager) => {
        assert.equal(manager.pluginCount, 2);
        return Promise.resolve();
      }, { failOnPluginError: false }),
  );
});

Deno.test("every kind of load failure is reported with the plugin name and the cause", async () => {
  class Mapped extends Plugin {}
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ kind: echoKind("ConstructorErrorPlugin") }, /constructor exploded/],
    [{ kind: echoKind("FailingInitPlugin") }, /initialize exploded/],
    [{ kind: echoKind("NotAPlugin") }, /'NotAPlugin' exported by .* is not a Plugin class/],
    [{ kind: echoKind("Missing") }, /'Missing' exported by .* is not a Plugin class/],
    [{ kind: "plugins.deny_filter.DenyListPlugin" }, /unknown kind 'plugins\.deny_filter\./],
    [{ kind: "mapped", hooks: ["tool_pre_invoke"] }, /has no hook: 'tool_pre_invoke'/],
  ];
  for (const [entry, cause] of cases) {
    const config = inlineConfig([{ name: "bad", hooks: ["x"], ...entry }]);
    const { manager } = newManager(config, {
      failOnPluginError: true,
      pluginKinds: { mapped: Mapped },
    });
    await assert.rejects(manager.initialize(), (error: unknown) => {
      const message = (error as Error).message;
      assert.match(message, /^Plugin initialization failed: bad - /, message);
      assert.match(message, cause);
      return true;
    }, String(entry.kind));
    assert.equal(manager.pluginCount, 0);
  }
});

// --- plugin_timeout (Q18) ------------------------------------------------------------------------

Deno.test("plugin_settings.plugin_timeout in YAML sets the manager's plugin timeout", async () => {
  await withEnv(CLEAN_ENV, () =>
    withManager(fixture("plugin_timeout.yaml"), async (manager) => {
      assert.equal(executorOf(manager).timeout, 0.05);
      const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      assert.equal(result.continue_processing, true);
      assert.equal(result.executions[0].status, "timeout");
      assert.equal(result.executions[0].reason, "Plugin slow exceeded 0.05s timeout");
    }));
});

Deno.test("PLUGINS_PLUGIN_TIMEOUT overrides plugin_settings.plugin_timeout", async () => {
  await withEnv(
    { ...CLEAN_ENV, PLUGINS_PLUGIN_TIMEOUT: "0.02" },
    () =>
      withManager(fixture("plugin_timeout.yaml"), async (manager) => {
        assert.equal(executorOf(manager).timeout, 0.02);
        const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
        assert.equal(result.executions[0].reason, "Plugin slow exceeded 0.02s timeout");
      }),
  );
});

Deno.test("the timeout option overrides PLUGINS_PLUGIN_TIMEOUT and plugin_settings", async () => {
  await withEnv(
    { ...CLEAN_ENV, PLUGINS_PLUGIN_TIMEOUT: "9" },
    () =>
      withManager(fixture("plugin_timeout.yaml"), (manager) => {
        assert.equal(executorOf(manager).timeout, 0.03);
        return Promise.resolve();
      }, { timeout: 0.03 }),
  );
});

Deno.test("without any setting the plugin timeout defaults to 30 seconds", async () => {
  await withEnv(CLEAN_ENV, () =>
    withManager(null, (manager) => {
      assert.equal(executorOf(manager).timeout, 30);
      return Promise.resolve();
    }));
});

// --- external plugins ------------------------------------------------------------------------------

Deno.test("kind: external whose server is unreachable fails initialize, or is skipped when allowed", async () => {
  await withEnv(CLEAN_ENV, async () => {
    const strict = newManager(fixture("external_unreachable.yaml")).manager;
    await assert.rejects(
      strict.initialize(),
      /Plugin initialization failed: remote-unix - Failed to connect to /,
    );
    await withManager(fixture("external_unreachable.yaml"), (manager, log) => {
      assert.equal(manager.pluginCount, 0);
      assert.match(log.messages[0], /Skipping plugin remote-unix/);
      assert.match(
        log.messages[0],
        /Failed to connect to \/tmp\/cpex-lifecycle-nobody-listens\.sock/,
      );
      return Promise.resolve();
    }, { failOnPluginError: false });
    const { manager } = newManager(fixture("external_unreachable.yaml"), {
      failOnPluginError: true,
    });
    await assert.rejects(
      manager.initialize(),
      /Plugin initialization failed: remote-unix - Failed to connect to /,
    );
  });
});

/** A stand-in for an external plugin proxy: answers every hook through handleHook. */
class FakeExternalPlugin extends Plugin {
  static created: FakeExternalPlugin[] = [];
  readonly seen: string[] = [];

  constructor(config: PluginConfig) {
    super(config);
    FakeExternalPlugin.created.push(this);
  }

  override initialize(): Promise<void> {
    // What a real proxy does: merge the remote server's settings into its config.
    this.config = {
      ...this.config,
      priority: 5,
      mode: "sequential",
      config: { remote_setting: true, threshold: 3 },
    };
    return Promise.resolve();
  }

  override handleHook(
    hookName: string,
    payload: unknown,
    _context: PluginContext,
    _options: HookCallOptions,
  ): Promise<PluginResult> {
    this.seen.push(hookName);
    return Promise.resolve({
      metadata: { remote: (payload as { name: string }).name },
    });
  }
}

Deno.test("kind: external loads through registerExternalTransport and trusts the post-initialize config", async () => {
  let loads = 0;
  registerExternalTransport("unix_socket", () => {
    loads++;
    return Promise.resolve((config: PluginConfig) => new FakeExternalPlugin(config));
  });
  FakeExternalPlugin.created = [];
  await withEnv(CLEAN_ENV, () =>
    withManager(fixture("external_unix.yaml"), async (manager) => {
      assert.equal(loads, 1);
      assert.equal(manager.pluginCount, 2);
      const remote = manager.getPlugin("remote");
      assert.ok(remote instanceof FakeExternalPlugin);
      assert.equal(remote.config.unix_socket?.path, "/tmp/cpex-test-never-used.sock");
      const [result] = await manager.invokeHook("tool_pre_invoke", { name: "tool-x" }, gctx());
      // The merged priority 5 (not the file's 100) puts it before the local plugin (50).
      assert.deepEqual(result.executions.map((r) => r.plugin_name), ["remote", "local"]);
      assert.deepEqual(result.executions[0].config_keys, ["remote_setting", "threshold"]);
      assert.equal(result.executions[0].plugin_kind, "external");
      assert.deepEqual(result.metadata, { remote: "tool-x", local: null });
      assert.deepEqual((remote as FakeExternalPlugin).seen, ["tool_pre_invoke"]);
    }));
});

// --- getPluginManager ------------------------------------------------------------------------------

Deno.test("getPluginManager returns null unless PLUGINS_ENABLED is truthy", async () => {
  resetPluginManager();
  try {
    await withEnv({ ...CLEAN_ENV }, () => {
      assert.equal(getPluginManager(), null);
      return Promise.resolve();
    });
    await withEnv({ ...CLEAN_ENV, PLUGINS_ENABLED: "false" }, () => {
      assert.equal(getPluginManager(), null);
      return Promise.resolve();
    });
  } finally {
    resetPluginManager();
  }
});

Deno.test("getPluginManager builds one manager from PLUGINS_CONFIG_FILE and PLUGINS_PLUGIN_TIMEOUT", async () => {
  resetPluginManager();
  const path = decodeURIComponent(fixture("relative_kinds.yaml").pathname);
  try {
    await withEnv(
      {
        ...CLEAN_ENV,
        PLUGINS_ENABLED: " Yes ",
        PLUGINS_CONFIG_FILE: path,
        PLUGINS_PLUGIN_TIMEOUT: "4",
      },
      async () => {
        const manager = getPluginManager({ logger: new WarningLog() });
        assert.ok(manager instanceof PluginManager);
        assert.equal(getPluginManager({ timeout: 99 }), manager, "later calls return the same one");
        assert.equal(executorOf(manager).timeout, 4);
        assert.equal(manager.initialized, false, "the caller initializes it");
        await manager.initialize();
        try {
          assert.equal(manager.pluginCount, 3);
        } finally {
          await manager.shutdown();
        }
        resetPluginManager();
        const fresh = getPluginManager();
        assert.ok(fresh);
        assert.notEqual(fresh, manager);
      },
    );
  } finally {
    resetPluginManager();
  }
});
