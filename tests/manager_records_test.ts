/**
 * Execution records (spec §4.H, C35–C41) with our fixes: real `duration_ns` (also for
 * CONCURRENT plugins) and Q5 (ignore/disable exceptions are recorded with status `error`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ExecutionRecord, type PluginConfig, PluginViolationError } from "../mod.ts";
import {
  AllowPlugin,
  block,
  gctx,
  makeManager,
  recordOf,
  rejection,
  ScriptedPlugin,
  sleep,
  toolPayload,
  violation,
} from "./helpers/plugins.ts";

const HOOK = "tool_pre_invoke";
const HEX32 = /^[0-9a-f]{32}$/;

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

Deno.test("no records when the hook has no plugins", async () => {
  const manager = await makeManager();
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(result.executions, []);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a sequential allow record is completed, allowed and timed", async () => {
  const manager = await makeManager([
    new AllowPlugin({ name: "ok", kind: "allow", hooks: [HOOK], config: { a: 1, b: "x" } }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const [record] = result.executions;
    assert.match(record.plugin_id, HEX32);
    assert.ok(record.duration_ns > 0);
    assert.deepEqual({ ...record, plugin_id: "", duration_ns: 0 }, {
      plugin_id: "",
      plugin_name: "ok",
      plugin_kind: "allow",
      hook_name: HOOK,
      mode: "sequential",
      status: "completed",
      requested_allow: true,
      effective_allow: true,
      matched: false,
      applied: false,
      payload_modified: false,
      extensions_modified: false,
      duration_ns: 0,
      reason: null,
      error_code: null,
      config_keys: ["a", "b"],
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a sequential deny record shows the denial, its code and reason", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "deny", hooks: [HOOK] }, () => block("DENY_CODE")),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "deny");
    assert.equal(record.status, "completed");
    assert.equal(record.requested_allow, false);
    assert.equal(record.effective_allow, false);
    assert.equal(record.matched, true);
    assert.equal(record.applied, true);
    assert.equal(record.payload_modified, false);
    assert.equal(record.error_code, "DENY_CODE");
    assert.equal(record.reason, "denied");
    assert.ok(record.duration_ns > 0);
    assert.ok(record.plugin_kind.length > 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a sequential block without a violation records no code or reason (C36)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mute", hooks: [HOOK] }, () => ({ continue_processing: false })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "mute");
    assert.equal(record.effective_allow, false);
    assert.equal(record.matched, true);
    assert.equal(record.error_code, null);
    assert.equal(record.reason, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a transform record shows the accepted modification", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "xf", hooks: [HOOK], mode: "transform" }, (p) => ({
      modified_payload: { ...p, args: { query: "new" } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "xf");
    assert.equal(record.mode, "transform");
    assert.equal(record.payload_modified, true);
    assert.equal(record.matched, true);
    assert.equal(record.applied, true);
    assert.ok(record.duration_ns > 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a transform denial is recorded as requested allow (converted before recording)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "xf", hooks: [HOOK], mode: "transform" }, () => block("T")),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "xf");
    assert.equal(record.requested_allow, true);
    assert.equal(record.effective_allow, true);
    assert.equal(record.error_code, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an audit record never shows an applied payload change", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "au", hooks: [HOOK], mode: "audit" }, (p) => ({
      modified_payload: { ...p, args: { query: "ignored" } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "au");
    assert.equal(record.mode, "audit");
    assert.equal(record.applied, false);
    assert.equal(record.payload_modified, false);
    assert.equal(record.requested_allow, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an audit record flags returned extensions although they are discarded", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "au", hooks: [HOOK], mode: "audit" }, () => ({
      modified_extensions: { custom: { x: 1 } },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "au");
    assert.equal(record.extensions_modified, true);
    assert.equal(record.applied, true);
    assert.equal(result.modified_extensions, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent allow record is not matched or applied and has a real duration", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "c", hooks: [HOOK], mode: "concurrent" }, async () => {
      await sleep(2);
      return {};
    }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "c");
    assert.equal(record.status, "completed");
    assert.equal(record.requested_allow, true);
    assert.equal(record.effective_allow, true);
    assert.equal(record.matched, false);
    assert.equal(record.applied, false);
    assert.ok(record.duration_ns >= 1_000_000, `duration ${record.duration_ns}`);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent allow that carries a violation still records its code and reason", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "c", hooks: [HOOK], mode: "concurrent" }, () => ({
      violation: violation("NOTE", "just noting"),
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "c");
    assert.equal(record.effective_allow, true);
    assert.equal(record.error_code, "NOTE");
    assert.equal(record.reason, "just noting");
    assert.equal(result.violation, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent deny record is denied, matched and applied", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "c", hooks: [HOOK], mode: "concurrent" }, () => block("CD")),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "c");
    assert.deepEqual(
      [record.requested_allow, record.effective_allow, record.matched, record.applied],
      [false, false, true, true],
    );
    assert.equal(record.error_code, "CD");
    assert.ok(record.duration_ns > 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent timeout under ignore is recorded as timeout with other fields default", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "slow", hooks: [HOOK], mode: "concurrent", on_error: "ignore" },
      (_p, _c, { signal }) => sleep(10_000, signal).then(() => ({})),
    ),
  ], { timeout: 0.02 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "slow");
    assert.equal(record.status, "timeout");
    assert.equal(record.error_code, "plugin_timeout");
    assert.equal(record.effective_allow, true);
    assert.equal(record.requested_allow, null);
    assert.equal(record.matched, null);
    assert.equal(record.applied, false);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a sequential timeout under ignore is recorded as timeout and applied", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "slow", hooks: [HOOK], on_error: "ignore" },
      (_p, _c, { signal }) => sleep(10_000, signal).then(() => ({})),
    ),
  ], { timeout: 0.02 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "slow");
    assert.equal(record.status, "timeout");
    assert.equal(record.error_code, "plugin_timeout");
    assert.equal(record.reason, "Plugin slow exceeded 0.02s timeout");
    assert.equal(record.effective_allow, true);
    assert.equal(record.requested_allow, null);
    assert.equal(record.matched, null);
    assert.equal(record.applied, true);
    assert.ok(record.duration_ns >= 20_000_000 * 0.9);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a transform timeout under ignore is recorded as timeout but not applied", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "slow", hooks: [HOOK], mode: "transform", on_error: "ignore" },
      (_p, _c, { signal }) => sleep(10_000, signal).then(() => ({})),
    ),
  ], { timeout: 0.02 });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "slow");
    assert.equal(record.status, "timeout");
    assert.equal(record.applied, false);
  } finally {
    await manager.shutdown();
  }
});

for (const onError of ["ignore", "disable"] as const) {
  Deno.test(`an exception under on_error=${onError} is recorded with status error and its repr (Q5 fix)`, async () => {
    const manager = await makeManager([
      new ScriptedPlugin({ name: "boom", hooks: [HOOK], on_error: onError }, () => {
        throw new TypeError("bad input");
      }),
    ]);
    try {
      const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
      const record = recordOf(result.executions, "boom");
      assert.equal(record.status, "error");
      assert.equal(record.error_code, "plugin_error");
      assert.equal(record.reason, "TypeError('bad input')");
      assert.equal(record.effective_allow, true);
      assert.equal(record.requested_allow, null);
      assert.equal(record.matched, null);
      assert.ok(record.duration_ns > 0);
    } finally {
      await manager.shutdown();
    }
  });
}

Deno.test("a fire_and_forget spawn record is a completed placeholder", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(await result.waitForBackgroundTasks(), []);
    const record = recordOf(result.executions, "faf");
    assert.equal(record.mode, "fire_and_forget");
    assert.equal(record.status, "completed");
    assert.equal(record.effective_allow, true);
    assert.equal(record.requested_allow, null);
    assert.equal(record.matched, null);
    assert.equal(record.applied, false);
    assert.equal(record.duration_ns, 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("records come in order: serial run order, concurrent completion order, then fire_and_forget", async () => {
  const delayed = (ms: number) => async () => {
    await sleep(ms);
    return {};
  };
  const manager = await makeManager([
    new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget", priority: 1 }),
    new ScriptedPlugin(
      { name: "c-slow", hooks: [HOOK], mode: "concurrent", priority: 1 },
      delayed(15),
    ),
    new ScriptedPlugin(
      { name: "c-fast", hooks: [HOOK], mode: "concurrent", priority: 2 },
      delayed(1),
    ),
    new ScriptedPlugin({ name: "audit", hooks: [HOOK], mode: "audit", priority: 1 }),
    new ScriptedPlugin({ name: "xf", hooks: [HOOK], mode: "transform", priority: 1 }),
    new ScriptedPlugin({ name: "seq2", hooks: [HOOK], priority: 2 }),
    new ScriptedPlugin({ name: "seq1", hooks: [HOOK], priority: 1 }),
    new ScriptedPlugin({ name: "skipped", hooks: [HOOK], conditions: [{ tools: ["nope"] }] }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    await result.waitForBackgroundTasks();
    assert.deepEqual(result.executions.map((r) => r.plugin_name), [
      "seq1",
      "seq2",
      "xf",
      "audit",
      "c-fast",
      "c-slow",
      "faf",
    ]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("records are per invocation, never shared between results", async () => {
  const manager = await makeManager([
    new AllowPlugin({ name: "ok", kind: "allow", hooks: [HOOK] }),
  ]);
  try {
    const [a] = await manager.invokeHook(HOOK, toolPayload(), gctx("a"));
    const [b] = await manager.invokeHook(HOOK, toolPayload(), gctx("b"));
    assert.notEqual(a.executions, b.executions);
    assert.equal(a.executions.length, 1);
    assert.equal(b.executions.length, 1);
    assert.equal(a.executions[0].plugin_id, b.executions[0].plugin_id);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("plugin_id is the plugin's 32-hex uuid, distinct per registered plugin", async () => {
  const manager = await makeManager([
    new AllowPlugin({ name: "one", kind: "allow", hooks: [HOOK] }),
    new AllowPlugin({ name: "two", kind: "allow", hooks: [HOOK] }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const ids = result.executions.map((r) => r.plugin_id);
    assert.ok(ids.every((id) => HEX32.test(id)));
    assert.notEqual(ids[0], ids[1]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("identity, mode, order and config keys come from the trusted config, not the plugin's", async () => {
  const plugin = new ScriptedPlugin({
    name: "self-declared",
    hooks: [HOOK],
    mode: "audit",
    priority: 1,
    config: { secret_key: "hunter2" },
  }, () => block("TRUSTED"));
  const trusted: PluginConfig = {
    ...plugin.config,
    name: "trusted",
    kind: "trusted-kind",
    mode: "sequential",
    priority: 50,
    config: { visible: 1 },
  };
  const first = new ScriptedPlugin({ name: "first", hooks: [HOOK], priority: 10 });
  const manager = await makeManager();
  try {
    await manager.registerPlugin(plugin, trusted);
    await manager.registerPlugin(first);
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    // Trusted mode sequential (not audit) means the block halts the chain.
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["first", "trusted"]);
    const record = recordOf(result.executions, "trusted");
    assert.equal(record.mode, "sequential");
    assert.equal(record.plugin_kind, "trusted-kind");
    assert.deepEqual(record.config_keys, ["visible"]);
    assert.ok(!JSON.stringify(record).includes("hunter2"));
  } finally {
    await manager.shutdown();
  }
});

Deno.test("config_keys keeps at most 64 keys and never values", async () => {
  const config = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, `v${i}`]));
  const manager = await makeManager([
    new AllowPlugin({ name: "many", kind: "allow", hooks: [HOOK], config }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const keys = result.executions[0].config_keys;
    assert.equal(keys.length, 64);
    assert.deepEqual(keys.slice(0, 3), ["k0", "k1", "k2"]);
    assert.ok(!JSON.stringify(result.executions[0]).includes("v0"));
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a long plugin kind is truncated to 256 UTF-8 bytes ending with an ellipsis", async () => {
  const manager = await makeManager([
    new AllowPlugin({ name: "long-kind", kind: "é".repeat(300), hooks: [HOOK] }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const kind = result.executions[0].plugin_kind;
    assert.ok(utf8Length(kind) <= 256);
    assert.ok(kind.endsWith("…"));
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a long violation reason is truncated in the record to 256 UTF-8 bytes (§4.H)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "wordy", hooks: [HOOK] }, () => ({
      continue_processing: false,
      violation: violation("LONG", "🙂".repeat(200)),
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const reason = recordOf(result.executions, "wordy").reason ?? "";
    assert.ok(utf8Length(reason) <= 256, `reason is ${utf8Length(reason)} bytes`);
    assert.ok(reason.endsWith("…"));
    assert.equal(result.violation?.reason, "🙂".repeat(200)); // the violation itself is intact
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a long exception message is truncated in the error record to 256 UTF-8 bytes (§4.H)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "loud", hooks: [HOOK], on_error: "ignore" }, () => {
      throw new Error("x".repeat(1000));
    }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const reason = recordOf(result.executions, "loud").reason ?? "";
    assert.ok(utf8Length(reason) <= 256, `reason is ${utf8Length(reason)} bytes`);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a violation exception without a violation records plugin_violation and the message as reason (C39)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mute", hooks: [HOOK] }, () => ({ continue_processing: false })),
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    );
    assert.ok(error instanceof PluginViolationError);
    const record: ExecutionRecord = recordOf(error.executions, "mute");
    assert.equal(record.error_code, "plugin_violation");
    assert.equal(record.reason, "tool_pre_invoke blocked by plugin");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent block without a violation records no code or reason (C40)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mute", hooks: [HOOK], mode: "concurrent" }, () => ({
      continue_processing: false,
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    const record = recordOf(result.executions, "mute");
    assert.equal(record.effective_allow, false);
    assert.equal(record.error_code, null);
    assert.equal(record.reason, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent violation exception without a violation records the message as reason (C39)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mute", hooks: [HOOK], mode: "concurrent" }, () => ({
      continue_processing: false,
    })),
  ]);
  try {
    const error = await rejection(
      manager.invokeHook(HOOK, toolPayload(), gctx(), { violationsAsExceptions: true }),
    );
    assert.ok(error instanceof PluginViolationError);
    const record = recordOf(error.executions, "mute");
    assert.equal(record.error_code, "plugin_violation");
    assert.equal(record.reason, "tool_pre_invoke blocked by plugin");
  } finally {
    await manager.shutdown();
  }
});
