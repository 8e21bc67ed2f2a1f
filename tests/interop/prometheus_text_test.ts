/**
 * The Prometheus text exposition of the manager's metrics (issue 15 item 2, writer only) parsed
 * by the official Python client's parser (`prometheus_client`, installed in `.venv` with the
 * reference): family names and types, exact counter values, cumulative histogram buckets with
 * `+Inf` equal to the count, and label values with quotes, backslashes and line feeds escaped.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CpexMetrics, parsePluginConfig, writePrometheus } from "../../mod.ts";
import { FnPlugin, gctx, withPlugins } from "../helpers/context_plugins.ts";
import { parsePrometheus as parse } from "./prometheus_parse.ts";

const HOOK = "tool_pre_invoke";
const ODD = 'we"ird\\name\nx';

Deno.test("the Prometheus text of the manager's metrics parses with prometheus_client, values exact", async () => {
  const metrics = new CpexMetrics();
  let fail = false;
  const plugins = [
    new FnPlugin(
      { name: "guard", kind: "inline", hooks: [HOOK], priority: 1 },
      (_h, p) =>
        (p as { name: string }).name === "delete"
          ? {
            continue_processing: false,
            violation: { reason: "r", description: "d", code: 'CODE "quoted"' },
          }
          : {},
    ),
    new FnPlugin(
      { name: ODD, kind: "inline", hooks: [HOOK], priority: 2, on_error: "ignore" },
      () => {
        if (fail) throw new Error("down");
        return {};
      },
    ),
  ];
  await withPlugins(plugins, async (manager) => {
    await manager.registerPlugin(
      new FnPlugin({ name: "remote", kind: "inline", hooks: [HOOK] }),
      parsePluginConfig({
        name: "remote",
        kind: "external",
        hooks: [HOOK],
        priority: 3,
        grpc: { target: "127.0.0.1:1" },
      }),
    );
    for (const name of ["a", "b", "delete"]) {
      await manager.invokeHook(HOOK, { name, args: {} }, gctx());
    }
    fail = true;
    await manager.invokeHook(HOOK, { name: "c", args: {} }, gctx());
  }, { metrics });

  const families = await parse(writePrometheus(metrics));
  const family = (name: string) => families.find((f) => f.name === name)!;
  assert.deepEqual(families.map((f) => [f.name, f.type]), [
    ["cpex_plugin_calls", "counter"],
    ["cpex_plugin_violations", "counter"],
    ["cpex_plugin_fail_open", "counter"],
    ["cpex_remote_errors", "counter"],
    ["cpex_plugin_duration_seconds", "histogram"],
    ["cpex_hook_duration_seconds", "histogram"],
    ["cpex_remote_duration_seconds", "histogram"],
  ]);
  const calls = family("cpex_plugin_calls").samples;
  const call = (plugin: string, outcome: string) =>
    calls.find((s) => s.labels.plugin === plugin && s.labels.outcome === outcome)?.value;
  assert.equal(call("guard", "allowed"), 3);
  assert.equal(call("guard", "blocked"), 1);
  assert.equal(call(ODD, "allowed"), 2, "the escaped label value round-trips");
  assert.equal(call(ODD, "error"), 1);
  assert.equal(call("remote", "allowed"), 3);
  assert.equal(calls.length, 5);
  assert.ok(calls.every((s) => s.name === "cpex_plugin_calls_total" && s.labels.hook === HOOK));
  assert.deepEqual(family("cpex_plugin_violations").samples, [{
    name: "cpex_plugin_violations_total",
    labels: { plugin: "guard", hook: HOOK, code: 'CODE "quoted"' },
    value: 1,
  }]);
  assert.deepEqual(family("cpex_plugin_fail_open").samples, [{
    name: "cpex_plugin_fail_open_total",
    labels: { plugin: ODD, hook: HOOK },
    value: 1,
  }]);
  assert.deepEqual(family("cpex_remote_errors").samples, []);

  const histogram = family("cpex_plugin_duration_seconds").samples;
  for (const [plugin, count] of [["guard", 4], [ODD, 3], ["remote", 3]] as const) {
    const mine = histogram.filter((s) => s.labels.plugin === plugin);
    const buckets = mine.filter((s) => s.name.endsWith("_bucket"));
    const values = buckets.map((s) => Number(s.value));
    assert.deepEqual(values, [...values].sort((a, b) => a - b), "buckets are cumulative");
    assert.equal(buckets.at(-1)!.labels.le, "+Inf");
    assert.equal(buckets.at(-1)!.value, count);
    assert.equal(mine.find((s) => s.name.endsWith("_count"))!.value, count);
    assert.ok(Number(mine.find((s) => s.name.endsWith("_sum"))!.value) > 0);
  }
  const hook = family("cpex_hook_duration_seconds").samples;
  assert.equal(hook.find((s) => s.name === "cpex_hook_duration_seconds_count")!.value, 4);
  const remote = family("cpex_remote_duration_seconds").samples;
  assert.deepEqual(
    remote.find((s) => s.name === "cpex_remote_duration_seconds_count"),
    {
      name: "cpex_remote_duration_seconds_count",
      labels: { plugin: "remote", transport: "grpc" },
      value: 3,
    },
  );
});
