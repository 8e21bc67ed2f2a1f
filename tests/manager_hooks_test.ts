/**
 * Hook discovery and dispatch through a real PluginManager (spec §3.4, §3.5, Q25, C68, C33,
 * C34; upstream hooks/test_hook_patterns.py, test_manager_coverage.py::TestInvokeHookForPlugin,
 * test_manager_extensions.py): method-name convention, the `@hook` decorator (several hooks,
 * alphabetical precedence), `handleHook`, custom hooks, `invokeHookForPlugin`, and
 * capability-filtered extensions.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Extensions,
  hook,
  type HookCallOptions,
  HookValidationError,
  Plugin,
  PluginContext,
  PluginError,
  type PluginResult,
  PluginViolationError,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
  UnknownHookError,
} from "../mod.ts";
import { executorOf } from "../src/manager/manager.ts";
import { FnPlugin, gctx, withPlugins } from "./helpers/context_plugins.ts";

// --- discovery -----------------------------------------------------------------------------------

interface EmailPayload {
  recipient: string;
  subject?: string;
}

/** The three patterns of the upstream hook-pattern demo, as one TRANSFORM plugin. */
class DemoPlugin extends Plugin {
  /** Pattern 1: the method is named after the hook. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return {
      modified_payload: { ...payload, args: { ...payload.args, pattern: "convention" } },
      metadata: { pattern: "convention" },
    };
  }

  /** Pattern 2: a decorated method with another name. */
  @hook("tool_post_invoke")
  afterTool(payload: ToolPostInvokePayload): PluginResult<ToolPostInvokePayload> {
    const result = payload.result as Record<string, unknown>;
    return {
      modified_payload: { ...payload, result: { ...result, pattern: "decorator" } },
      metadata: { pattern: "decorator" },
    };
  }

  /** Pattern 3: a custom hook. */
  @hook("email_pre_send")
  checkEmail(payload: EmailPayload): PluginResult<EmailPayload> {
    if (payload.recipient.includes("@")) return { metadata: { email_valid: true } };
    return {
      modified_payload: { ...payload, recipient: "invalid-email@example.com" },
      metadata: { fixed_email: true },
    };
  }
}

function demo(): DemoPlugin {
  return new DemoPlugin({
    name: "demo",
    kind: "inline",
    mode: "transform",
    hooks: ["tool_pre_invoke", "tool_post_invoke", "email_pre_send"],
  });
}

Deno.test("a method named after the hook handles it (convention)", async () => {
  await withPlugins([demo()], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t", args: { a: 1 } },
      gctx(),
    );
    assert.deepEqual(result.modified_payload?.args, { a: 1, pattern: "convention" });
    assert.deepEqual(result.metadata, { pattern: "convention" });
  });
});

Deno.test("a hook listed twice in a plugin's hooks is registered and run once (issue 11 item 5)", async () => {
  // The reference runs it twice in most modes and once in fire_and_forget; we run it once.
  for (const mode of ["sequential", "transform", "audit", "concurrent", "fire_and_forget"]) {
    const plugin = new FnPlugin({
      name: "twice",
      kind: "inline",
      hooks: ["tool_pre_invoke", "tool_pre_invoke"],
      mode: mode as "sequential",
    });
    await withPlugins([plugin], async (manager) => {
      const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      await result.waitForBackgroundTasks();
      assert.equal(plugin.calls.length, 1, mode);
      assert.equal(result.executions.length, 1, mode);
    });
  }
});

Deno.test("a method decorated with @hook handles that hook", async () => {
  await withPlugins([demo()], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: { out: 1 } },
      gctx(),
    );
    assert.deepEqual(result.modified_payload?.result, { out: 1, pattern: "decorator" });
    assert.deepEqual(result.metadata, { pattern: "decorator" });
  });
});

Deno.test("a custom hook (email_pre_send) dispatches without registration", async () => {
  await withPlugins([demo()], async (manager) => {
    const [valid] = await manager.invokeHook(
      "email_pre_send",
      { recipient: "a@example.com" },
      gctx(),
    );
    assert.equal(valid.modified_payload, null);
    assert.deepEqual(valid.metadata, { email_valid: true });
    const [fixed] = await manager.invokeHook("email_pre_send", { recipient: "nobody" }, gctx());
    assert.deepEqual(fixed.modified_payload, { recipient: "invalid-email@example.com" });
    assert.deepEqual(fixed.metadata, { fixed_email: true });
  });
});

