/**
 * Metrics through a real PluginManager and the OpenTelemetry metrics SDK (issue 15 item 1):
 * every outcome of `cpex.plugin.calls`, violations by code, fail-open, the latency histograms
 * and the remote instruments of an external plugin, read back by an SDK reader, plus the
 * bounded cardinality of violation codes, and the replica gauges of an external plugin with
 * real replica servers on Unix sockets (one stopped until its breaker opens, one never up).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import {
  CpexMetrics,
  MAX_VIOLATION_CODES,
  Outcome,
  parseConfig,
  parsePluginConfig,
  PLUGIN_OUTCOMES,
  PluginManager,
} from "../mod.ts";
import "../src/external/unix/client.ts";
import { FnPlugin, gctx, type HookFn, withPlugins } from "./helpers/context_plugins.ts";
import {
  EMAIL_PRE_SEND,
  type EmailPayload,
  emailRegistry,
  emailServer,
} from "./helpers/email_hooks.ts";
import { socketPath, within } from "./helpers/unix_fixtures.ts";

/** A reader collected on demand (no exporter). */
class TestReader extends MetricReader {
  constructor(temporality = AggregationTemporality.CUMULATIVE) {
    super({ aggregationTemporalitySelector: () => temporality });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  attributes: Record<string, unknown>;
  value: number;
}

/** Collects `name`: sums as values, histograms as their counts. */
async function points(reader: TestReader, name: string): Promise<Point[]> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  return pointsOf(resourceMetrics, name);
}

function pointsOf(rm: ResourceMetrics, name: string): Point[] {
  const out: Point[] = [];
  for (const scope of rm.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const dp of metric.dataPoints) {
        const value = metric.dataPointType === DataPointType.HISTOGRAM
          ? (dp.value as { count: number }).count
          : dp.value as number;
        out.push({ attributes: { ...dp.attributes }, value });
      }
    }
  }
  return out;
}

/** The value of the point with exactly `attributes`, 0 when absent. */
function valueOf(list: Point[], attributes: Record<string, string>): number {
  const found = list.filter((p) =>
    Object.keys(p.attributes).length === Object.keys(attributes).length &&
    Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)
  );
  assert.ok(found.length <= 1, `one point for ${JSON.stringify(attributes)}`);
  return found[0]?.value ?? 0;
}

function sdk(
  temporality = AggregationTemporality.CUMULATIVE,
): { reader: TestReader; metrics: CpexMetrics } {
  const reader = new TestReader(temporality);
  const meterProvider = new MeterProvider({ readers: [reader] });
  return { reader, metrics: new CpexMetrics({ meterProvider }) };
}

const HOOK = "tool_pre_invoke";

function plugin(name: string, fn: HookFn, extra: Record<string, unknown> = {}): FnPlugin {
  return new FnPlugin({ name, kind: "inline", hooks: [HOOK], ...extra }, fn);
}

const block = (code: string) => ({
  continue_processing: false,
  violation: { reason: "no", description: "blocked", code },
});
const deny = (code: string): HookFn => () => block(code);

function calls(plugin: string, mode: string, outcome: string): Record<string, string> {
  return { plugin, hook: HOOK, mode, outcome };
}

