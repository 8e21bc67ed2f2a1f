/**
 * Spans through a real PluginManager (spec C69–C72, Q7 fix; upstream test_observability.py,
 * test_executor_context_concurrency.py, test_manager_coverage.py::TestExecuteWithTimeout): no
 * spans without a provider or a trace id, the chain span and plugin spans with their
 * attributes, `stopped_by` on a halt, swallowed provider failures, and spans always ended on
 * error paths. The provider is a real implementation that records spans into an array.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  currentTraceId,
  NullObservability,
  PayloadSizeError,
  PluginError,
  type PluginResult,
  PluginViolationError,
  withTraceId,
} from "../mod.ts";
import {
  FnPlugin,
  gctx,
  type HookFn,
  type SeenCall,
  SpanRecorder,
  withPlugins,
} from "./helpers/context_plugins.ts";

const CHAIN = "plugin.hook.invoke";

function plugin(name: string, fn: HookFn = () => ({}), extra: Record<string, unknown> = {}) {
  return new FnPlugin({ name, kind: "inline", hooks: ["tool_pre_invoke"], ...extra }, fn);
}

const deny: HookFn = () => ({
  continue_processing: false,
  violation: { reason: "no", description: "blocked", code: "DENY" },
});

function assertAllEnded(recorder: SpanRecorder): void {
  for (const span of recorder.spans) assert.equal(span.ended, true, `${span.start.name} not ended`);
}

// --- C69: when spans are emitted ---------------------------------------------------------------

Deno.test("no spans are emitted without a trace id even when a provider is set", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("p")], async (manager) => {
    assert.equal(currentTraceId(), undefined);
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
  }, { observability: recorder });
  assert.equal(recorder.startCalls, 0);
  assert.equal(recorder.endCalls, 0);
});

Deno.test("no spans are emitted without a provider, and a provider set later takes effect", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("p")], async (manager) => {
    assert.equal(manager.observability, null);
    await withTraceId(
      "trace-1",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.equal(recorder.startCalls, 0);
    manager.observability = recorder;
    await withTraceId(
      "trace-1",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.equal(recorder.spans.length, 2);
  });
});

Deno.test("a hook without plugins emits no span", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("p")], async (manager) => {
    await withTraceId(
      "t",
      () => manager.invokeHook("prompt_pre_fetch", { prompt_id: "x" }, gctx()),
    );
  }, { observability: recorder });
  assert.equal(recorder.startCalls, 0);
});

Deno.test("withTraceId scopes the trace id to its call tree", async () => {
  assert.equal(currentTraceId(), undefined);
  const inner = await withTraceId("abc", async () => {
    await Promise.resolve();
    return currentTraceId();
  });
  assert.equal(inner, "abc");
  assert.equal(currentTraceId(), undefined);
});

Deno.test("NullObservability starts no span and the manager works with it", async () => {
  const none = new NullObservability();
  assert.equal(none.startSpan({ traceId: "t", name: "n" }), null);
  none.endSpan("x", "ok", {});
  await withPlugins([plugin("p", () => ({ metadata: { ok: true } }))], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.deepEqual(result.metadata, { ok: true });
  }, { observability: none });
});

// --- C70/C71: chain and plugin spans ------------------------------------------------------------

Deno.test("one invocation emits a chain span and a plugin span with the documented attributes", async () => {
  const recorder = new SpanRecorder();
  const p = plugin("rewriter", (_h, payload) => ({
    modified_payload: { ...(payload as object), name: "new" },
  }), { priority: 7, mode: "transform" });
  await withPlugins([p], async (manager) => {
    const [result] = await withTraceId(
      "trace-42",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    const uuid = result.executions[0].plugin_id;
    assert.equal(recorder.spans.length, 2);
    const [chain, span] = recorder.spans;
    assert.deepEqual(chain.start, {
      traceId: "trace-42",
      name: CHAIN,
      kind: "internal",
      attributes: { "plugin.hook.type": "tool_pre_invoke", "plugin.chain.length": 1 },
    });
    assert.deepEqual(span.start, {
      traceId: "trace-42",
      name: "plugin.execute.rewriter",
      kind: "internal",
      resourceType: "plugin",
      resourceName: "rewriter",
      parentSpanId: chain.id, // issue 15: the chain span the plugin span belongs to
      attributes: {
        "plugin.name": "rewriter",
        "plugin.uuid": uuid,
        "plugin.mode": "transform",
        "plugin.priority": 7,
        "plugin.timeout": 30,
      },
    });
    assert.equal(span.status, "ok");
    assert.deepEqual(span.endAttributes, {
      "plugin.had_violation": false,
      "plugin.modified_payload": true,
    });
    assert.equal(chain.status, "ok");
    assert.deepEqual(chain.endAttributes, {
      "plugin.executed_count": 1,
      "plugin.skipped_count": 0,
      "plugin.chain.stopped": false,
      "plugin.chain.stopped_by": "",
    });
    // The chain span is ended after the plugin span.
    assert.deepEqual(recorder.events, [
      `start:${CHAIN}`,
      "start:plugin.execute.rewriter",
      "end:plugin.execute.rewriter:ok",
      `end:${CHAIN}:ok`,
    ]);
  }, { observability: recorder });
});

Deno.test("the plugin span's timeout attribute is the plugin's own timeout when set", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("p", () => ({}), { timeout: 2.5 })], async (manager) => {
    await withTraceId("t", () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()));
  }, { observability: recorder, timeout: 9 });
  assert.equal(recorder.named("plugin.execute.p")[0].start.attributes?.["plugin.timeout"], 2.5);
});

Deno.test("chain length counts every plugin of the hook, skipped ones included", async () => {
  const recorder = new SpanRecorder();
  const skipped = plugin("skipped", () => ({}), { conditions: [{ tools: ["other"] }] });
  const disabled = plugin("flaky", () => {
    throw new Error("x");
  }, { on_error: "disable" });
  await withPlugins([plugin("ran"), skipped, disabled], async (manager) => {
    await withTraceId("t", async () => {
      await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
      await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    });
  }, { observability: recorder });
  const chains = recorder.named(CHAIN);
  assert.equal(chains.length, 2);
  for (const chain of chains) assert.equal(chain.start.attributes?.["plugin.chain.length"], 3);
  // A failure handled by on_error counts as executed, as in the reference.
  assert.equal(chains[0].endAttributes?.["plugin.executed_count"], 2);
  assert.equal(chains[0].endAttributes?.["plugin.skipped_count"], 1);
  // Second call: the runtime-disabled plugin is skipped as well.
  assert.equal(chains[1].endAttributes?.["plugin.executed_count"], 1);
  assert.equal(chains[1].endAttributes?.["plugin.skipped_count"], 2);
});

Deno.test("a halt records stopped and stopped_by on the chain span", async () => {
  const recorder = new SpanRecorder();
  const later = plugin("later", () => ({}), { priority: 2 });
  await withPlugins([plugin("blocker", deny, { priority: 1 }), later], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.equal(result.continue_processing, false);
  }, { observability: recorder });
  const [chain] = recorder.named(CHAIN);
  assert.equal(chain.status, "ok");
  assert.deepEqual(chain.endAttributes, {
    "plugin.executed_count": 1,
    "plugin.skipped_count": 0,
    "plugin.chain.stopped": true,
    "plugin.chain.stopped_by": "blocker",
  });
  const [span] = recorder.named("plugin.execute.blocker");
  assert.deepEqual(span.endAttributes, {
    "plugin.had_violation": true,
    "plugin.modified_payload": false,
  });
  assert.equal(recorder.named("plugin.execute.later").length, 0);
});

Deno.test("a concurrent halt records stopped_by the concurrent plugin", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("c-deny", deny, { mode: "concurrent" })], async (manager) => {
    await withTraceId("t", () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()));
  }, { observability: recorder });
  assert.equal(recorder.named(CHAIN)[0].endAttributes?.["plugin.chain.stopped_by"], "c-deny");
  assertAllEnded(recorder);
});

/** The recorder's events around one plugin of `mode` running alone. */
async function spanEventsFor(mode: string): Promise<string[]> {
  const recorder = new SpanRecorder();
  const mark: HookFn = () => {
    recorder.events.push("call");
    return {};
  };
  await withPlugins([plugin(mode, mark, { mode })], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    await result.waitForBackgroundTasks();
  }, { observability: recorder });
  return recorder.events;
}