Deno.test("all three hook patterns work in sequence on one manager", async () => {
  await withPlugins([demo()], async (manager) => {
    const [pre, contexts] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    const [post] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: {} },
      gctx(),
      { localContexts: contexts },
    );
    const [mail] = await manager.invokeHook("email_pre_send", { recipient: "x" }, gctx());
    assert.equal(pre.metadata.pattern, "convention");
    assert.equal(post.metadata.pattern, "decorator");
    assert.equal(mail.metadata.fixed_email, true);
  });
});

Deno.test("one decorated method can serve several hooks", async () => {
  class Multi extends Plugin {
    @hook("tool_pre_invoke", "prompt_pre_fetch")
    first(_p: unknown, _c: PluginContext): PluginResult {
      return { metadata: { by: "first" } };
    }
    @hook(["resource_pre_fetch", "agent_pre_invoke"])
    second(): PluginResult {
      return { metadata: { by: "second" } };
    }
  }
  const plugin = new Multi({
    name: "multi",
    kind: "inline",
    hooks: ["tool_pre_invoke", "prompt_pre_fetch", "resource_pre_fetch", "agent_pre_invoke"],
  });
  await withPlugins([plugin], async (manager) => {
    const by = async (h: string, payload: unknown) =>
      (await manager.invokeHook(h, payload, gctx()))[0].metadata.by;
    assert.equal(await by("tool_pre_invoke", { name: "t" }), "first");
    assert.equal(await by("prompt_pre_fetch", { prompt_id: "p" }), "first");
    assert.equal(await by("resource_pre_fetch", { uri: "u" }), "second");
    assert.equal(await by("agent_pre_invoke", { agent_id: "a", messages: [] }), "second");
  });
});

Deno.test("among decorated methods for one hook the alphabetically first name wins", async () => {
  class Ambiguous extends Plugin {
    @hook("custom_hook")
    zulu(): PluginResult {
      return { metadata: { by: "zulu" } };
    }
    @hook("custom_hook")
    alpha(): PluginResult {
      return { metadata: { by: "alpha" } };
    }
    @hook("custom_hook")
    mike(): PluginResult {
      return { metadata: { by: "mike" } };
    }
  }
  await withPlugins(
    [new Ambiguous({ name: "amb", kind: "inline", hooks: ["custom_hook"] })],
    async (manager) => {
      const [result] = await manager.invokeHook("custom_hook", {}, gctx());
      assert.equal(result.metadata.by, "alpha");
    },
  );
});

Deno.test("a method named after the hook beats a decorated method", async () => {
  class Both extends Plugin {
    @hook("tool_pre_invoke")
    aaa(): PluginResult {
      return { metadata: { by: "decorated" } };
    }
    tool_pre_invoke(): PluginResult {
      return { metadata: { by: "convention" } };
    }
  }
  await withPlugins(
    [new Both({ name: "both", kind: "inline", hooks: ["tool_pre_invoke"] })],
    async (manager) => {
      const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      assert.equal(result.metadata.by, "convention");
    },
  );
});

Deno.test("decorated methods whose names start with an underscore are not hook handlers", async () => {
  class Hidden extends Plugin {
    @hook("custom_hook")
    _hidden(): PluginResult {
      return {};
    }
  }
  await withPlugins([], async (manager) => {
    await assert.rejects(
      manager.registerPlugin(
        new Hidden({ name: "hidden", kind: "inline", hooks: ["custom_hook"] }),
      ),
      (error: unknown) =>
        error instanceof PluginError && /has no hook: 'custom_hook'/.test(error.message),
    );
  });
});

Deno.test("hook methods inherited from a base class are found, by name and by decorator", async () => {
  class Base extends Plugin {
    tool_pre_invoke(): PluginResult {
      return { metadata: { base: "convention" } };
    }
    @hook("custom_hook")
    inherited(): PluginResult {
      return { metadata: { base: "decorator" } };
    }
  }
  class Derived extends Base {}
  await withPlugins(
    [new Derived({ name: "d", kind: "inline", hooks: ["tool_pre_invoke", "custom_hook"] })],
    async (manager) => {
      const [a] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      const [b] = await manager.invokeHook("custom_hook", {}, gctx());
      assert.equal(a.metadata.base, "convention");
      assert.equal(b.metadata.base, "decorator");
    },
  );
});

