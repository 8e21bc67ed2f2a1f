/**
 * The order `cpex check` prints is the order the manager runs: the plan computed from a config
 * is compared with what a real {@linkcode PluginManager} executes for the same config.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, Plugin, PluginManager, type PluginResult } from "../mod.ts";
import { buildPlan } from "../src/cli/plan.ts";

Deno.test("the plan's order is the order the manager starts the plugins in", async () => {
  const started: string[] = [];
  class Recorder extends Plugin {
    tool_pre_invoke(): PluginResult {
      started.push(this.name);
      return {};
    }
  }
  const entry = (name: string, mode: string, priority: number) => ({
    name,
    kind: "recorder",
    hooks: ["tool_pre_invoke"],
    mode,
    priority,
  });
  const config = parseConfig({
    plugins: [
      entry("faf-1", "fire_and_forget", 1),
      entry("audit-2", "audit", 2),
      entry("seq-30", "sequential", 30),
      entry("transform-5", "transform", 5),
      entry("seq-10-a", "sequential", 10),
      entry("concurrent-0", "concurrent", 0),
      entry("seq-10-b", "sequential", 10),
      entry("audit-1", "audit", 1),
      entry("transform-50", "transform", 50),
      entry("faf-0", "fire_and_forget", 0),
      entry("parked", "disabled", 0),
    ],
  });
  const planned = buildPlan(config, "inline").hooks[0].plugins.map((p) => p.name);
  assert.deepEqual(planned, [
    "seq-10-a",
    "seq-10-b",
    "seq-30",
    "transform-5",
    "transform-50",
    "audit-1",
    "audit-2",
    "concurrent-0",
    "faf-0",
    "faf-1",
  ]);
  const manager = new PluginManager(config, {
    pluginKinds: { recorder: Recorder },
    executionPool: 1,
  });
  await manager.initialize();
  try {
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, {
      request_id: "r1",
    });
    await result.waitForBackgroundTasks();
    assert.deepEqual(started, planned);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("conditions on other hook types do not restrict a hook in the plan", () => {
  const config = parseConfig({
    plugins: [{
      name: "p",
      kind: "x",
      hooks: ["tool_pre_invoke", "prompt_pre_fetch", "http_pre_request"],
      conditions: [{ tools: ["search"], prompts: ["greet"] }],
    }],
  });
  const plan = buildPlan(config, "inline");
  const conditions = Object.fromEntries(plan.hooks.map((h) => [h.hook, h.plugins[0].conditions]));
  assert.deepEqual(conditions, {
    tool_pre_invoke: [{ tools: ["search"] }],
    prompt_pre_fetch: [{ prompts: ["greet"] }],
    http_pre_request: null, // nothing applies: the plugin always runs for it
  });
  assert.deepEqual(plan.warnings, []);
});

Deno.test("a duplicate plugin name is a warning of the plan", () => {
  const config = parseConfig({
    plugins: [
      { name: "twin", kind: "x", hooks: ["tool_pre_invoke"] },
      { name: "twin", kind: "y", hooks: ["tool_pre_invoke"] },
    ],
  });
  const plan = buildPlan(config, "inline");
  assert.equal(plan.warnings.length, 1);
  assert.match(plan.warnings[0], /^plugins\[1\]: a plugin named 'twin' comes earlier/);
});

Deno.test("a hook listed twice in one plugin is a warning of the plan and planned once", () => {
  const config = parseConfig({
    plugins: [{ name: "p", kind: "x", hooks: ["tool_pre_invoke", "tool_pre_invoke"] }],
  });
  const plan = buildPlan(config, "inline");
  assert.deepEqual(plan.hooks.map((h) => [h.hook, h.plugins.length]), [["tool_pre_invoke", 1]]);
  assert.deepEqual(plan.warnings, [
    "plugins[0].hooks lists tool_pre_invoke more than once; p runs once per call " +
    "(the reference runs it once per listing)",
  ]);
});