for (const mode of ["sequential", "transform", "audit"]) {
  Deno.test(`the plugin span of a ${mode} plugin starts before and ends after its call`, async () => {
    assert.deepEqual(await spanEventsFor(mode), [
      `start:${CHAIN}`,
      `start:plugin.execute.${mode}`,
      "call",
      `end:plugin.execute.${mode}:ok`,
      `end:${CHAIN}:ok`,
    ]);
  });
}

Deno.test("a fire-and-forget plugin's span encloses its call, which runs after the chain ended", async () => {
  assert.deepEqual(await spanEventsFor("fire_and_forget"), [
    `start:${CHAIN}`,
    `end:${CHAIN}:ok`,
    "start:plugin.execute.fire_and_forget",
    "call",
    "end:plugin.execute.fire_and_forget:ok",
  ]);
});

Deno.test("the plugin span of a concurrent plugin starts before and ends after its call", async () => {
  // C71: the plugin span is "around every plugin call".
  assert.deepEqual(await spanEventsFor("concurrent"), [
    `start:${CHAIN}`,
    "start:plugin.execute.concurrent",
    "call",
    "end:plugin.execute.concurrent:ok",
    `end:${CHAIN}:ok`,
  ]);
});

Deno.test("fire-and-forget plugins get a span under the caller's trace id", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("bg", () => ({}), { mode: "fire_and_forget" })], async (manager) => {
    const [result] = await withTraceId(
      "trace-bg",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    await result.waitForBackgroundTasks();
  }, { observability: recorder });
  const [span] = recorder.named("plugin.execute.bg");
  assert.equal(span.start.traceId, "trace-bg");
  assert.equal(span.status, "ok");
  assertAllEnded(recorder);
});