Deno.test("handleHook receives every registered hook with its name, before method discovery", async () => {
  const seen: string[] = [];
  class Generic extends Plugin {
    tool_pre_invoke(): PluginResult {
      throw new Error("handleHook must take precedence");
    }
    override handleHook(
      hookName: string,
      _payload: unknown,
      _context: PluginContext,
      _options: HookCallOptions,
    ): Promise<PluginResult> {
      seen.push(hookName);
      return Promise.resolve({ metadata: { hook: hookName } });
    }
  }
  const plugin = new Generic({
    name: "generic",
    kind: "inline",
    hooks: ["tool_pre_invoke", "cmf.tool_pre_invoke", "anything_at_all"],
  });
  await withPlugins([plugin], async (manager) => {
    for (const h of ["tool_pre_invoke", "cmf.tool_pre_invoke", "anything_at_all"]) {
      const [result] = await manager.invokeHook(h, { name: "t" }, gctx());
      assert.equal(result.metadata.hook, h);
    }
  });
  assert.deepEqual(seen, ["tool_pre_invoke", "cmf.tool_pre_invoke", "anything_at_all"]);
});

Deno.test("synchronous and asynchronous hook methods both work", async () => {
  class Mixed extends Plugin {
    tool_pre_invoke(): PluginResult {
      return { metadata: { sync: true } };
    }
    async tool_post_invoke(): Promise<PluginResult> {
      await Promise.resolve();
      return { metadata: { async: true } };
    }
  }
  await withPlugins(
    [new Mixed({ name: "m", kind: "inline", hooks: ["tool_pre_invoke", "tool_post_invoke"] })],
    async (manager) => {
      const [a] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      const [b] = await manager.invokeHook("tool_post_invoke", { name: "t", result: 1 }, gctx());
      assert.deepEqual(a.metadata, { sync: true });
      assert.deepEqual(b.metadata, { async: true });
    },
  );
});

Deno.test("hook methods receive the payload, their PluginContext and options with a live signal", async () => {
  let seen: { payload: unknown; context: unknown; signal: unknown } | null = null;
  const plugin = new FnPlugin(
    { name: "p", kind: "inline", hooks: ["tool_pre_invoke"] },
    (_h, payload, context, options) => {
      seen = { payload, context, signal: options.signal };
      return {};
    },
  );
  await withPlugins([plugin], async (manager) => {
    await manager.invokeHook("tool_pre_invoke", { name: "t", args: { a: 1 } }, gctx());
  });
  assert.deepEqual(seen!.payload, { name: "t", args: { a: 1 } });
  assert.ok(seen!.context instanceof PluginContext);
  assert.ok(seen!.signal instanceof AbortSignal);
  assert.equal((seen!.signal as AbortSignal).aborted, false);
});

// --- invokeHookForPlugin (C68) ------------------------------------------------------------------

function single(
  fn: (payload: unknown, context: PluginContext) => PluginResult | Promise<PluginResult>,
  extra: Record<string, unknown> = {},
): FnPlugin {
  return new FnPlugin(
    { name: "solo", kind: "inline", hooks: ["tool_pre_invoke"], ...extra },
    (_h, payload, context) => fn(payload, context),
  );
}

Deno.test("invokeHookForPlugin runs one plugin's hook and returns its result", async () => {
  await withPlugins([single(() => ({ metadata: { ran: true } }))], async (manager) => {
    const result = await manager.invokeHookForPlugin(
      "solo",
      "tool_pre_invoke",
      { name: "t" },
      gctx(),
    );
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.metadata, { ran: true });
    assert.deepEqual(result.executions, [], "no execution records");
  });
});

