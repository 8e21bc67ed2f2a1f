/**
 * Payload isolation and write policies (spec C10–C12 with our immutability fix), cross-type
 * hooks, `_decision_plugin` provenance (C31) and `retry_delay_ms` (C32 with the Q3 fix), through
 * a real PluginManager.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type HookPayloadPolicy, PluginError } from "../mod.ts";
import {
  block,
  gctx,
  makeManager,
  recordOf,
  rejection,
  ScriptedPlugin,
  toolPayload,
} from "./helpers/plugins.ts";

const HOOK = "tool_pre_invoke";

function policy(...fields: string[]): HookPayloadPolicy {
  return { writable_fields: new Set(fields) };
}

// ---------------------------------------------------------------------------------------------
// Immutability (our fix of Q8–Q10)

Deno.test("a plugin mutating its payload throws TypeError, which on_error=fail turns into a PluginError", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mutator", hooks: [HOOK] }, (p) => {
      p.args.query = "mutated";
      return {};
    }),
  ]);
  try {
    const error = await rejection(manager.invokeHook(HOOK, toolPayload(), gctx()));
    assert.ok(error instanceof PluginError);
    assert.match(error.message, /^TypeError\(.*read only property 'query'/);
    assert.equal(error.error.plugin_name, "mutator");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a plugin mutating a nested array is stopped too (payloads are deep-frozen)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "pusher", hooks: [HOOK], on_error: "ignore" }, (p) => {
      p.args.list.push(4);
      return {};
    }),
  ]);
  try {
    const payload = toolPayload({ list: [1, 2, 3] });
    const [result] = await manager.invokeHook(HOOK, payload, gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(recordOf(result.executions, "pusher").status, "error");
    assert.deepEqual(payload.args.list, [1, 2, 3]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a mutating plugin under on_error=ignore cannot leak its change to later plugins", async () => {
  const later = new ScriptedPlugin({ name: "later", hooks: [HOOK], priority: 2 });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "mutator", hooks: [HOOK], priority: 1, on_error: "ignore" }, (p) => {
      p.args.injected = true;
      return {};
    }),
    later,
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.modified_payload, null);
    assert.deepEqual(later.calls[0].payload, toolPayload());
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the chained payload handed to later plugins is immutable as well", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "writer", hooks: [HOOK], priority: 1 }, (p) => ({
      modified_payload: { ...p, args: { query: "one" } },
    })),
    new ScriptedPlugin({ name: "mutator", hooks: [HOOK], priority: 2, on_error: "ignore" }, (p) => {
      p.args.query = "two";
      return {};
    }),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { query: "one" },
      headers: null,
    });
    assert.equal(recordOf(result.executions, "mutator").status, "error");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the caller's payload object is never changed by modifying plugins", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "a", hooks: [HOOK], priority: 1 }, (p) => ({
      modified_payload: { ...p, args: { ...p.args, extra: 1 } },
    })),
    new ScriptedPlugin({ name: "b", hooks: [HOOK], mode: "transform" }, (p) => ({
      modified_payload: { ...p, name: "renamed" },
    })),
  ]);
  try {
    const payload = toolPayload({ query: "deno", nested: { deep: [1] } });
    const before = structuredClone(payload);
    const [result] = await manager.invokeHook(HOOK, payload, gctx());
    assert.deepEqual(payload, before);
    assert.notEqual(result.modified_payload, payload);
    assert.equal((result.modified_payload as { name: string }).name, "renamed");
    // Our documented choice: the caller's payload is frozen in place.
    assert.ok(Object.isFrozen(payload) && Object.isFrozen(payload.args));
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Write policies (C11, C12)

Deno.test("a hook policy applies changes to writable fields and drops the others", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "p", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, name: "evil_tool", args: { query: "rewritten" } },
    })),
  ], { hookPolicies: { [HOOK]: policy("args") } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { query: "rewritten" },
      headers: null,
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a modification touching only non-writable fields is ignored", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "p", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, name: "evil_tool" },
    })),
  ], { hookPolicies: { [HOOK]: policy("args") } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.modified_payload, null);
    assert.equal(recordOf(result.executions, "p").payload_modified, false);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a modification structurally equal to the input is no change under a policy", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "p", hooks: [HOOK] }, (p) => ({
      modified_payload: { name: p.name, args: { ...p.args } },
    })),
  ], { hookPolicies: { [HOOK]: policy("name", "args") } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.modified_payload, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an empty writable_fields policy rejects every same-type change", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "p", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, name: "x", args: {} },
    })),
  ], { hookPolicies: { [HOOK]: policy() } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.modified_payload, null);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an args change to {} is a real change under a policy", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "p", hooks: [HOOK] },
      (p) => ({ modified_payload: { ...p, args: {} } }),
    ),
  ], { hookPolicies: { [HOOK]: policy("args") } });
  try {
    const payload = toolPayload({ a: 1, b: 2 });
    const [result] = await manager.invokeHook(HOOK, payload, gctx());
    assert.deepEqual(result.modified_payload, { name: "search", args: {}, headers: null });
    assert.deepEqual(payload.args, { a: 1, b: 2 });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("policy-filtered changes are applied onto the current chained payload", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "args-writer", hooks: [HOOK], priority: 1 }, (p) => ({
      modified_payload: { ...p, args: { query: "one" } },
    })),
    new ScriptedPlugin({ name: "name-writer", hooks: [HOOK], priority: 2 }, (p) => ({
      modified_payload: { ...p, name: "two", args: { query: "sneaky" } },
    })),
  ], { hookPolicies: { [HOOK]: policy("name") } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    // args is not writable: the first change is dropped, the second keeps only `name`.
    assert.deepEqual(result.modified_payload, {
      name: "two",
      args: { query: "deno" },
      headers: null,
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("default policy deny rejects modifications of hooks without a policy", async () => {
  const seen: unknown[] = [];
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, args: { query: "seq" } },
    })),
    new ScriptedPlugin({ name: "xf", hooks: [HOOK], mode: "transform" }, (p) => {
      seen.push(p);
      return { modified_payload: { ...p, args: { query: "xf" } } };
    }),
  ], { defaultHookPolicy: "deny" });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.modified_payload, null);
    assert.deepEqual(seen, [toolPayload()]);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a hook policy takes precedence over default deny", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "p", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, args: { query: "ok" } },
    })),
  ], { defaultHookPolicy: "deny", hookPolicies: { [HOOK]: policy("args") } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { query: "ok" },
      headers: null,
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent halt under default deny returns no modified payload", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, args: { query: "seq" } },
      metadata: { source: "plugin_a" },
    })),
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, () => ({
      continue_processing: false,
    })),
  ], { defaultHookPolicy: "deny" });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload, null);
    assert.equal(result.violation, null);
    assert.deepEqual(result.metadata, { source: "plugin_a" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a concurrent halt returns the earlier policy-filtered payload", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, (p) => ({
      modified_payload: { ...p, name: "blocked-change", args: { query: "kept" } },
    })),
    new ScriptedPlugin({ name: "conc", hooks: [HOOK], mode: "concurrent" }, () => block("C")),
  ], { hookPolicies: { [HOOK]: policy("args") } });
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.modified_payload, {
      name: "search",
      args: { query: "kept" },
      headers: null,
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("PLUGINS_DEFAULT_HOOK_POLICY is read when the manager is constructed; the option wins", async () => {
  const modifier = (name: string) =>
    new ScriptedPlugin({ name, hooks: [HOOK] }, (p) => ({ modified_payload: { ...p, args: {} } }));
  const saved = Deno.env.get("PLUGINS_DEFAULT_HOOK_POLICY");
  Deno.env.set("PLUGINS_DEFAULT_HOOK_POLICY", "deny");
  let fromEnv, fromOption;
  try {
    fromEnv = await makeManager([modifier("env")]);
    fromOption = await makeManager([modifier("opt")], { defaultHookPolicy: "allow" });
  } finally {
    if (saved === undefined) Deno.env.delete("PLUGINS_DEFAULT_HOOK_POLICY");
    else Deno.env.set("PLUGINS_DEFAULT_HOOK_POLICY", saved);
  }
  try {
    const [denied] = await fromEnv.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(denied.modified_payload, null);
    const [allowed] = await fromOption.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(allowed.modified_payload, { name: "search", args: {}, headers: null });
  } finally {
    await fromEnv.shutdown();
    await fromOption.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Cross-type hooks (http_pre_request returns headers)

const HTTP = "http_pre_request";
const httpPayload = () => ({ path: "/api", method: "GET", headers: { authorization: "Bearer t" } });

Deno.test("http_pre_request plugins return headers as the modified payload", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "hdr", hooks: [HTTP] }, (p) => ({
      modified_payload: { ...p.headers, "x-added": "1" },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HTTP, httpPayload(), gctx());
    assert.deepEqual(result.modified_payload, { authorization: "Bearer t", "x-added": "1" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a cross-type result is accepted wholesale even under an empty-field policy", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "hdr", hooks: [HTTP] }, () => ({
      modified_payload: { "x-only": "yes" },
    })),
  ], { hookPolicies: { [HTTP]: policy() } });
  try {
    const [result] = await manager.invokeHook(HTTP, httpPayload(), gctx());
    assert.deepEqual(result.modified_payload, { "x-only": "yes" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a cross-type hook with a policy ignores a modified payload that is not an object", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "hdr", hooks: [HTTP] }, () => ({
      modified_payload: ["not", "headers"],
    })),
  ], { hookPolicies: { [HTTP]: policy("headers") } });
  try {
    const [result] = await manager.invokeHook(HTTP, httpPayload(), gctx());
    assert.equal(result.modified_payload, null);
    assert.equal(result.continue_processing, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("headers with a non-string value are rejected as a plugin error", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "hdr", hooks: [HTTP], on_error: "ignore" }, () => ({
      modified_payload: { "x-count": 3 },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(HTTP, httpPayload(), gctx());
    assert.equal(result.modified_payload, null);
    assert.equal(recordOf(result.executions, "hdr").status, "error");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a later cross-type plugin receives the previous plugin's headers as its payload", async () => {
  const second = new ScriptedPlugin({ name: "second", hooks: [HTTP], priority: 2 }, (h) => ({
    modified_payload: { ...h, "x-second": "2" },
  }));
  const manager = await makeManager([
    new ScriptedPlugin({ name: "first", hooks: [HTTP], priority: 1 }, (p) => ({
      modified_payload: { ...p.headers, "x-first": "1" },
    })),
    second,
  ]);
  try {
    const [result] = await manager.invokeHook(HTTP, httpPayload(), gctx());
    assert.deepEqual(second.calls[0].payload, { authorization: "Bearer t", "x-first": "1" });
    assert.deepEqual(result.modified_payload, {
      authorization: "Bearer t",
      "x-first": "1",
      "x-second": "2",
    });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("under a policy a later change of the chained header map needs a writable root, as in the reference", async () => {
  // The reference types the chained header map as a pydantic root model: a later plugin's change
  // is same-type, policy-filtered on its one field `root` (found by the differential suite).
  const plugins = () => [
    new ScriptedPlugin({ name: "first", hooks: [HTTP], priority: 1 }, (p) => ({
      modified_payload: { ...p.headers, "x-first": "1" },
    })),
    new ScriptedPlugin({ name: "second", hooks: [HTTP], priority: 2 }, (h) => ({
      modified_payload: { ...h, "x-second": "2" },
    })),
  ];
  const first = { authorization: "Bearer t", "x-first": "1" };
  for (
    const [fields, expected, modified] of [
      [["path", "headers"], first, false],
      [["root"], { ...first, "x-second": "2" }, true],
    ] as const
  ) {
    const manager = await makeManager(plugins(), { hookPolicies: { [HTTP]: policy(...fields) } });
    try {
      const [result] = await manager.invokeHook(HTTP, httpPayload(), gctx());
      assert.deepEqual(result.modified_payload, expected);
      assert.equal(recordOf(result.executions, "second").payload_modified, modified);
    } finally {
      await manager.shutdown();
    }
  }
});

Deno.test("under a policy a later http_auth_check_permission change keeps only writable fields", async () => {
  const CHECK = "http_auth_check_permission";
  const manager = await makeManager([
    new ScriptedPlugin({ name: "first", hooks: [CHECK], priority: 1 }, () => ({
      modified_payload: { granted: true, reason: "first" },
    })),
    new ScriptedPlugin({ name: "second", hooks: [CHECK], priority: 2 }, () => ({
      modified_payload: { granted: false, reason: "second" },
    })),
  ], { hookPolicies: { [CHECK]: policy("reason") } });
  try {
    const [result] = await manager.invokeHook(
      CHECK,
      { user_email: "a@example.com", permission: "tools.read", is_admin: false },
      gctx(),
    );
    // The first change is cross-type (accepted whole); the second is filtered like a model.
    assert.deepEqual(result.modified_payload, { granted: true, reason: "second" });
    assert.equal(result.metadata._decision_plugin, "second");
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Decision plugin (C31)

const PERM = "http_auth_check_permission";
const permPayload = () => ({ user_email: "a@example.com", permission: "tools.read" });
const grant = (granted: boolean, metadata?: Record<string, unknown>) => () => ({
  modified_payload: { granted, reason: granted ? "ok" : "no" },
  ...(metadata ? { metadata } : {}),
});

Deno.test("the permission hook result names the plugin whose decision was accepted", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "rbac", hooks: [PERM] }, grant(true)),
  ]);
  try {
    const [result] = await manager.invokeHook(PERM, permPayload(), gctx());
    assert.deepEqual(result.modified_payload, { granted: true, reason: "ok" });
    assert.equal(result.metadata._decision_plugin, "rbac");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a decider's forged _decision_plugin is overwritten while its other metadata is kept", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "rbac", hooks: [PERM] },
      grant(true, { _decision_plugin: "admin", note: "kept" }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(PERM, permPayload(), gctx());
    assert.deepEqual(result.metadata, { note: "kept", _decision_plugin: "rbac" });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a metadata-only plugin cannot claim the decision in a multi-plugin chain", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "decider", hooks: [PERM], priority: 1 }, grant(false)),
    new ScriptedPlugin({ name: "claimer", hooks: [PERM], priority: 2 }, () => ({
      metadata: { _decision_plugin: "claimer", seen: true },
    })),
  ]);
  try {
    const [result] = await manager.invokeHook(PERM, permPayload(), gctx());
    assert.equal(result.metadata._decision_plugin, "decider");
    assert.equal(result.metadata.seen, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("the last accepted decider wins the provenance", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "first", hooks: [PERM], priority: 1 }, grant(true)),
    new ScriptedPlugin(
      { name: "second", hooks: [PERM], priority: 2, mode: "transform" },
      grant(false),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(PERM, permPayload(), gctx());
    assert.deepEqual(result.modified_payload, { granted: false, reason: "no" });
    assert.equal(result.metadata._decision_plugin, "second");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("provenance is recorded on a concurrent halt too", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "decider", hooks: [PERM] }, grant(true)),
    new ScriptedPlugin({ name: "enforcer", hooks: [PERM], mode: "concurrent" }, () => block("E")),
  ]);
  try {
    const [result] = await manager.invokeHook(PERM, permPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.metadata._decision_plugin, "decider");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("no provenance without an accepted decision, and forged keys are stripped on any hook", async () => {
  const forge = () => ({ metadata: { _decision_plugin: "forged", other: 1 } });
  const manager = await makeManager([
    new ScriptedPlugin({ name: "perm", hooks: [PERM] }, forge),
    new ScriptedPlugin({ name: "tool", hooks: [HOOK] }, forge),
  ]);
  try {
    const [perm] = await manager.invokeHook(PERM, permPayload(), gctx());
    assert.deepEqual(perm.metadata, { other: 1 });
    const [tool] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.deepEqual(tool.metadata, { other: 1 });
  } finally {
    await manager.shutdown();
  }
});

Deno.test("no provenance on other hooks even when a modification was accepted", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "mod", hooks: [HOOK] },
      (p) => ({ modified_payload: { ...p, args: {} } }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal("_decision_plugin" in result.metadata, false);
  } finally {
    await manager.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// retry_delay_ms (C32 + Q3 fix)

const retry = (ms: number, extra = {}) => () => ({ retry_delay_ms: ms, ...extra });

Deno.test("retry_delay_ms is the maximum over the plugins that ran", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "a", hooks: [HOOK], priority: 1 }, retry(200)),
    new ScriptedPlugin({ name: "b", hooks: [HOOK], priority: 2 }, retry(500)),
    new ScriptedPlugin({ name: "c", hooks: [HOOK], mode: "audit" }, retry(300)),
    new ScriptedPlugin({ name: "d", hooks: [HOOK], mode: "concurrent" }, retry(400)),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.retry_delay_ms, 500);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a blocking rate limiter's own retry_delay_ms survives into the halt result (Q3 fix)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "earlier", hooks: [HOOK], priority: 1 }, retry(100)),
    new ScriptedPlugin(
      { name: "limiter", hooks: [HOOK], priority: 2 },
      () => block("RATE", { retry_delay_ms: 1500 }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.retry_delay_ms, 1500);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("an earlier plugin's larger retry_delay_ms is kept on a concurrent halt (Q3 fix)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "seq", hooks: [HOOK] }, retry(900)),
    new ScriptedPlugin(
      { name: "conc", hooks: [HOOK], mode: "concurrent" },
      () => block("C", { retry_delay_ms: 10 }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, false);
    assert.equal(result.retry_delay_ms, 900);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a transform plugin that asked to stop keeps its retry_delay_ms (Q3 fix)", async () => {
  const manager = await makeManager([
    new ScriptedPlugin(
      { name: "xf", hooks: [HOOK], mode: "transform" },
      () => block("T", { retry_delay_ms: 700 }),
    ),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(result.retry_delay_ms, 700);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("fire_and_forget and failed plugins do not contribute retry_delay_ms", async () => {
  const manager = await makeManager([
    new ScriptedPlugin({ name: "faf", hooks: [HOOK], mode: "fire_and_forget" }, retry(5000)),
    new ScriptedPlugin({ name: "ok", hooks: [HOOK] }, retry(10)),
  ]);
  try {
    const [result] = await manager.invokeHook(HOOK, toolPayload(), gctx());
    await result.waitForBackgroundTasks();
    assert.equal(result.retry_delay_ms, 10);
  } finally {
    await manager.shutdown();
  }
});