Deno.test("a fire-and-forget plugin span ends with its had_violation and modified_payload", async () => {
  // Issue 11 item 4: C71 says every successful plugin span carries both attributes.
  const recorder = new SpanRecorder();
  const bg = plugin("bg", () => ({
    continue_processing: false,
    violation: { reason: "no", description: "blocked", code: "DENY" },
    modified_payload: { name: "x" },
  }), {
    mode: "fire_and_forget",
  });
  await withPlugins([bg], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    await result.waitForBackgroundTasks();
  }, { observability: recorder });
  assert.deepEqual(recorder.named("plugin.execute.bg")[0].endAttributes, {
    "plugin.had_violation": true,
    "plugin.modified_payload": true,
  });
});

Deno.test("plugins that would be skipped after a halt still count in skipped_count", async () => {
  // Issue 11 item 4: the reference decides every skip before running anything.
  const recorder = new SpanRecorder();
  const unmatched = plugin("unmatched", () => ({}), {
    priority: 2,
    conditions: [{ tools: ["other"] }],
  });
  const bg = plugin("bg-unmatched", () => ({}), {
    mode: "fire_and_forget",
    conditions: [{ tools: ["other"] }],
  });
  const flaky = plugin("flaky", () => {
    throw new Error("x");
  }, { priority: 0, on_error: "ignore" });
  await withPlugins([plugin("blocker", deny, { priority: 1 }), unmatched, bg, flaky], async (m) => {
    await withTraceId("t", () => m.invokeHook("tool_pre_invoke", { name: "t" }, gctx()));
  }, { observability: recorder });
  assert.deepEqual(recorder.named(CHAIN)[0].endAttributes, {
    "plugin.executed_count": 2,
    "plugin.skipped_count": 2,
    "plugin.chain.stopped": true,
    "plugin.chain.stopped_by": "blocker",
  });
});

