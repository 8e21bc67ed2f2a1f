/**
 * Errors, timeouts and on_error (spec C21–C26), junk plugin results, the payload size check
 * (C3), PluginError shapes and violations raised as exceptions (C18), through a real manager.
 *
 * @module
 */
import assert from "node:assert/strict";
import { payloadSizeError, pythonFloatRepr } from "../src/manager/payload_size.ts";
import {
  type ExecutionRecord,
  PayloadSizeError,
  PluginError,
  PluginTimeoutError,
  PluginViolationError,
} from "../mod.ts";
import { executorOf } from "../src/manager/manager.ts";
import {
  AllowPlugin,
  block,
  gctx,
  hang,
  HangPlugin,
  makeManager,
  recordOf,
  rejection,
  ScriptedPlugin,
  sleep,
  ThrowPlugin,
  toolPayload,
} from "./helpers/plugins.ts";

const HOOK = "tool_pre_invoke";

function executionsOf(error: unknown): ExecutionRecord[] | undefined {
  return (error as { executions?: ExecutionRecord[] }).executions;
}

// ---------------------------------------------------------------------------------------------
// PluginError shapes (C24, §5)

Deno.test("a throwing on_error=fail plugin raises a PluginError with the repr-style message and model defaults", async () => {
  const cause = new RangeError("out of range");
  const manager = await makeManager([
    new ScriptedPlugin({ name: "thrower", hooks: [HOOK] }, () => {
      throw cause;
    }),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.name, "PluginError");
    assert.equal(error.message, "RangeError('out of range')");
    assert.deepEqual(error.error, {
      message: "RangeError('out of range')",
      plugin_name: "thrower",
      code: "",
      details: {},
      mcp_error_code: -32603,
    });
    assert.equal(error.cause, cause);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a non-Error throw is rendered as Error('<value>')", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "odd", hooks: [HOOK] }, () => {
      throw "just a string";
    }),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "Error('just a string')");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a PluginError thrown by a plugin is re-raised unchanged", async () => {
  const own = new PluginError({ message: "custom failure", plugin_name: "own", code: "X1" });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "own", hooks: [HOOK] }, () => {
      throw own;
    }),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.equal(error, own);
    assert.equal((error as PluginError).error.code, "X1");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("on_error=fail is the default, so a throwing plugin from a named method fails the call", async () => {
  const manager = await makeManager([
    new ThrowPlugin({ name: "default", kind: "throw", hooks: [HOOK] }),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "Error('boom')");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a failing serial plugin stops the chain: later plugins never run", async () => {
  const later = new ScriptedPlugin({ name: "later", hooks: [HOOK], mode: "audit" });
  const faf = new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" });
  const manager = await makeManager([
    new ThrowPlugin({ name: "boom", kind: "throw", hooks: [HOOK] }),
    later,
    faf,
  ]);
  try {
    await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    await sleep(5);
    assert.equal(later.callCount, 0);
    assert.equal(faf.callCount, 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("PluginError from a serial on_error=fail plugin carries the records so far (C38)", async () => {
  const manager = await makeManager([
    new AllowPlugin({ name: "ok", kind: "allow", hooks: [HOOK], priority: 1 }),
    new ThrowPlugin({ name: "boom", kind: "throw", hooks: [HOOK], priority: 2 }),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    const records = executionsOf(error);
    assert.deepEqual(records?.map((r) => [r.plugin_name, r.status]), [
      ["ok", "completed"],
      ["boom", "error"],
    ]);
    const failed = recordOf(records, "boom");
    assert.equal(failed.effective_allow, false);
    assert.equal(failed.applied, true);
    assert.equal(failed.requested_allow, null);
    assert.equal(failed.matched, null);
    assert.equal(failed.error_code, "plugin_error");
    assert.equal(failed.reason, "Error('boom')");
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Timeouts (C21, C23)

Deno.test("the manager timeout bounds every plugin call and names the plugin and timeout", async () => {
  const manager = await makeManager(
    [new HangPlugin({ name: "slow", kind: "hang", hooks: [HOOK] })],
    {
      timeout: 0.05,
    },
  );
  try {
    const started = performance.now();
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "Plugin slow exceeded 0.05s timeout");
    assert.equal(error.error.plugin_name, "slow");
    assert.ok(error.cause instanceof PluginTimeoutError);
    assert.ok(performance.now() - started < 1000);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a per-plugin timeout overrides the manager's timeout", async () => {
  const manager = await makeManager([
    new HangPlugin({ name: "quick-deadline", kind: "hang", hooks: [HOOK], timeout: 0.03 }),
  ], { timeout: 30 });
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.equal(error.message, "Plugin quick-deadline exceeded 0.03s timeout");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the hook's signal aborts at the deadline with the timeout error as reason", async () => {
  const plugin = new HangPlugin({ name: "slow", kind: "hang", hooks: [HOOK], on_error: "ignore" });
  const manager = await makeManager([plugin], { timeout: 0.03 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(plugin.abortReasons.length, 1);
    assert.ok(plugin.abortReasons[0] instanceof PluginTimeoutError);
    assert.equal((plugin.abortReasons[0] as Error).message, "Plugin slow exceeded 0.03s timeout");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the manager stops waiting at the deadline even when the plugin ignores its signal", async () => {
  let release: (() => void) | undefined;
  const stubborn = new ScriptedPlugin(
    { name: "stubborn", hooks: [HOOK], on_error: "ignore" },
    () => new Promise((resolve) => release = () => resolve({})),
  );
  const manager = await makeManager([stubborn], { timeout: 0.03 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(recordOf(result.executions, "stubborn").status, "timeout");
    assert.equal(stubborn.calls[0].signal.aborted, true);
  } finally {
    release?.();
    await manager.shutdown();
  }
});

Deno.test("a concurrent on_error=ignore timeout never escapes invokeHook and is recorded as timeout", async () => {
  const manager = await makeManager([
    new HangPlugin({
      name: "slow",
      kind: "hang",
      hooks: [HOOK],
      mode: "concurrent",
      on_error: "ignore",
    }),
    new AllowPlugin({ name: "peer", kind: "allow", hooks: [HOOK], mode: "concurrent" }),
  ], { timeout: 0.03 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    const record = recordOf(result.executions, "slow");
    assert.equal(record.status, "timeout");
    assert.equal(record.error_code, "plugin_timeout");
    assert.equal(record.effective_allow, true);
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["peer", "slow"]);
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// ignore / disable (C24, C25)

Deno.test("an on_error=ignore failure contributes nothing: no modification, metadata, state or headers", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "half", hooks: [HOOK], on_error: "ignore" }, (_p, ctx) => {
      ctx.global_context.state!.leaked = true;
      throw new Error("after writing state");
    }),
  ]);
  try {
    const global = gctx("r", { state: {} });
    const [result] = await manager.invokeHook(HOOK, toolPayload(), global);
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.deepEqual(result.metadata, {});
    assert.equal(result.http_headers, null);
    assert.deepEqual(global.state, {});
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a runtime-disabled plugin is skipped across invocations until resetRuntimeDisabled", async () => {
  let calls = 0;
  const manager = await makeManager([
    new ScriptedPlugin({ name: "flaky", hooks: [HOOK], on_error: "disable" }, () => {
      calls++;
      throw new Error("flaky");
    }),
  ]);
  try {
    for (let i = 0; i < 5; i++) {
      const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx(`r${i}`));
      assert.equal(result.continue_processing, true);
    }
    assert.equal(calls, 1);
    assert.deepEqual([...executorOf(manager).runtimeDisabled], ["flaky"]);
    await manager.resetRuntimeDisabled();
    assert.equal(executorOf(manager).runtimeDisabled.size, 0);
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(calls, 2);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("twenty concurrent disabling failures all land in the runtime-disabled set", async () => {
  const plugins = Array.from({ length: 20 }, (_, i) =>
    new ScriptedPlugin(
      { name: `bad-${i}`, hooks: [HOOK], mode: "concurrent", on_error: "disable" },
      async () => {
        await sleep(i % 3);
        throw new Error(`bad ${i}`);
      },
    ));
  const manager = await makeManager(plugins, { executionPool: 0 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(executorOf(manager).runtimeDisabled.size, 20);
    assert.equal(result.executions.length, 20);
    assert.ok(result.executions.every((r) => r.status === "error"));
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the runtime-disabled set survives shutdown and re-initialization (keyed by name)", async () => {
  const thrower = () =>
    new ThrowPlugin({ name: "flaky", kind: "throw", hooks: [HOOK], on_error: "disable" });
  const manager = await makeManager([thrower()]);
  try {
    await manager.invokeHook(HOOK, toolPayload(), gctx());
    await manager.shutdown();
    await manager.initialize();
    await manager.registerPlugin(thrower());
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(result.executions, []);
    assert.deepEqual([...executorOf(manager).runtimeDisabled], ["flaky"]);
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Junk results (C26)

const JUNK: Array<[string, unknown, RegExp]> = [
  ["null", null, /^TypeError\('Plugin junk returned null instead of a result object'\)$/],
  ["undefined", undefined, /returned undefined instead of a result object/],
  ["an array", [], /returned an array instead of a result object/],
  ["a string", "allow", /returned string instead of a result object/],
  ["a number", 1, /returned number instead of a result object/],
  [
    "a string continue_processing",
    { continue_processing: "no" },
    /non-boolean continue_processing/,
  ],
  ["a violation without strings", {
    continue_processing: false,
    violation: { reason: 1, description: "d", code: "c" },
  }, /violation without string reason, description and code/],
  ["a non-object violation", { violation: "bad" }, /violation without string/],
  ["array metadata", { metadata: [1, 2] }, /metadata that is not an object/],
  ["a negative retry_delay_ms", { retry_delay_ms: -5 }, /invalid retry_delay_ms/],
  ["a string retry_delay_ms", { retry_delay_ms: "10" }, /invalid retry_delay_ms/],
];

for (const [label, value, pattern] of JUNK) {
  Deno.test(`a plugin returning ${label} fails the call under on_error=fail`, async () => {
    const manager = await makeManager([
      new ScriptedPlugin({ name: "junk", hooks: [HOOK] }, () => value as never),
    ]);
    try {
      const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
      assert.ok(error instanceof PluginError);
      assert.match(error.message, pattern);
      assert.equal(error.error.plugin_name, "junk");
    } finally {
      await manager.shutdown();
    }
  });
}

Deno.test("a plugin returning junk under on_error=ignore is recorded as error and the chain goes on", async () => {
  const after = new ScriptedPlugin({ name: "after", hooks: [HOOK], priority: 2 });
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "junk", hooks: [HOOK], priority: 1, on_error: "ignore" },
      () => null as never,
    ),
    after,
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(after.callCount, 1);
    const record = recordOf(result.executions, "junk");
    assert.equal(record.status, "error");
    assert.equal(record.error_code, "plugin_error");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a junk result from a concurrent on_error=disable plugin disables it", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "junk", hooks: [HOOK], mode: "concurrent", on_error: "disable" },
      () => Promise.resolve([] as never),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.deepEqual([...executorOf(manager).runtimeDisabled], ["junk"]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a modified payload that breaks the hook schema is a plugin error handled per on_error", async () => {
  const bad = (onError: "fail" | "ignore") =>
    new ScriptedPlugin({ name: `bad-${onError}`, hooks: [HOOK], on_error: onError }, () => ({
      modified_payload: { args: { q: 1 } }, // `name` is required
    }));
  const failing = await makeManager([bad("fail")]);
  try {
    const error = await rejection(failing.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.match(
      error.message,
      /^TypeError\('modified_payload for tool_pre_invoke is invalid at name/,
    );
  } finally {
    await failing.shutdown();
  }
  const ignoring = await makeManager([bad("ignore")]);
  try {
    const [result] = await ignoring.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.equal(recordOf(result.executions, "bad-ignore").status, "error");
  } finally {
    await ignoring.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Payload size (C3)

Deno.test("oversized args raise PayloadSizeError before any plugin runs", async () => {
  const plugin = new ScriptedPlugin({ name: "never", hooks: [HOOK] });
  const manager = await makeManager([plugin]);
  try {
    const big = "x".repeat(600_000);
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload({ a: big, b: big }), gctx()),
    );
    assert.ok(error instanceof PayloadSizeError);
    assert.equal(error.message, "Payload size 1200000 exceeds limit of 1000000 bytes");
    assert.equal(plugin.callCount, 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a cyclic or over-deep payload is a PayloadSizeError, not a stack overflow", async () => {
  const plugin = new ScriptedPlugin({ name: "never", hooks: [HOOK] });
  const manager = await makeManager([plugin]);
  try {
    const cyclic: Record<string, unknown> = { x: "y" };
    cyclic.self = cyclic;
    let deep: unknown = "leaf";
    for (let i = 0; i < 1_500; i++) deep = [deep];
    for (const arg of [cyclic, deep]) {
      const error = await rejection(manager.invokeHook(HOOK, toolPayload({ arg }), gctx()));
      assert.ok(error instanceof PayloadSizeError, String(error));
      assert.equal(
        error.message,
        "Payload size exceeds limit of 1000000 bytes (nested deeper than 1000 levels, or a cycle)",
      );
    }
    assert.equal(plugin.callCount, 0);
    let nested: unknown = "leaf";
    for (let i = 0; i < 900; i++) nested = [nested];
    const [result] = await manager.invokeHook(HOOK, toolPayload({ nested }), gctx());
    assert.equal(result.continue_processing, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("args exactly at the limit pass the size check", async () => {
  const manager = await makeManager([new ScriptedPlugin({ name: "p", hooks: [HOOK] })]);
  try {
    const [result] = await manager.invokeHook(
      HOOK,
      toolPayload({ a: "x".repeat(1_000_000) }),
      gctx(),
    );
    assert.equal(result.continue_processing, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an oversized result raises PayloadSizeError with the result message", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "post", hooks: ["tool_post_invoke"] }),
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(
        "tool_post_invoke",
        { name: "search", result: "y".repeat(1_000_001) },
        gctx(),
      ),
    );
    assert.ok(error instanceof PayloadSizeError);
    assert.equal(error.message, "Result size 1000001 exceeds limit of 1000000 bytes");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the size limit follows the maxPayloadSize option and counts string renderings", async () => {
  const manager = await makeManager([new ScriptedPlugin({ name: "p", hooks: [HOOK] })], {
    maxPayloadSize: 10,
  });
  try {
    // "12345" (5) + "true" (4) = 9: allowed.
    await manager.invokeHook(HOOK, toolPayload({ n: 12345, b: true }), gctx());
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload({ n: 12345, s: "abcdef" }), gctx()),
    );
    assert.ok(error instanceof PayloadSizeError);
    assert.equal(error.message, "Payload size 11 exceeds limit of 10 bytes");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("sizes count code points and Python's rendering of nested values (issue 11 item 2)", () => {
  // Against the reference itself: tests/interop/conformance_payload_size_test.ts.
  const size = (hook: string, payload: unknown) =>
    Number(/size (\d+)/.exec(payloadSizeError(hook, payload, -1)!)![1]);
  assert.equal(size(HOOK, toolPayload({ a: "😀😀" })), 2); // code points, not UTF-16 units
  // str({'k': [True, None, 1e-05, 'it\'s']}) = {'k': [True, None, 1e-05, "it's"]}
  assert.equal(size(HOOK, toolPayload({ d: { k: [true, null, 0.00001, "it's"] } })), 34);
  assert.equal(size("tool_post_invoke", { name: "t", result: { text: "x".repeat(9) } }), 21);
  // prompt_post_fetch results render as the reference's StructuredData: a='b' c=StructuredData(d=1)
  assert.equal(size("prompt_post_fetch", { prompt_id: "p", result: { a: "b", c: { d: 1 } } }), 27);
  assert.equal(size(HOOK, { name: "t", args: {}, result: "abc" }), 3); // empty args are falsy
  assert.deepEqual(
    [1e16, 2.5, 1e21, -0.0001, 1.5e-7, 123456789.125].map(pythonFloatRepr),
    ["1e+16", "2.5", "1e+21", "-0.0001", "1.5e-07", "123456789.125"],
  );
});

Deno.test("an oversized payload reports its exact total although the check stops early", () => {
  const big = "x".repeat(1_500_000);
  assert.equal(
    payloadSizeError(HOOK, toolPayload({ a: big, b: { c: big } }), 1_000_000),
    "Payload size 3000009 exceeds limit of 1000000 bytes",
  );
});

Deno.test("no size check happens when the hook has no plugins", async () => {
  const manager = await makeManager([], { maxPayloadSize: 1 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload({ a: "far too long" }), gctx());
    assert.equal(result.continue_processing, true);
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// violationsAsExceptions (C18)

Deno.test("violationsAsExceptions raises PluginViolationError with the hook, plugin, code, reason and description", async () => {
  const manager = await makeManager([
    new AllowPlugin({ name: "first", kind: "allow", hooks: [HOOK], priority: 1 }),
    new ScriptedPlugin({ name: "deny-list", hooks: [HOOK], priority: 2 }, () => ({
      continue_processing: false,
      violation: { reason: "Prompt not allowed", description: "contains crap", code: "deny" },
    })),
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    );
    assert.ok(error instanceof PluginViolationError);
    assert.equal(
      error.message,
      "tool_pre_invoke blocked by plugin deny-list: deny - Prompt not allowed (contains crap)",
    );
    assert.equal(error.violation?.reason, "Prompt not allowed");
    assert.equal(error.violation?.plugin_name, "deny-list");
    assert.deepEqual(error.executions?.map((r) => r.plugin_name), ["first", "deny-list"]);
    const denied = recordOf(error.executions, "deny-list");
    assert.equal(denied.status, "completed");
    assert.equal(denied.requested_allow, false);
    assert.equal(denied.effective_allow, false);
    assert.equal(denied.matched, true);
    assert.equal(denied.applied, true);
    assert.equal(denied.error_code, "deny");
    assert.equal(denied.reason, "Prompt not allowed");
    assert.ok(denied.duration_ns > 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("violationsAsExceptions without a violation uses the short message and a null violation", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mute", hooks: [HOOK] }, () => ({ continue_processing: false })),
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    );
    assert.ok(error instanceof PluginViolationError);
    assert.equal(error.message, "tool_pre_invoke blocked by plugin");
    assert.equal(error.violation, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("violationsAsExceptions raises for a concurrent block with its record", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, () => block("C")),
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    );
    assert.ok(error instanceof PluginViolationError);
    assert.match(error.message, /^tool_pre_invoke blocked by plugin conc: C - denied/);
    const record = recordOf(error.executions, "conc");
    assert.equal(record.mode, "concurrent");
    assert.equal(record.effective_allow, false);
    assert.equal(record.error_code, "C");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("violationsAsExceptions never raises for transform or audit blocks", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "t", hooks: [HOOK], mode: "transform" }, () => block("T")),
    new ScriptedPlugin({ name: "a", hooks: [HOOK], mode: "audit" }, () => block("A")),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx(), {
      violationsAsExceptions: true,
    });
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("violationsAsExceptions does not schedule fire_and_forget plugins", async () => {
  const faf = new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "blocker", hooks: [HOOK] }, () => block()),
    faf,
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    );
    assert.ok(error instanceof PluginViolationError);
    await sleep(5);
    assert.equal(faf.callCount, 0);
    assert.equal(error.executions?.some((r) => r.mode === "fire_and_forget"), false);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("each violation exception gets its own fresh executions list", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "blocker", hooks: [HOOK] }, () => block()),
  ]);
  try {
    const first = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    ) as PluginViolationError;
    const second = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    ) as PluginViolationError;
    assert.notEqual(first.executions, second.executions);
    assert.equal(first.executions?.length, 1);
    assert.equal(second.executions?.length, 1);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a hanging plugin that honours its signal leaves no timer behind after a fail timeout", async () => {
  // The sanitizers fail this test if the plugin's 10 s timer survives the abort.
  const manager = await makeManager([
    new ScriptedPlugin({ name: "slow", hooks: [HOOK] }, (_p, _c, { signal }) => hang(signal)),
  ], { timeout: 0.02 });
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the size check runs even when every plugin is skipped by its conditions", async () => {
  const skipped = new ScriptedPlugin({ name: "s", hooks: [HOOK], conditions: [{ tools: ["x"] }] });
  const manager = await makeManager([skipped], { maxPayloadSize: 3 });
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload({ a: "long" }), gctx()));
    assert.ok(error instanceof PayloadSizeError);
    assert.equal(skipped.callCount, 0);
  } finally {
    await manager.shutdown();
  }
});