Deno.test("calls are counted by outcome: allowed, modified, blocked with its code, skipped", async () => {
  const { reader, metrics } = sdk();
  const plugins = [
    plugin("allow", () => ({}), { priority: 1 }),
    plugin("redact", (_h, p) => ({ modified_payload: { ...p as object, name: "x" } }), {
      priority: 2,
      mode: "transform",
    }),
    plugin("guard", (_h, p) => (p as { args: { bad?: boolean } }).args.bad ? block("PII") : {}, {
      priority: 3,
    }),
    plugin("only-y", () => ({}), { priority: 4, conditions: [{ tools: ["y"] }] }),
  ];
  await withPlugins(plugins, async (manager) => {
    assert.equal(manager.metrics, metrics);
    for (let i = 0; i < 3; i++) {
      await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
    }
    const [blocked] = await manager.invokeHook(HOOK, { name: "t", args: { bad: true } }, gctx());
    assert.equal(blocked.continue_processing, false);
  }, { metrics });
  const c = await points(reader, "cpex.plugin.calls");
  assert.equal(valueOf(c, calls("allow", "sequential", "allowed")), 4);
  // TRANSFORM runs after SEQUENTIAL: the block ends the chain before it (not counted).
  assert.equal(valueOf(c, calls("redact", "transform", "modified")), 3);
  assert.equal(valueOf(c, calls("guard", "sequential", "allowed")), 3);
  assert.equal(valueOf(c, calls("guard", "sequential", "blocked")), 1);
  // Skips are decided before anything runs, so the block leaves it at 4.
  assert.equal(valueOf(c, calls("only-y", "sequential", "skipped")), 4);
  assert.equal(c.length, 5);
  const v = await points(reader, "cpex.plugin.violations");
  assert.deepEqual(v, [{ attributes: { plugin: "guard", hook: HOOK, code: "PII" }, value: 1 }]);
  assert.deepEqual(await points(reader, "cpex.plugin.fail_open"), []);
  const d = await points(reader, "cpex.plugin.duration");
  assert.equal(valueOf(d, { plugin: "allow", hook: HOOK }), 4);
  assert.equal(valueOf(d, { plugin: "guard", hook: HOOK }), 4);
  assert.equal(valueOf(d, { plugin: "only-y", hook: HOOK }), 0, "a skipped call is not timed");
  assert.deepEqual(await points(reader, "cpex.hook.duration"), [
    { attributes: { hook: HOOK }, value: 4 },
  ]);
  // The local series the Prometheus exposition will read agree with the SDK.
  const guard = metrics.pluginSeries().find((s) => s.plugin === "guard")!;
  assert.equal(guard.calls[Outcome.Blocked], 1);
  assert.equal(guard.duration.count, 4);
  assert.equal(metrics.hookSeries()[0].duration.count, 4);
});

Deno.test("an error or timeout absorbed by on_error ignore/disable counts as fail-open; fail does not", async () => {
  const { reader, metrics } = sdk();
  const boom: HookFn = () => {
    throw new Error("boom");
  };
  const hang: HookFn = (_h, _p, _c, o) =>
    new Promise((_, reject) => o.signal.addEventListener("abort", () => reject(o.signal.reason)));
  const plugins = [
    plugin("ignored", boom, { priority: 1, on_error: "ignore" }),
    plugin("slow", hang, { priority: 2, on_error: "disable", timeout: 0.05 }),
    plugin("strict", boom, { priority: 3, on_error: "fail" }),
  ];
  await withPlugins(plugins, async (manager) => {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(manager.invokeHook(HOOK, { name: "t", args: {} }, gctx()));
    }
  }, { metrics });
  const c = await points(reader, "cpex.plugin.calls");
  assert.equal(valueOf(c, calls("ignored", "sequential", "error")), 2);
  assert.equal(valueOf(c, calls("slow", "sequential", "timeout")), 1);
  assert.equal(valueOf(c, calls("slow", "sequential", "skipped")), 1, "disabled after its timeout");
  assert.equal(valueOf(c, calls("strict", "sequential", "error")), 2);
  const f = await points(reader, "cpex.plugin.fail_open");
  assert.equal(valueOf(f, { plugin: "ignored", hook: HOOK }), 2);
  assert.equal(valueOf(f, { plugin: "slow", hook: HOOK }), 1);
  assert.equal(valueOf(f, { plugin: "strict", hook: HOOK }), 0);
  assert.equal(f.length, 2);
  const d = await points(reader, "cpex.plugin.duration");
  assert.equal(valueOf(d, { plugin: "slow", hook: HOOK }), 1, "a timed-out call is timed");
  assert.equal(valueOf(await points(reader, "cpex.hook.duration"), { hook: HOOK }), 2);
  // No remote instruments for in-process plugins.
  assert.deepEqual(await points(reader, "cpex.remote.errors"), []);
});