Deno.test("concurrent invocations under different trace ids keep independent chain counters", async () => {
  const recorder = new SpanRecorder();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const slow = plugin("slow", async () => {
    await gate;
    return {};
  }, { conditions: [{ tenant_ids: ["a"] }] });
  const fast = plugin("fast", () => ({}));
  await withPlugins([slow, fast], async (manager) => {
    const a = withTraceId(
      "trace-a",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx({ tenant_id: "a" })),
    );
    const b = withTraceId(
      "trace-b",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx({ tenant_id: "b" })),
    );
    await b;
    release();
    await a;
  }, { observability: recorder });
  const chains = recorder.named(CHAIN);
  const byTrace = Object.fromEntries(chains.map((c) => [c.start.traceId, c.endAttributes]));
  assert.deepEqual(byTrace["trace-a"], {
    "plugin.executed_count": 2,
    "plugin.skipped_count": 0,
    "plugin.chain.stopped": false,
    "plugin.chain.stopped_by": "",
  });
  assert.deepEqual(byTrace["trace-b"], {
    "plugin.executed_count": 1,
    "plugin.skipped_count": 1,
    "plugin.chain.stopped": false,
    "plugin.chain.stopped_by": "",
  });
  for (const span of recorder.spans) {
    if (span.start.name === "plugin.execute.slow") assert.equal(span.start.traceId, "trace-a");
  }
});

// --- Q7 fix: spans are ended on every error path -----------------------------------------------

Deno.test("a failing plugin (on_error fail) ends its span and the chain span with status error", async () => {
  const recorder = new SpanRecorder();
  const boom = plugin("boom", () => {
    throw new Error("exploded");
  });
  await withPlugins([boom], async (manager) => {
    await assert.rejects(
      withTraceId("t", () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx())),
      PluginError,
    );
  }, { observability: recorder });
  const [chain] = recorder.named(CHAIN);
  const [span] = recorder.named("plugin.execute.boom");
  assert.equal(span.status, "error");
  assert.equal(span.endAttributes, undefined, "error spans carry no attributes");
  assert.equal(chain.status, "error");
  assert.equal(chain.endAttributes?.["plugin.chain.stopped_by"], "boom");
  assertAllEnded(recorder);
});

Deno.test("a concurrent on_error fail ends every span it started", async () => {
  const recorder = new SpanRecorder();
  const boom = plugin("boom", () => {
    throw new Error("exploded");
  }, { mode: "concurrent", priority: 1 });
  const sibling = plugin(
    "sibling",
    (_h, _p, _c, { signal }) =>
      new Promise<PluginResult>((resolve) => {
        const timer = setTimeout(() => resolve({}), 2000);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve({});
        }, { once: true });
      }),
    { mode: "concurrent", priority: 2 },
  );
  await withPlugins([boom, sibling], async (manager) => {
    await assert.rejects(
      withTraceId("t", () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx())),
      PluginError,
    );
  }, { observability: recorder });
  assert.equal(recorder.named(CHAIN)[0].status, "error");
  assertAllEnded(recorder);
});

Deno.test("a timed-out plugin ends its span with status error", async () => {
  const recorder = new SpanRecorder();
  const slow = plugin("slow", (_h, _p, _c, { signal }) =>
    new Promise<PluginResult>((resolve) => {
      const timer = setTimeout(() => resolve({}), 2000);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve({});
      }, { once: true });
    }), { timeout: 0.02, on_error: "ignore" });
  await withPlugins([slow], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.equal(result.executions[0].status, "timeout");
  }, { observability: recorder });
  assert.equal(recorder.named("plugin.execute.slow")[0].status, "error");
  assert.equal(recorder.named(CHAIN)[0].status, "ok");
  assertAllEnded(recorder);
});

Deno.test("a violation raised as an exception ends the chain span with status ok and stopped_by", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("blocker", deny)], async (manager) => {
    await assert.rejects(
      withTraceId("t", () =>
        manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx(), {
          violationsAsExceptions: true,
        })),
      PluginViolationError,
    );
  }, { observability: recorder });
  const [chain] = recorder.named(CHAIN);
  assert.equal(chain.status, "ok");
  assert.equal(chain.endAttributes?.["plugin.chain.stopped"], true);
  assert.equal(chain.endAttributes?.["plugin.chain.stopped_by"], "blocker");
  assertAllEnded(recorder);
});

