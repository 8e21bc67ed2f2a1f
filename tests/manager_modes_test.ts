/**
 * Phase order, priority ordering, payload chaining and what each mode may do with blocks and
 * modifications (spec C1–C17, C20, C29–C30, C33, conditions against the original payload),
 * run through a real PluginManager with real plugins.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Extensions, parseConfig, type PluginConfig, PluginManager } from "../mod.ts";
import {
  AllowPlugin,
  block,
  BlockPlugin,
  gctx,
  makeManager,
  ScriptedPlugin,
  sleep,
  toolPayload,
  violation,
} from "./helpers/plugins.ts";

const HOOK = "tool_pre_invoke";

function logger(
  log: string[],
  name: string,
  mode: PluginConfig["mode"],
  priority: number,
  behavior?: ConstructorParameters<typeof ScriptedPlugin>[1],
): ScriptedPlugin {
  return new ScriptedPlugin({ name, hooks: [HOOK], mode, priority }, behavior, log);
}

Deno.test("a hook without plugins returns the default result and no context table", async () => {
  const manager = await makeManager([new AllowPlugin({ name: "a", kind: "x", hooks: [] })]);
  try {
    const [result, contexts] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(contexts, null);
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.equal(result.violation, null);
    assert.deepEqual(result.metadata, {});
    assert.deepEqual(result.executions, []);
    assert.deepEqual(result.background_tasks, []);
    assert.equal(result.retry_delay_ms, 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a hook whose plugins are all skipped returns defaults and an empty context table", async () => {
  const skipped = new ScriptedPlugin({
    name: "skipped",
    hooks: [HOOK],
    conditions: [{ tools: ["other_tool"] }],
  });
  const manager = await makeManager([skipped]);
  try {
    const [result, contexts] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(contexts, {});
    assert.deepEqual(result.executions, []);
    assert.equal(result.continue_processing, true);
    assert.equal(skipped.callCount, 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("phases run sequential, transform, audit, concurrent, fire_and_forget whatever the priorities", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "faf", "fire_and_forget", 1),
    logger(log, "conc", "concurrent", 2),
    logger(log, "audit", "audit", 3),
    logger(log, "xform", "transform", 4),
    logger(log, "seq", "sequential", 5),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["seq", "xform", "audit", "conc"]);
    await result.waitForBackgroundTasks();
    assert.deepEqual(log, ["seq", "xform", "audit", "conc", "faf"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("sequential plugins run before transform plugins with a lower priority", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "xform", "transform", 1),
    logger(log, "seq", "sequential", 10),
  ]);
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["seq", "xform"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("sequential plugins run before concurrent plugins with a lower priority", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "conc", "concurrent", 1),
    logger(log, "seq", "sequential", 10),
  ]);
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["seq", "conc"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("plugins of one mode run in ascending priority and ties keep registration order", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "c50", "audit", 50),
    logger(log, "a10", "audit", 10),
    logger(log, "tie-first", "audit", 30),
    logger(log, "tie-second", "audit", 30),
    logger(log, "b20", "audit", 20),
  ]);
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["a10", "b20", "tie-first", "tie-second", "c50"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("plugins from a Config object with pluginKinds run in priority order, ties in file order", async () => {
  const log: string[] = [];
  class Logged extends ScriptedPlugin {
    constructor(config: PluginConfig) {
      super(config, () => ({}), log);
    }
  }
  const config = parseConfig({
    plugins: [
      { name: "late", kind: "logged", hooks: [HOOK], priority: 9 },
      { name: "tie-a", kind: "logged", hooks: [HOOK], priority: 5 },
      { name: "off", kind: "logged", hooks: [HOOK], priority: 1, mode: "disabled" },
      { name: "tie-b", kind: "logged", hooks: [HOOK], priority: 5 },
      { name: "block", kind: "block", hooks: [HOOK], priority: 100, config: { code: "LAST" } },
    ],
  });
  const manager = await makeManager(
    [],
    { pluginKinds: { logged: Logged, block: BlockPlugin } },
    config,
  );
  try {
    assert.equal(manager.pluginCount, 4); // the disabled plugin is never loaded
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["tie-a", "tie-b", "late"]);
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "LAST");
    assert.equal(result.violation?.plugin_name, "block");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("sequential plugins chain the payload and the final payload is returned", async () => {
  const step = (p: { name: string; args: { step: number } }) => ({
    modified_payload: { ...p, args: { step: p.args.step + 1 } },
  });
  const first = new ScriptedPlugin({ name: "one", hooks: [HOOK], priority: 1 }, step);
  const second = new ScriptedPlugin({ name: "two", hooks: [HOOK], priority: 2 }, step);
  const manager = await makeManager([first, second]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload({ step: 0 }), gctx());
    assert.deepEqual((second.calls[0].payload as { args: unknown }).args, { step: 1 });
    assert.deepEqual(result.modified_payload, { name: "search", args: { step: 2 }, headers: null });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("transform plugins chain the payload like sequential ones", async () => {
  const seen: number[] = [];
  const step = (p: { name: string; args: { step: number } }) => {
    seen.push(p.args.step);
    return { modified_payload: { ...p, args: { step: p.args.step + 1 } } };
  };
  const manager = await makeManager([
    new ScriptedPlugin({ name: "one", hooks: [HOOK], mode: "transform", priority: 1 }, step),
    new ScriptedPlugin({ name: "two", hooks: [HOOK], mode: "transform", priority: 2 }, step),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload({ step: 0 }), gctx());
    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(result.modified_payload, { name: "search", args: { step: 2 }, headers: null });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the chained payload carries across phases to transform, audit and concurrent plugins", async () => {
  const seq = new ScriptedPlugin(
    { name: "seq", hooks: [HOOK], priority: 1 },
    (p) => ({ modified_payload: { ...p, args: { by: ["seq"] } } }),
  );
  const xform = new ScriptedPlugin(
    { name: "xform", hooks: [HOOK], mode: "transform", priority: 1 },
    (p) => ({ modified_payload: { ...p, args: { by: [...p.args.by, "xform"] } } }),
  );
  const audit = new ScriptedPlugin({ name: "audit", hooks: [HOOK], mode: "audit" });
  const conc = new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" });
  const manager = await makeManager([conc, audit, xform, seq]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const final = { name: "search", args: { by: ["seq", "xform"] }, headers: null };
    assert.deepEqual((xform.calls[0].payload as { args: unknown }).args, { by: ["seq"] });
    assert.deepEqual(audit.calls[0].payload, final);
    assert.deepEqual(conc.calls[0].payload, final);
    assert.deepEqual(result.modified_payload, final);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an accepted empty-object modification is chained (not dropped as falsy)", async () => {
  const custom = "custom_dict_hook";
  const empty = new ScriptedPlugin({ name: "empty", hooks: [custom], priority: 1 }, () => ({
    modified_payload: {},
  }));
  const next = new ScriptedPlugin({ name: "next", hooks: [custom], priority: 2 });
  const manager = await makeManager([empty, next]);
  try {
    const [result] = await manager.invokeHook(custom, { a: 1 }, gctx());
    assert.deepEqual(next.calls[0].payload, {});
    assert.deepEqual(result.modified_payload, {});
  } finally {
    await manager.shutdown();
  }
});

Deno.test("sequential block stops later sequential, transform, audit and concurrent plugins", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "first", "sequential", 1),
    logger(log, "blocker", "sequential", 2, () => block("STOP")),
    logger(log, "later-seq", "sequential", 3),
    logger(log, "xform", "transform", 1),
    logger(log, "audit", "audit", 1),
    logger(log, "conc", "concurrent", 1),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["first", "blocker"]);
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.violation, { ...violation("STOP"), plugin_name: "blocker" });
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["first", "blocker"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("sequential block still schedules fire_and_forget plugins", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "blocker", "sequential", 1, () => block()),
    logger(log, "faf", "fire_and_forget", 1),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.background_tasks.length, 1);
    assert.deepEqual(await result.waitForBackgroundTasks(), []);
    assert.deepEqual(log, ["blocker", "faf"]);
    assert.deepEqual(
      result.executions.map((r) => [r.plugin_name, r.mode]),
      [["blocker", "sequential"], ["faf", "fire_and_forget"]],
    );
  } finally {
    await manager.shutdown();
  }
});

Deno.test("halt result keeps the earlier payload, drops the blocker's own modification, keeps metadata, extensions and retry", async () => {
  const ext: Extensions = { custom: { tagged: true } };
  const first = new ScriptedPlugin({ name: "first", hooks: [HOOK], priority: 1 }, (p) => ({
    modified_payload: { ...p, args: { query: "first" } },
    metadata: { from: "first", shared: 1 },
    modified_extensions: ext,
    retry_delay_ms: 100,
  }));
  const blocker = new ScriptedPlugin({ name: "blocker", hooks: [HOOK], priority: 2 }, (p) => ({
    ...block("HALT"),
    modified_payload: { ...p, args: { query: "blocker" } },
    metadata: { shared: 2 },
    retry_delay_ms: 50,
  }));
  const manager = await makeManager([first, blocker]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { query: "first" },
      headers: null,
    });
    assert.equal(result.violation?.code, "HALT");
    assert.deepEqual(result.metadata, { from: "first", shared: 2 });
    assert.deepEqual(result.modified_extensions, ext); // kept on halt (our choice)
    assert.equal(result.retry_delay_ms, 100); // Q3 fix: max over plugins that ran
    assert.equal(result.executions[1].payload_modified, false);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("halt result without a violation has a null violation", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "quiet", hooks: [HOOK] }, () => ({ continue_processing: false })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation, null);
    assert.equal(result.modified_payload, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("transform block is ignored, its modification still applies and later plugins run", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "xform", "transform", 1, (p) => ({
      ...block("IGNORED"),
      modified_payload: { ...p, args: { query: "rewritten" } },
    })),
    logger(log, "xform2", "transform", 2),
    logger(log, "audit", "audit", 1),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["xform", "xform2", "audit"]);
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { query: "rewritten" },
      headers: null,
    });
    assert.equal(result.executions[0].requested_allow, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("audit block and modification are discarded but audit metadata is merged", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    logger(log, "audit", "audit", 1, (p) => ({
      ...block("AUDITED"),
      modified_payload: { ...p, args: { query: "audit" } },
      metadata: { audited: true },
    })),
    logger(log, "audit2", "audit", 2),
    logger(log, "conc", "concurrent", 1),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["audit", "audit2", "conc"]);
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
    assert.equal(result.modified_payload, null);
    assert.deepEqual(result.metadata, { audited: true });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("audit and concurrent extension changes never reach the result", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "audit", hooks: [HOOK], mode: "audit" }, () => ({
      modified_extensions: { custom: { audit: true } },
    })),
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, () => ({
      modified_extensions: { custom: { conc: true } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx(), {
      extensions: { custom: { original: true } },
    });
    assert.equal(result.modified_extensions, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the last sequential or transform extension writer wins", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK], priority: 1 }, () => ({
      modified_extensions: { custom: { by: "seq" } },
    })),
    new ScriptedPlugin({ name: "xform", hooks: [HOOK], mode: "transform" }, () => ({
      modified_extensions: { custom: { by: "xform" } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx(), {
      extensions: { custom: { by: "caller" } },
    });
    assert.deepEqual(result.modified_extensions, { custom: { by: "xform" } });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent modifications are discarded", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, (p) => ({
      modified_payload: { ...p, args: { query: "concurrent" } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent results are processed in completion order and the first block wins", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "slow-blocker", hooks: [HOOK], mode: "concurrent", priority: 1 },
      async (_p, _c, { signal }) => {
        await sleep(200, signal);
        return block("SLOW");
      },
    ),
    new ScriptedPlugin(
      { name: "fast-allow", hooks: [HOOK], mode: "concurrent", priority: 2 },
      () => ({ metadata: { fast: true } }),
    ),
    new ScriptedPlugin(
      { name: "fast-blocker", hooks: [HOOK], mode: "concurrent", priority: 3 },
      async (_p, _c, { signal }) => {
        await sleep(5, signal);
        return block("FAST", { metadata: { blocker: true } });
      },
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "FAST");
    assert.equal(result.violation?.plugin_name, "fast-blocker");
    assert.deepEqual(result.metadata, { fast: true, blocker: true });
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["fast-allow", "fast-blocker"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("violation.plugin_name is set to the reporting plugin's name, overriding the plugin's own", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "honest", hooks: [HOOK] }, () => ({
      continue_processing: false,
      violation: { ...violation("X"), plugin_name: "someone-else" },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.violation?.plugin_name, "honest");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("metadata of sequential, transform, audit and concurrent plugins merges with the last writer winning", async () => {
  const meta = (m: Record<string, unknown>) => () => ({ metadata: m });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "s", hooks: [HOOK] }, meta({ s: 1, shared: "s" })),
    new ScriptedPlugin(
      { name: "t", hooks: [HOOK], mode: "transform" },
      meta({ t: 1, shared: "t" }),
    ),
    new ScriptedPlugin({ name: "a", hooks: [HOOK], mode: "audit" }, meta({ a: 1, shared: "a" })),
    new ScriptedPlugin(
      { name: "c", hooks: [HOOK], mode: "concurrent" },
      meta({ c: 1, shared: "c" }),
    ),
    new ScriptedPlugin(
      { name: "f", hooks: [HOOK], mode: "fire_and_forget" },
      meta({ f: 1, shared: "f" }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    await result.waitForBackgroundTasks();
    assert.deepEqual(result.metadata, { s: 1, t: 1, a: 1, c: 1, shared: "c" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("http_headers from sequential, transform and concurrent plugins are merged into the result", async () => {
  const headers = (h: Record<string, string>) => () => ({ http_headers: h });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "s", hooks: [HOOK] }, headers({ "x-a": "1", "x-shared": "s" })),
    new ScriptedPlugin(
      { name: "t", hooks: [HOOK], mode: "transform" },
      headers({ "x-b": "2", "x-shared": "t" }),
    ),
    new ScriptedPlugin({ name: "c", hooks: [HOOK], mode: "concurrent" }, headers({ "x-c": "3" })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(result.http_headers, { "x-a": "1", "x-b": "2", "x-shared": "t", "x-c": "3" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a blocking plugin's http_headers reach the halt result (issue 11 item 9)", async () => {
  // A deliberate difference (README): the reference returns no http_headers from invoke_hook.
  const manager = await makeManager([
    new ScriptedPlugin({ name: "early", hooks: [HOOK], priority: 1 }, () => ({
      http_headers: { "x-early": "1", "retry-after": "1" },
    })),
    new ScriptedPlugin({ name: "limiter", hooks: [HOOK], priority: 2 }, () => ({
      ...block("RATE"),
      http_headers: { "retry-after": "30", "x-ratelimit-remaining": "0" },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.http_headers, {
      "x-early": "1",
      "retry-after": "30",
      "x-ratelimit-remaining": "0",
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("audit and fire_and_forget plugins' http_headers never reach the result", async () => {
  const headers = (h: Record<string, string>) => () => ({ http_headers: h });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "a", hooks: [HOOK], mode: "audit" }, headers({ "x-a": "1" })),
    new ScriptedPlugin(
      { name: "f", hooks: [HOOK], mode: "fire_and_forget" },
      headers({ "x-f": "1" }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    await result.waitForBackgroundTasks();
    assert.equal(result.http_headers, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a plugin registered with mode disabled is skipped without a record", async () => {
  const off = new ScriptedPlugin({ name: "off", hooks: [HOOK], mode: "disabled" });
  const on = new ScriptedPlugin({ name: "on", hooks: [HOOK] });
  const manager = await makeManager([off, on]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(off.callCount, 0);
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["on"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("conditions are evaluated against the original payload, not the chained one", async () => {
  const renamer = new ScriptedPlugin({ name: "renamer", hooks: [HOOK], priority: 1 }, (p) => ({
    modified_payload: { ...p, name: "renamed" },
  }));
  const onOriginal = new ScriptedPlugin({
    name: "on-original",
    hooks: [HOOK],
    priority: 2,
    conditions: [{ tools: ["search"] }],
  });
  const onRenamed = new ScriptedPlugin({
    name: "on-renamed",
    hooks: [HOOK],
    priority: 3,
    conditions: [{ tools: ["renamed"] }],
  });
  const manager = await makeManager([renamer, onOriginal, onRenamed]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(onOriginal.callCount, 1);
    assert.equal((onOriginal.calls[0].payload as { name: string }).name, "renamed");
    assert.equal(onRenamed.callCount, 0);
    assert.equal((result.modified_payload as { name: string }).name, "renamed");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("plugins registered for another hook do not run and the hook reports no plugins", async () => {
  const prompt = new ScriptedPlugin({ name: "prompt-only", hooks: ["prompt_pre_fetch"] });
  const manager = await makeManager([prompt]);
  try {
    assert.equal(manager.hasHooksFor(HOOK), false);
    assert.equal(manager.hasHooksFor("prompt_pre_fetch"), true);
    const [result, contexts] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(contexts, null);
    assert.equal(result.modified_payload, null);
    assert.equal(prompt.callCount, 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an uninitialized manager dispatches to no plugins and returns defaults", async () => {
  const manager = new PluginManager(undefined, { logger: { warn: () => {} } });
  const [result, contexts] = await manager.invokeHook(HOOK, toolPayload(), gctx());
  assert.equal(manager.initialized, false);
  assert.equal(contexts, null);
  assert.equal(result.continue_processing, true);
  assert.deepEqual(result.executions, []);
});

Deno.test("registering and unregistering plugins updates the next invocation's plan", async () => {
  const log: string[] = [];
  const manager = await makeManager([logger(log, "b", "sequential", 20)]);
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    await manager.registerPlugin(logger(log, "a", "sequential", 10));
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    await manager.unregisterPlugin("b");
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["b", "a", "b", "a"]);
  } finally {
    await manager.shutdown();
  }
});