Deno.test("a concurrent block cancels the siblings it stops waiting for", async () => {
  const { reader, metrics } = sdk();
  const hang: HookFn = (_h, _p, _c, o) =>
    new Promise((_, reject) => o.signal.addEventListener("abort", () => reject(o.signal.reason)));
  const plugins = [
    plugin("blocker", deny("STOP"), { priority: 1, mode: "concurrent" }),
    plugin("waiting", hang, { priority: 2, mode: "concurrent" }),
  ];
  await withPlugins(plugins, async (manager) => {
    const [r] = await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
    assert.equal(r.continue_processing, false);
  }, { metrics });
  const c = await points(reader, "cpex.plugin.calls");
  assert.equal(valueOf(c, calls("blocker", "concurrent", "blocked")), 1);
  assert.equal(valueOf(c, calls("waiting", "concurrent", "cancelled")), 1);
  assert.equal(c.length, 2);
});

Deno.test("an external plugin's calls feed cpex.remote.duration and errors by kind", async () => {
  const { reader, metrics } = sdk();
  let fail = false;
  const remote = plugin("remote-guard", () => {
    if (fail) throw new Error("connection reset");
    return {};
  });
  const trusted = parsePluginConfig({
    name: "remote-guard",
    kind: "external",
    hooks: [HOOK],
    on_error: "ignore",
    unix_socket: { path: "/tmp/cpex-metrics-test.sock" },
  });
  await withPlugins([], async (manager) => {
    await manager.registerPlugin(remote, trusted);
    await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
    fail = true;
    await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
  }, { metrics });
  const rd = await points(reader, "cpex.remote.duration");
  assert.deepEqual(rd, [{
    attributes: { plugin: "remote-guard", transport: "unix_socket" },
    value: 2,
  }]);
  assert.deepEqual(await points(reader, "cpex.remote.errors"), [{
    attributes: { plugin: "remote-guard", transport: "unix_socket", kind: "error" },
    value: 1,
  }]);
});

Deno.test("fire-and-forget calls are counted when they finish, never as fail-open", async () => {
  const { reader, metrics } = sdk();
  const plugins = [
    plugin("audit-ok", () => ({}), { mode: "fire_and_forget", on_error: "ignore" }),
    plugin("audit-bad", () => {
      throw new Error("down");
    }, { mode: "fire_and_forget", on_error: "ignore" }),
  ];
  await withPlugins(plugins, async (manager) => {
    const [r] = await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
    await r.waitForBackgroundTasks();
  }, { metrics });
  const c = await points(reader, "cpex.plugin.calls");
  assert.equal(valueOf(c, calls("audit-ok", "fire_and_forget", "allowed")), 1);
  assert.equal(valueOf(c, calls("audit-bad", "fire_and_forget", "error")), 1);
  assert.deepEqual(await points(reader, "cpex.plugin.fail_open"), []);
});

Deno.test("metrics: null records nothing", async () => {
  const { reader, metrics } = sdk();
  await withPlugins([plugin("p", () => ({}))], async (manager) => {
    assert.equal(manager.metrics, null);
    await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
  }, { metrics: null });
  assert.deepEqual(await points(reader, "cpex.plugin.calls"), []);
  assert.deepEqual(metrics.pluginSeries(), []);
});

Deno.test("violation codes are bounded per series: past the cap they count as other", () => {
  const metrics = new CpexMetrics();
  const series = metrics.plugin("p", HOOK, "sequential", null);
  for (let i = 0; i < MAX_VIOLATION_CODES + 10; i++) metrics.violation(series, `code-${i}`);
  metrics.violation(series, "x".repeat(500));
  const distinct = new Set(series.violations.values());
  assert.equal(distinct.size, MAX_VIOLATION_CODES + 1);
  assert.equal(series.violation("other").count, 11);
  for (const v of distinct) assert.ok(String(v.attributes.code).length <= 64);
  assert.equal(PLUGIN_OUTCOMES[Outcome.Cancelled], "cancelled");
});