Deno.test("an oversized payload leaves no span open", async () => {
  const recorder = new SpanRecorder();
  await withPlugins([plugin("p")], async (manager) => {
    await assert.rejects(
      withTraceId(
        "t",
        () =>
          manager.invokeHook(
            "tool_pre_invoke",
            { name: "t", args: { big: "x".repeat(20) } },
            gctx(),
          ),
      ),
      PayloadSizeError,
    );
  }, { observability: recorder, maxPayloadSize: 10 });
  assertAllEnded(recorder);
});

// --- provider failures -------------------------------------------------------------------------

Deno.test("a provider whose startSpan throws does not break the hook call", async () => {
  const recorder = new SpanRecorder();
  recorder.failStart = true;
  const calls: SeenCall[] = [];
  const p = new FnPlugin(
    { name: "p", kind: "inline", hooks: ["tool_pre_invoke"] },
    () => ({ metadata: { ok: 1 } }),
    calls,
  );
  await withPlugins([p], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.deepEqual(result.metadata, { ok: 1 });
  }, { observability: recorder });
  assert.equal(calls.length, 1);
  assert.ok(recorder.startCalls >= 1);
  assert.equal(recorder.endCalls, 0, "no endSpan without a span id");
});

Deno.test("a provider whose endSpan throws does not break a successful hook call", async () => {
  const recorder = new SpanRecorder();
  recorder.failEnd = true;
  await withPlugins([plugin("p", () => ({ metadata: { ok: 1 } }))], async (manager) => {
    const [result] = await withTraceId(
      "t",
      () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()),
    );
    assert.deepEqual(result.metadata, { ok: 1 });
  }, { observability: recorder });
  assert.equal(recorder.endCalls, 2);
});

Deno.test("a provider whose endSpan throws does not mask a plugin's error", async () => {
  const recorder = new SpanRecorder();
  recorder.failEnd = true;
  const boom = plugin("boom", () => {
    throw new TypeError("the real problem");
  });
  await withPlugins([boom], async (manager) => {
    await assert.rejects(
      withTraceId("t", () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx())),
      (error: unknown) =>
        error instanceof PluginError && error.message === "TypeError('the real problem')",
    );
  }, { observability: recorder });
});

Deno.test("a provider returning null span ids never gets endSpan calls", async () => {
  let ends = 0;
  let starts = 0;
  const provider = {
    startSpan: () => (starts++, null),
    endSpan: () => void ends++,
  };
  await withPlugins([plugin("p")], async (manager) => {
    await withTraceId("t", () => manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx()));
  }, { observability: provider });
  assert.equal(starts, 2);
  assert.equal(ends, 0);
});

Deno.test("a traced plugin call sees its own span's trace context in options.traceContext (every mode)", async () => {
  const asked: string[] = [];
  let next = 0;
  const provider = {
    startSpan: () => String(++next),
    endSpan: () => {},
    traceContext: (id: string) => {
      asked.push(id);
      return { traceparent: `span-${id}` };
    },
  };
  const seen: Record<string, unknown> = {};
  const record: HookFn = (_h, _p, _c, o) => {
    seen[String(Object.keys(seen).length)] = o.traceContext?.traceparent;
    return {};
  };
  await withPlugins([
    plugin("serial", record, { priority: 1 }),
    plugin("concurrent-a", record, { priority: 2, mode: "concurrent" }),
    plugin("concurrent-b", record, { priority: 3, mode: "concurrent" }),
  ], async (manager) => {
    // Untraced: no trace context, and the provider is not asked.
    await manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, gctx());
    assert.deepEqual(Object.values(seen), [undefined, undefined, undefined]);
    assert.deepEqual(asked, []);
    for (const key of Object.keys(seen)) delete seen[key];
    await withTraceId(
      "t1",
      () => manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, gctx()),
    );
  }, { observability: provider });
  // Span 1 is the chain's; 2, 3 and 4 are the plugins', each call getting its own.
  assert.deepEqual(Object.values(seen), ["span-2", "span-3", "span-4"]);
  assert.deepEqual(asked, ["2", "3", "4"]);
});
