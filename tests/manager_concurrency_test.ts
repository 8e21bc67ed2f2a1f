/**
 * CONCURRENT and FIRE_AND_FORGET scheduling (spec C19–C22, C27–C28) with our fixes: first block
 * wins and aborts siblings through their `AbortSignal`, on_error=fail cancels siblings and
 * records the error (Q6), fire-and-forget plugins see the final payload (Q1) and reuse their
 * context (Q2); plus per-invocation isolation under concurrent invocations.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginError, type PluginResult } from "../mod.ts";
import { executorOf } from "../src/manager/manager.ts";
import {
  block,
  gctx,
  hang,
  makeManager,
  recordOf,
  rejection,
  ScriptedPlugin,
  sleep,
  toolPayload,
} from "./helpers/plugins.ts";

const HOOK = "tool_pre_invoke";

/** Tracks how many calls are in flight at once. */
class Gauge {
  current = 0;
  max = 0;
  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.current++;
    this.max = Math.max(this.max, this.current);
    try {
      return await fn();
    } finally {
      this.current--;
    }
  }
}

Deno.test("concurrent plugins all start before any finishes, in priority order", async () => {
  const events: string[] = [];
  const make = (name: string, priority: number, ms: number) =>
    new ScriptedPlugin(
      { name, hooks: [HOOK], mode: "concurrent", priority },
      async (_p, _c, { signal }) => {
        events.push(`start:${name}`);
        await sleep(ms, signal);
        events.push(`end:${name}`);
        return {};
      },
    );
  const manager = await makeManager([make("c3", 30, 2), make("c1", 10, 6), make("c2", 20, 4)]);
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(events.slice(0, 3), ["start:c1", "start:c2", "start:c3"]);
    assert.deepEqual(events.slice(3).sort(), ["end:c1", "end:c2", "end:c3"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent first block wins and aborts pending siblings through their signal", async () => {
  const hanging = new ScriptedPlugin(
    { name: "hanging", hooks: [HOOK], mode: "concurrent", priority: 1 },
    (_p, _c, { signal }) => hang(signal),
  );
  const manager = await makeManager([
    hanging,
    new ScriptedPlugin(
      { name: "blocker", hooks: [HOOK], mode: "concurrent", priority: 2 },
      async (_p, _c, { signal }) => {
        await sleep(5, signal);
        return block("FIRST");
      },
    ),
  ]);
  try {
    const started = performance.now();
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.ok(performance.now() - started < 1000);
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "FIRST");
    const signal = hanging.calls[0].signal;
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).name, "CancelledError");
    // Cancelled siblings produce no record.
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["blocker"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent on_error=fail raises, aborts siblings and records the error (Q6 fix)", async () => {
  const hanging = new ScriptedPlugin(
    { name: "hanging", hooks: [HOOK], mode: "concurrent", priority: 1 },
    (_p, _c, { signal }) => hang(signal),
  );
  const manager = await makeManager([
    hanging,
    new ScriptedPlugin(
      { name: "quick", hooks: [HOOK], mode: "concurrent", priority: 2 },
      () => ({}),
    ),
    new ScriptedPlugin(
      { name: "broken", hooks: [HOOK], mode: "concurrent", priority: 3 },
      async () => {
        await sleep(3);
        throw new Error("Plugin error!");
      },
    ),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "Error('Plugin error!')");
    assert.equal(error.error.plugin_name, "broken");
    assert.equal(hanging.calls[0].signal.aborted, true);
    const records = (error as PluginError & { executions?: unknown[] }).executions;
    const failed = recordOf(records as never, "broken");
    assert.equal(failed.status, "error");
    assert.equal(failed.effective_allow, false);
    assert.equal(recordOf(records as never, "quick").status, "completed");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent on_error=fail timeout raises the timeout message", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "TimeoutPlugin", hooks: [HOOK], mode: "concurrent" },
      (_p, _c, { signal }) => hang(signal),
    ),
  ], { timeout: 0.01 });
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "Plugin TimeoutPlugin exceeded 0.01s timeout");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("every concurrent plugin sees the same global state as it stood after the serial phases", async () => {
  const seen: unknown[] = [];
  const writer = (key: string) =>
  (
    _p: unknown,
    ctx: { global_context: { state?: Record<string, unknown> } },
  ) => {
    seen.push({ ...ctx.global_context.state });
    ctx.global_context.state![key] = true;
    return {};
  };
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, writer("seq")),
    new ScriptedPlugin(
      { name: "c1", hooks: [HOOK], mode: "concurrent", priority: 1 },
      writer("c1"),
    ),
    new ScriptedPlugin(
      { name: "c2", hooks: [HOOK], mode: "concurrent", priority: 2 },
      writer("c2"),
    ),
  ]);
  try {
    const global = gctx("r", { state: {} });
    await manager.invokeHook(HOOK, toolPayload(), global);
    assert.deepEqual(seen, [{}, { seq: true }, { seq: true }]);
    assert.deepEqual(global.state, { seq: true, c1: true, c2: true });
  } finally {
    await manager.shutdown();
  }
});