Deno.test("histograms: false keeps the latencies local and exports only the counters", async () => {
  const reader = new TestReader();
  const metrics = new CpexMetrics({
    meterProvider: new MeterProvider({ readers: [reader] }),
    histograms: false,
  });
  await withPlugins([plugin("p", () => ({}))], async (manager) => {
    await manager.invokeHook(HOOK, { name: "t", args: {} }, gctx());
  }, { metrics });
  assert.deepEqual(await points(reader, "cpex.plugin.duration"), []);
  assert.deepEqual(await points(reader, "cpex.hook.duration"), []);
  assert.equal(
    valueOf(await points(reader, "cpex.plugin.calls"), calls("p", "sequential", "allowed")),
    1,
  );
  assert.equal(metrics.pluginSeries()[0].duration.count, 1);
});

Deno.test("replica gauges: circuit state per replica, replicas and healthy replicas per plugin", async () => {
  // Delta: a collection reports only what was observed in it (a gone plugin disappears).
  const { reader, metrics } = sdk(AggregationTemporality.DELTA);
  const servers = [emailServer(), emailServer()];
  const paths = [socketPath("gauge-a"), socketPath("gauge-b"), socketPath("gauge-never")];
  const common = { transport: "unix", printReady: false, handleSignals: false } as const;
  const handles = await Promise.all(servers.map((s, i) => s.serve({ ...common, path: paths[i] })));
  const manager = new PluginManager(
    parseConfig({
      plugins: [{
        name: "EmailGuard",
        kind: "external",
        hooks: [EMAIL_PRE_SEND],
        unix_socket: { paths, reconnect_delay: 0.01 },
        // No probe during the test: health is what start-up found.
        health_check: { interval: 3600, timeout: 1, unhealthy_threshold: 1, healthy_threshold: 1 },
        circuit_breaker: { failure_threshold: 1, reset_timeout: 3600 },
      }],
    }),
    { hookRegistry: emailRegistry(), metrics },
  );
  const state = async () => {
    const circuit = await points(reader, "cpex.remote.circuit_state");
    return {
      circuit: paths.map((replica) => valueOf(circuit, { plugin: "EmailGuard", replica })),
      replicas: valueOf(await points(reader, "cpex.remote.replicas"), { plugin: "EmailGuard" }),
      healthy: valueOf(await points(reader, "cpex.remote.healthy_replicas"), {
        plugin: "EmailGuard",
      }),
    };
  };
  try {
    await within(manager.initialize(), "initialize");
    // The third replica was down at start-up: it starts unhealthy.
    assert.deepEqual(await state(), { circuit: [0, 0, 0], replicas: 3, healthy: 2 });
    await handles[1].close();
    // Calls that pick the stopped replica fail there (and go to the live one): its breaker
    // (failure_threshold 1) opens.
    for (let i = 0; i < 6; i++) {
      const [result] = await manager.invokeHook(
        EMAIL_PRE_SEND,
        { recipient: "ana@example.com", subject: "" } as EmailPayload,
        { request_id: `r${i}` },
      );
      assert.equal(result.continue_processing, true);
    }
    assert.deepEqual(await state(), { circuit: [0, 2, 0], replicas: 3, healthy: 2 });
    // The last replica goes too: the first call fails on it (opening its breaker), the next
    // two fail fast without a send.
    await handles[0].close();
    for (let i = 0; i < 3; i++) {
      const [result] = await manager.invokeHook(
        EMAIL_PRE_SEND,
        { recipient: "ana@example.com", subject: "" } as EmailPayload,
        { request_id: `down${i}` },
      ).catch((error) => [{ continue_processing: false, error }]);
      assert.equal(result.continue_processing, false);
    }
    // Delta reader: what was counted since its last collection.
    const fastFails = await points(reader, "cpex.remote.circuit_open");
    assert.deepEqual(fastFails, [{ attributes: { plugin: "EmailGuard" }, value: 2 }]);
    assert.deepEqual(await state(), { circuit: [2, 2, 0], replicas: 3, healthy: 2 });
  } finally {
    await manager.shutdown();
    await Promise.all(handles.map((h) => h.close()));
    await Promise.all(servers.map((s) => s.shutdown()));
  }
  // A shut-down manager's plugins are no longer reported.
  assert.deepEqual(await points(reader, "cpex.remote.circuit_state"), []);
  assert.deepEqual(await points(reader, "cpex.remote.healthy_replicas"), []);
});