Deno.test("invokeHookForPlugin names the missing plugin or hook", async () => {
  await withPlugins([single(() => ({}))], async (manager) => {
    for (const [name, h] of [["nobody", "tool_pre_invoke"], ["solo", "tool_post_invoke"]]) {
      await assert.rejects(
        manager.invokeHookForPlugin(name, h, { name: "t", result: 1 }, gctx()),
        (error: unknown) => {
          assert.ok(error instanceof PluginError);
          assert.equal(
            error.message,
            `Unable to find ${h} for plugin ${name}.  Make sure the plugin is registered.`,
          );
          return true;
        },
      );
    }
  });
});

Deno.test("invokeHookForPlugin wraps a GlobalContext and uses a given PluginContext as-is", async () => {
  const contexts: PluginContext[] = [];
  await withPlugins([single((_p, c) => (contexts.push(c), {}))], async (manager) => {
    await manager.invokeHookForPlugin(
      "solo",
      "tool_pre_invoke",
      { name: "t" },
      gctx({
        tenant_id: "t1",
      }),
    );
    const mine = new PluginContext(gctx(), { kept: 1 });
    await manager.invokeHookForPlugin("solo", "tool_pre_invoke", { name: "t" }, mine);
    assert.ok(contexts[0] instanceof PluginContext);
    assert.equal(contexts[0].global_context.tenant_id, "t1");
    assert.equal(contexts[1], mine);
  });
});

Deno.test("invokeHookForPlugin with payloadAsJson validates JSON text or an object with the hook's schema", async () => {
  const payloads: unknown[] = [];
  await withPlugins([single((p) => (payloads.push(p), {}))], async (manager) => {
    await manager.invokeHookForPlugin("solo", "tool_pre_invoke", '{"name":"from-json"}', gctx(), {
      payloadAsJson: true,
    });
    await manager.invokeHookForPlugin("solo", "tool_pre_invoke", { name: "from-obj" }, gctx(), {
      payloadAsJson: true,
    });
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", '{"args":{}}', gctx(), {
        payloadAsJson: true,
      }),
      HookValidationError,
    );
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", "{not json", gctx(), {
        payloadAsJson: true,
      }),
      HookValidationError,
    );
  });
  assert.deepEqual(payloads, [
    { name: "from-json", args: {}, headers: null },
    { name: "from-obj", args: {}, headers: null },
  ]);
});

Deno.test("invokeHookForPlugin rejects payloads of the wrong kind", async () => {
  await withPlugins([single(() => ({}))], async (manager) => {
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", 42 as never, gctx(), {
        payloadAsJson: true,
      }),
      (error: unknown) =>
        error instanceof TypeError && /must be a string or an object/.test(error.message),
    );
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", "text" as never, gctx()),
      (error: unknown) =>
        error instanceof TypeError && /must be an object, got string/.test(error.message),
    );
  });
});

Deno.test("invokeHookForPlugin with payloadAsJson on an unregistered hook fails clearly", async () => {
  const plugin = new FnPlugin({ name: "c", kind: "inline", hooks: ["unregistered_hook"] });
  await withPlugins([plugin], async (manager) => {
    await assert.rejects(
      manager.invokeHookForPlugin("c", "unregistered_hook", "{}", gctx(), { payloadAsJson: true }),
      UnknownHookError,
    );
  });
});

Deno.test("invokeHookForPlugin bypasses conditions and the runtime-disabled set", async () => {
  let runs = 0;
  const plugin = single(() => (runs++, {}), { conditions: [{ tools: ["only-this"] }] });
  await withPlugins([plugin], async (manager) => {
    const [skipped] = await manager.invokeHook("tool_pre_invoke", { name: "other" }, gctx());
    assert.deepEqual(skipped.executions, []);
    executorOf(manager).runtimeDisabled.add("solo");
    await manager.invokeHookForPlugin("solo", "tool_pre_invoke", { name: "other" }, gctx());
  });
  assert.equal(runs, 1);
});

Deno.test("invokeHookForPlugin returns a sequential block, or throws it when asked", async () => {
  const deny = single(() => ({
    continue_processing: false,
    violation: { reason: "Nope", description: "not allowed", code: "DENY" },
  }));
  await withPlugins([deny], async (manager) => {
    const result = await manager.invokeHookForPlugin(
      "solo",
      "tool_pre_invoke",
      { name: "t" },
      gctx(),
    );
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "DENY");
    assert.equal(result.violation?.plugin_name, "solo");
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", { name: "t" }, gctx(), {
        violationsAsExceptions: true,
      }),
      (error: unknown) => {
        assert.ok(error instanceof PluginViolationError);
        assert.equal(
          error.message,
          "tool_pre_invoke blocked by plugin solo: DENY - Nope (not allowed)",
        );
        return true;
      },
    );
  });
});