for (const pool of [1, 2]) {
  Deno.test(`executionPool=${pool} bounds concurrent plugins in flight to ${pool}`, async () => {
    const gauge = new Gauge();
    const order: string[] = [];
    const plugins = Array.from({ length: 4 }, (_, i) =>
      new ScriptedPlugin(
        { name: `c${i}`, hooks: [HOOK], mode: "concurrent", priority: i },
        (_p, _c, { signal }) =>
          gauge.run(async () => {
            order.push(`c${i}`);
            await sleep(3, signal);
            return {};
          }),
      ));
    const manager = await makeManager(plugins, { executionPool: pool });
    try {
      const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
      assert.equal(gauge.max, pool);
      assert.deepEqual(order, ["c0", "c1", "c2", "c3"]);
      assert.equal(result.executions.length, 4);
    } finally {
      await manager.shutdown();
    }
  });
}

Deno.test("executionPool=0 runs every concurrent plugin at once", async () => {
  const gauge = new Gauge();
  const plugins = Array.from({ length: 12 }, (_, i) =>
    new ScriptedPlugin(
      { name: `c${i}`, hooks: [HOOK], mode: "concurrent" },
      (_p, _c, { signal }) => gauge.run(() => sleep(3, signal).then(() => ({}))),
    ));
  const manager = await makeManager(plugins, { executionPool: 0 });
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(gauge.max, 12);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("executionPool=1 bounds fire_and_forget plugins in flight to one", async () => {
  const gauge = new Gauge();
  const plugins = Array.from({ length: 3 }, (_, i) =>
    new ScriptedPlugin(
      { name: `f${i}`, hooks: [HOOK], mode: "fire_and_forget" },
      () => gauge.run(() => sleep(3).then(() => ({}))),
    ));
  const manager = await makeManager(plugins, { executionPool: 1 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(await result.waitForBackgroundTasks(), []);
    assert.equal(gauge.max, 1);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("fire_and_forget plugins have not started when invokeHook returns", async () => {
  const log: string[] = [];
  const manager = await makeManager([
    new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" }, () => ({}), log),
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, () => ({}), log),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(log, ["seq"]);
    assert.equal(result.background_tasks.length, 1);
    assert.deepEqual(await Promise.all(result.background_tasks), [undefined]);
    assert.deepEqual(log, ["seq", "faf"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("invokeHook returns before a slow fire_and_forget plugin finishes; waiting completes it", async () => {
  let finished = false;
  const manager = await makeManager([
    new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" }, async () => {
      await sleep(20);
      finished = true;
      return {};
    }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(finished, false);
    assert.equal(result.continue_processing, true);
    await result.waitForBackgroundTasks();
    assert.equal(finished, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("waitForBackgroundTasks returns the fire_and_forget errors with plugin names", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "bad-faf", hooks: [HOOK], mode: "fire_and_forget" }, () => {
      throw new RangeError("background trouble");
    }),
    new ScriptedPlugin({ name: "good-faf", hooks: [HOOK], mode: "fire_and_forget" }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.deepEqual(await result.waitForBackgroundTasks(), [
      { message: "RangeError('background trouble')", plugin_name: "bad-faf" },
    ]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("fire_and_forget plugins see the final chained payload (Q1 fix)", async () => {
  const faf = new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" });
  const manager = await makeManager([
    faf,
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, args: { query: "seq" } },
    })),
    new ScriptedPlugin({ name: "xf", hooks: [HOOK], mode: "transform" }, (p) => ({
      modified_payload: { ...p, args: { query: `${p.args.query}+xf` } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    await result.waitForBackgroundTasks();
    assert.deepEqual(faf.calls[0].payload, result.modified_payload);
    assert.deepEqual((faf.calls[0].payload as { args: unknown }).args, { query: "seq+xf" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("fire_and_forget results are ignored: no block, modification or metadata", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" }, (p) => ({
      ...block("FAF"),
      modified_payload: { ...p, args: {} },
      metadata: { faf: true },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    await result.waitForBackgroundTasks();
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.equal(result.violation, null);
    assert.deepEqual(result.metadata, {});
  } finally {
    await manager.shutdown();
  }
});

Deno.test("fire_and_forget plugins reuse their context from localContexts (Q2 fix)", async () => {
  const faf = new ScriptedPlugin(
    { name: "faf", hooks: ["tool_pre_invoke", "tool_post_invoke"], mode: "fire_and_forget" },
    (_p, ctx, _o, hookName) => {
      if (hookName === "tool_pre_invoke") ctx.setState("seen_pre", true);
      return {};
    },
  );
  const manager = await makeManager([faf]);
  try {
    const global = gctx("req-ctx");
    const [pre, contexts] = await manager.invokeHook("tool_pre_invoke", toolPayload(), global);
    await pre.waitForBackgroundTasks();
    const [post] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "search", result: "ok" },
      global,
      { localContexts: contexts },
    );
    await post.waitForBackgroundTasks();
    assert.equal(faf.calls[1].hookName, "tool_post_invoke");
    assert.equal(faf.calls[1].context.getState("seen_pre"), true);
    assert.equal(faf.calls[1].context, faf.calls[0].context);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a fire_and_forget timeout is reported as TimeoutError() whatever on_error says", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "slow-faf", hooks: [HOOK], mode: "fire_and_forget", on_error: "fail" },
      (_p, _c, { signal }) => hang(signal),
    ),
  ], { timeout: 0.02 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(await result.waitForBackgroundTasks(), [
      { message: "TimeoutError()", plugin_name: "slow-faf" },
    ]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent invocations keep their own retry delay, metadata and records", async () => {
  const conc = (p: { args: { id: string; ms: number } }, _c: unknown, o: { signal: AbortSignal }) =>
    sleep(p.args.ms, o.signal).then((): PluginResult => ({
      retry_delay_ms: p.args.ms * 10,
      metadata: { id: p.args.id },
    }));
  const seq = async (p: { args: { id: string; ms: number } }) => {
    await sleep(p.args.id === "a" ? 6 : 1);
    return { metadata: { seq_for: p.args.id } };
  };
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, seq),
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, conc),
  ]);
  try {
    const [[a], [b], [c]] = await Promise.all([
      manager.invokeHook(HOOK, toolPayload({ id: "a", ms: 9 }), gctx("a")),
      manager.invokeHook(HOOK, toolPayload({ id: "b", ms: 2 }), gctx("b")),
      manager.invokeHook(HOOK, toolPayload({ id: "c", ms: 5 }), gctx("c")),
    ]);
    assert.equal(a.retry_delay_ms, 90);
    assert.equal(b.retry_delay_ms, 20);
    assert.equal(c.retry_delay_ms, 50);
    assert.deepEqual(a.metadata, { seq_for: "a", id: "a" });
    assert.deepEqual(b.metadata, { seq_for: "b", id: "b" });
    assert.deepEqual(c.metadata, { seq_for: "c", id: "c" });
    for (const r of [a, b, c]) assert.equal(r.executions.length, 2);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("concurrent invocations with one blocking do not affect each other", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "gate", hooks: [HOOK], mode: "concurrent" },
      async (p: { args: { id: string } }, _c, { signal }) => {
        await sleep(p.args.id === "deny" ? 2 : 6, signal);
        return p.args.id === "deny" ? block("GATE") : { metadata: { ok: p.args.id } };
      },
    ),
  ]);
  try {
    const [[denied], [allowed]] = await Promise.all([
      manager.invokeHook(HOOK, toolPayload({ id: "deny" }), gctx("x")),
      manager.invokeHook(HOOK, toolPayload({ id: "allow" }), gctx("y")),
    ]);
    assert.equal(denied.continue_processing, false);
    assert.equal(allowed.continue_processing, true);
    assert.deepEqual(allowed.metadata, { ok: "allow" });
    assert.equal(allowed.violation, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent block with a bounded pool cancels queued plugins and ignores them", async () => {
  const queued = new ScriptedPlugin(
    { name: "queued", hooks: [HOOK], mode: "concurrent", priority: 2 },
    // A short safety timer keeps the suite fast and the sanitizers clean if the abort is missed.
    (_p, _c, { signal }) => hang(signal, 150).catch(() => ({})),
  );
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "blocker", hooks: [HOOK], mode: "concurrent", priority: 1 },
      async () => {
        await sleep(2);
        return block("POOL");
      },
    ),
    queued,
  ], { executionPool: 1 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "POOL");
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["blocker"]);
    // Whether or not it got its slot before the block was processed, it is not left running.
    for (const call of queued.calls) assert.equal(call.signal.aborted, true);
  } finally {
    if (queued.calls.some((c) => !c.signal.aborted)) await sleep(200);
    await manager.shutdown();
  }
});

Deno.test("a concurrent block still schedules fire_and_forget plugins", async () => {
  const faf = new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, () => block("C")),
    faf,
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.background_tasks.length, 1);
    await result.waitForBackgroundTasks();
    assert.equal(faf.callCount, 1);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a block answered at once still aborts a hanging concurrent sibling", async () => {
  const hanging = new ScriptedPlugin(
    { name: "hanging", hooks: [HOOK], mode: "concurrent", priority: 2 },
    (_p, _c, { signal }) => hang(signal, 150).catch(() => ({})),
  );
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "instant", hooks: [HOOK], mode: "concurrent", priority: 1 },
      () => block("NOW"),
    ),
    hanging,
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.violation?.code, "NOW");
    assert.equal(hanging.calls[0].signal.aborted, true);
  } finally {
    if (hanging.calls.some((c) => !c.signal.aborted)) await sleep(200);
    await manager.shutdown();
  }
});

// Issue 11 item 3: siblings that finished before the halt was processed keep their effects as
// in the reference (probed with cpex 0.1.4: the failed on_error=disable sibling is disabled,
// the allowing sibling's global state and metadata are merged, neither gets a record).
Deno.test("a concurrent block keeps the effects of siblings that had already finished", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "blocker", hooks: [HOOK], mode: "concurrent", priority: 1 },
      () => block("FIRST"),
    ),
    new ScriptedPlugin(
      { name: "flaky", hooks: [HOOK], mode: "concurrent", priority: 2, on_error: "disable" },
      () => {
        throw new Error("boom");
      },
    ),
    new ScriptedPlugin(
      { name: "writer", hooks: [HOOK], mode: "concurrent", priority: 3 },
      (_p, context) => {
        context.global_context.state!.writer = 1;
        return { metadata: { writer: true } };
      },
    ),
  ]);
  try {
    const global = gctx();
    const [result] = await manager.invokeHook(HOOK, toolPayload(), global);
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["blocker"]);
    assert.deepEqual(result.metadata, { writer: true });
    assert.deepEqual(global.state, { writer: 1 });
    assert.deepEqual([...executorOf(manager).runtimeDisabled], ["flaky"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent on_error=fail failure keeps the effects of siblings that had already finished", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "broken", hooks: [HOOK], mode: "concurrent", priority: 1 }, () => {
      throw new Error("fail");
    }),
    new ScriptedPlugin(
      { name: "flaky", hooks: [HOOK], mode: "concurrent", priority: 2, on_error: "disable" },
      () => {
        throw new Error("boom");
      },
    ),
    new ScriptedPlugin(
      { name: "writer", hooks: [HOOK], mode: "concurrent", priority: 3 },
      (_p, context) => {
        context.global_context.state!.writer = 1;
        return {};
      },
    ),
  ]);
  try {
    const global = gctx();
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), global));
    assert.ok(error instanceof PluginError);
    assert.deepEqual(global.state, { writer: 1 });
    assert.deepEqual([...executorOf(manager).runtimeDisabled], ["flaky"]);
  } finally {
    await manager.shutdown();
  }
});