Deno.test("invokeHookForPlugin never blocks for audit and transform plugins", async () => {
  for (const mode of ["audit", "transform"]) {
    const plugin = single(() => ({ continue_processing: false }), { mode });
    await withPlugins([plugin], async (manager) => {
      const result = await manager.invokeHookForPlugin(
        "solo",
        "tool_pre_invoke",
        { name: "t" },
        gctx(),
        { violationsAsExceptions: true },
      );
      assert.equal(result.continue_processing, true, mode);
    });
  }
});

Deno.test("invokeHookForPlugin applies on_error: fail raises PluginError, ignore continues", async () => {
  const boom = () => {
    throw new RangeError("kaput");
  };
  await withPlugins([single(boom)], async (manager) => {
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", { name: "t" }, gctx()),
      (error: unknown) => error instanceof PluginError && error.message === "RangeError('kaput')",
    );
  });
  await withPlugins([single(boom, { on_error: "ignore" })], async (manager) => {
    const result = await manager.invokeHookForPlugin(
      "solo",
      "tool_pre_invoke",
      { name: "t" },
      gctx(),
    );
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
  });
});

Deno.test("invokeHookForPlugin turns an ignored timeout into a continue result (no internal error)", async () => {
  const slow = new FnPlugin(
    { name: "slow", kind: "inline", hooks: ["tool_pre_invoke"], on_error: "ignore", timeout: 0.02 },
    (_h, _p, _c, { signal }) =>
      new Promise<PluginResult>((resolve) => {
        const timer = setTimeout(() => resolve({}), 5000);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve({ metadata: { late: true } });
        }, { once: true });
      }),
  );
  await withPlugins([slow], async (manager) => {
    const result = await manager.invokeHookForPlugin(
      "slow",
      "tool_pre_invoke",
      { name: "t" },
      gctx(),
    );
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.metadata, {});
  });
});

Deno.test("invokeHookForPlugin hands the plugin a frozen payload", async () => {
  const mutator = single((p) => {
    (p as { name: string }).name = "changed";
    return {};
  });
  await withPlugins([mutator], async (manager) => {
    const payload = { name: "t" };
    await assert.rejects(
      manager.invokeHookForPlugin("solo", "tool_pre_invoke", payload, gctx()),
      (error: unknown) => error instanceof PluginError && /TypeError/.test(error.message),
    );
    assert.equal(payload.name, "t");
  });
});

Deno.test("invokeHookForPlugin freezes the payload throughout, also past a class instance", async () => {
  const seen: unknown[] = [];
  const watcher = single((p) => {
    seen.push(p);
    return {};
  });
  await withPlugins([watcher], async (manager) => {
    // A shallowly frozen object still gets its children frozen; a Date is left as is but its
    // siblings are frozen (the general walk takes over from the one-pass walk).
    const shallow = Object.freeze({ inner: { list: [{ deep: 1 }] } });
    const when = new Date(0);
    await manager.invokeHookForPlugin(
      "solo",
      "tool_pre_invoke",
      { name: "t", args: { shallow, when, other: { x: [1, { y: 2 }] } } },
      gctx(),
    );
    const p = seen[0] as { args: Record<string, Record<string, unknown>> };
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.args));
    assert.ok(Object.isFrozen(shallow.inner) && Object.isFrozen(shallow.inner.list[0]));
    const other = p.args.other as { x: [number, { y: number }] };
    assert.ok(Object.isFrozen(other) && Object.isFrozen(other.x) && Object.isFrozen(other.x[1]));
    assert.equal(Object.isFrozen(when), false);
  });
});

// --- extensions (C33, C34) -----------------------------------------------------------------------

const EXTENSIONS: Extensions = {
  http: { headers: { authorization: "Bearer x" } },
  agent: { id: "agent-1" },
  delegation: { chain: ["a"] },
  custom: { tenant_tier: "gold" },
  request: { id: "r1" },
  security: {
    labels: ["internal", "pii"],
    classification: "confidential",
    subject: { id: "u1", type: "user", roles: ["admin"], teams: ["t"], claims: { c: 1 } },
  },
};

function viewer(name: string, capabilities: string[], views: Record<string, unknown>): FnPlugin {
  return new FnPlugin(
    { name, kind: "inline", hooks: ["tool_pre_invoke"], capabilities },
    (_h, _p, _c, options) => {
      views[name] = structuredClone(options.extensions);
      return {};
    },
  );
}

Deno.test("plugins without capabilities see only unrestricted extension slots", async () => {
  const views: Record<string, unknown> = {};
  await withPlugins([viewer("plain", [], views)], async (manager) => {
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx(), { extensions: EXTENSIONS });
  });
  assert.deepEqual(views.plain, {
    custom: { tenant_tier: "gold" },
    request: { id: "r1" },
    security: { labels: [], classification: "confidential" },
  });
});

Deno.test("capabilities unlock their extension slots and subject fields", async () => {
  const views: Record<string, unknown> = {};
  await withPlugins([
    viewer("headers", ["read_headers"], views),
    viewer("writer", ["write_headers", "read_agent", "append_delegation"], views),
    viewer("labels", ["read_labels"], views),
    viewer("roles", ["read_roles"], views),
  ], async (manager) => {
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx(), { extensions: EXTENSIONS });
  });
  const v = views as Record<string, Record<string, unknown>>;
  assert.deepEqual(v.headers.http, EXTENSIONS.http);
  assert.equal(v.headers.agent, undefined);
  assert.deepEqual(v.writer.http, EXTENSIONS.http);
  assert.deepEqual(v.writer.agent, EXTENSIONS.agent);
  assert.deepEqual(v.writer.delegation, EXTENSIONS.delegation);
  assert.deepEqual((v.labels.security as Record<string, unknown>).labels, ["internal", "pii"]);
  assert.equal((v.labels.security as Record<string, unknown>).subject, undefined);
  assert.deepEqual((v.roles.security as Record<string, unknown>).subject, {
    id: "u1",
    type: "user",
    roles: ["admin"],
  });
});

Deno.test("without extensions every plugin gets null and still runs", async () => {
  const views: Record<string, unknown> = {};
  await withPlugins([viewer("p", ["read_headers"], views)], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_extensions, null);
  });
  assert.equal(views.p, null);
});

Deno.test("a sequential plugin's modified_extensions reach the result (last writer wins)", async () => {
  const add = (name: string, label: string, priority: number) =>
    new FnPlugin(
      { name, kind: "inline", hooks: ["tool_pre_invoke"], priority, capabilities: ["read_labels"] },
      (_h, _p, _c, options) => {
        const security = options.extensions!.security as { labels: string[] };
        return {
          modified_extensions: {
            ...options.extensions,
            security: { ...security, labels: [...security.labels, label] },
          },
        };
      },
    );
  await withPlugins([add("a", "A_TOUCHED", 1), add("b", "B_TOUCHED", 2)], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx(), {
      extensions: EXTENSIONS,
    });
    // Extensions do not chain: b started from the caller's labels, and b wrote last.
    assert.deepEqual(
      (result.modified_extensions!.security as { labels: string[] }).labels,
      ["internal", "pii", "B_TOUCHED"],
    );
  });
});

Deno.test("a plugin mutating its extensions view changes nothing for the caller or later plugins", async () => {
  const views: Record<string, unknown> = {};
  const extensions = structuredClone(EXTENSIONS);
  const mutator = new FnPlugin(
    { name: "mutator", kind: "inline", hooks: ["tool_pre_invoke"], priority: 1 },
    (_h, _p, _c, options) => {
      try {
        (options.extensions!.custom as Record<string, unknown>).tenant_tier = "hacked";
      } catch { /* a frozen view is fine */ }
      return {};
    },
  );
  const later = viewer("later", [], views);
  await withPlugins([mutator, later], async (manager) => {
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx(), { extensions });
  });
  assert.equal((extensions.custom as Record<string, unknown>).tenant_tier, "gold");
  assert.equal(
    ((views.later as Record<string, unknown>).custom as Record<string, unknown>).tenant_tier,
    "gold",
  );
});
