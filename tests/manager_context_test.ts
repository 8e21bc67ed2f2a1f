/**
 * Plugin and global contexts through a real PluginManager (spec C50–C56, Q2 and Q9 fixes): the
 * context table key, private state across pre/post hooks via `localContexts`, global-state
 * merge semantics per mode, concurrent isolation, nested-object isolation, and the
 * PluginContext helpers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type GlobalContext, PluginContext, type PluginContextTable } from "../mod.ts";
import { FnPlugin, gctx, type HookFn, withPlugins } from "./helpers/context_plugins.ts";

const HOOKS = ["tool_pre_invoke", "tool_post_invoke"];

function plugin(name: string, fn: HookFn, extra: Record<string, unknown> = {}): FnPlugin {
  return new FnPlugin({ name, kind: "inline", hooks: HOOKS, ...extra }, fn);
}

// --- C50: table keys -------------------------------------------------------------------------

Deno.test("the context table key is request_id followed by the plugin's 32-hex id", async () => {
  await withPlugins([plugin("a", () => ({})), plugin("b", () => ({}))], async (manager) => {
    const [result, contexts] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t" },
      gctx({ request_id: "req-42" }),
    );
    const ids = result.executions.map((r) => r.plugin_id);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.deepEqual(Object.keys(contexts!).sort(), ids.map((id) => `req-42${id}`).sort());
    for (const context of Object.values(contexts!)) assert.ok(context instanceof PluginContext);
  });
});

Deno.test("each plugin gets its own PluginContext whose global copy carries the request fields", async () => {
  const seen: GlobalContext[] = [];
  const userContext = { user_id: "u1", email: "u1@example.com", groups: ["g"] };
  const record: HookFn = (_h, _p, ctx) => {
    seen.push(ctx.global_context);
    return {};
  };
  await withPlugins([plugin("a", record), plugin("b", record)], async (manager) => {
    const global = gctx({
      request_id: "r7",
      user: "alice",
      user_context: userContext,
      tenant_id: "t1",
      server_id: "s1",
      content_type: "application/json",
    });
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1]);
    for (const copy of seen) {
      assert.notEqual(copy, global);
      assert.equal(copy.request_id, "r7");
      assert.equal(copy.user, "alice");
      assert.deepEqual(copy.user_context, userContext);
      assert.equal(copy.tenant_id, "t1");
      assert.equal(copy.server_id, "s1");
      assert.equal(copy.content_type, "application/json");
      assert.deepEqual(copy.state, {});
      assert.deepEqual(copy.metadata, {});
    }
  });
});

// --- C51/C54: private state across pre and post ------------------------------------------------

Deno.test("private state set in a pre hook is seen in the post hook when contexts are passed back", async () => {
  const counter = plugin("counter", (hook, _p, ctx) => {
    if (hook === "tool_pre_invoke") {
      ctx.setState("count", 1);
      ctx.metadata.note = "pre";
      return {};
    }
    const count = ctx.getState<number>("count", 0)!;
    return { metadata: { seen: `Counter: ${count}`, note: ctx.metadata.note ?? null } };
  });
  await withPlugins([counter], async (manager) => {
    const [, contexts] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    const [post] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: null },
      gctx(),
      { localContexts: contexts },
    );
    assert.deepEqual(post.metadata, { seen: "Counter: 1", note: "pre" });

    // Without the table (or with another request id), the post hook starts fresh.
    const [fresh] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: null },
      gctx(),
    );
    assert.deepEqual(fresh.metadata, { seen: "Counter: 0", note: null });
    const [other] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: null },
      gctx({ request_id: "req-2" }),
      { localContexts: contexts },
    );
    assert.deepEqual(other.metadata, { seen: "Counter: 0", note: null });
  });
});

Deno.test("a passed-back PluginContext is reused by identity with a fresh global copy", async () => {
  const globals: GlobalContext[] = [];
  const contexts: PluginContext[] = [];
  const p = plugin("p", (_h, _payload, ctx) => {
    contexts.push(ctx);
    globals.push(ctx.global_context);
    return {};
  });
  await withPlugins([p], async (manager) => {
    const [, table] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    const [, table2] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: 1 },
      gctx(),
      { localContexts: table },
    );
    assert.equal(contexts[0], contexts[1]);
    assert.notEqual(globals[0], globals[1]);
    assert.equal(contexts[1].global_context, globals[1]);
    assert.equal(Object.values(table2!)[0], contexts[0]);
  });
});

Deno.test("private state of different plugins is isolated", async () => {
  const a = plugin("a", (hook, _p, ctx) => {
    if (hook === "tool_pre_invoke") ctx.setState("key", "from-a");
    return { metadata: { a: ctx.getState("key") ?? null } };
  }, { priority: 1 });
  const b = plugin("b", (hook, _p, ctx) => {
    if (hook === "tool_pre_invoke") assert.equal(ctx.getState("key"), undefined);
    return { metadata: { b: ctx.getState("key") ?? null } };
  }, { priority: 2, mode: "audit" });
  await withPlugins([a, b], async (manager) => {
    const [, table] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    assert.equal(Object.keys(table!).length, 2);
    const [post] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: 1 },
      gctx(),
      { localContexts: table },
    );
    assert.deepEqual(post.metadata, { a: "from-a", b: null });
  });
});

Deno.test("private state and metadata never reach the result or the global context", async () => {
  const p = plugin("p", (_h, _payload, ctx) => {
    ctx.setState("secret", 1);
    ctx.metadata.private = true;
    return {};
  });
  await withPlugins([p], async (manager) => {
    const global = gctx();
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(result.metadata, {});
    assert.equal(global.state?.secret, undefined);
    assert.equal(global.metadata?.private, undefined);
  });
});

// --- C52: table contents ----------------------------------------------------------------------

Deno.test("the returned table holds only plugins that ran; the caller's table is not restructured", async () => {
  const always = plugin("always", () => ({}));
  const toolOnly = plugin("only-search", () => ({}), { conditions: [{ tools: ["search"] }] });
  await withPlugins([always, toolOnly], async (manager) => {
    const [, first] = await manager.invokeHook("tool_pre_invoke", { name: "search" }, gctx());
    assert.equal(Object.keys(first!).length, 2);
    const snapshot = { ...first! };
    const [, second] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "other", result: 1 },
      gctx(),
      { localContexts: first },
    );
    assert.equal(Object.keys(second!).length, 1);
    assert.notEqual(second, first);
    assert.deepEqual(Object.keys(first!), Object.keys(snapshot));
    for (const key of Object.keys(snapshot)) assert.equal(first![key], snapshot[key]);
  });
});

Deno.test("a hook with no plugins returns a null context table", async () => {
  await withPlugins([plugin("p", () => ({}))], async (manager) => {
    const [, contexts] = await manager.invokeHook("prompt_pre_fetch", { prompt_id: "x" }, gctx());
    assert.equal(contexts, null);
  });
});

// --- C53: global state merge semantics ----------------------------------------------------------

Deno.test("sequential and transform global-state writes are merged and seen by later plugins", async () => {
  const order: unknown[] = [];
  const seq = plugin("seq", (_h, _p, ctx) => {
    ctx.global_context.state!.seq = 1;
    ctx.global_context.metadata!.seq_meta = "m";
    return {};
  }, { priority: 1 });
  const xform = plugin("xform", (_h, _p, ctx) => {
    order.push({ ...ctx.global_context.state });
    ctx.global_context.state!.xform = 2;
    return {};
  }, { mode: "transform" });
  const audit = plugin("audit", (_h, _p, ctx) => {
    order.push({ ...ctx.global_context.state }, { ...ctx.global_context.metadata });
    return {};
  }, { mode: "audit" });
  await withPlugins([seq, xform, audit], async (manager) => {
    const global: GlobalContext = gctx({ state: { initial: 0 }, metadata: { m0: true } });
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(order, [
      { initial: 0, seq: 1 },
      { initial: 0, seq: 1, xform: 2 },
      { m0: true, seq_meta: "m" },
    ]);
    assert.deepEqual(global.state, { initial: 0, seq: 1, xform: 2 });
    assert.deepEqual(global.metadata, { m0: true, seq_meta: "m" });
  });
});

Deno.test("global state and metadata are created on a caller context that had none", async () => {
  const p = plugin("p", (_h, _payload, ctx) => {
    ctx.global_context.state!.k = "v";
    ctx.global_context.metadata!.mk = "mv";
    return {};
  });
  await withPlugins([p], async (manager) => {
    const global = gctx();
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(global.state, { k: "v" });
    assert.deepEqual(global.metadata, { mk: "mv" });
  });
});

Deno.test("global merge adds and overwrites keys but never deletes them", async () => {
  const p = plugin("p", (_h, _payload, ctx) => {
    const state = ctx.global_context.state!;
    delete state.gone;
    state.changed = "new";
    return {};
  });
  await withPlugins([p], async (manager) => {
    const global = gctx({ state: { gone: 1, changed: "old" } });
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(global.state, { gone: 1, changed: "new" });
  });
});

Deno.test("a blocking sequential plugin's global writes are still merged", async () => {
  const p = plugin("blocker", (_h, _payload, ctx) => {
    ctx.global_context.state!.blocked_by = "blocker";
    return {
      continue_processing: false,
      violation: { reason: "no", description: "blocked", code: "DENY" },
    };
  });
  await withPlugins([p], async (manager) => {
    const global = gctx();
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.equal(result.continue_processing, false);
    assert.equal(global.state?.blocked_by, "blocker");
  });
});

Deno.test("audit plugins' global writes are not merged", async () => {
  const audit = plugin("audit", (_h, _p, ctx) => {
    ctx.global_context.state!.audit = true;
    ctx.global_context.metadata!.audit = true;
    return {};
  }, { mode: "audit" });
  const seq = plugin("seq", (_h, _p, ctx) => {
    ctx.global_context.state!.seq = true;
    return {};
  });
  await withPlugins([audit, seq], async (manager) => {
    const global = gctx();
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(global.state, { seq: true });
    assert.equal(global.metadata?.audit, undefined);
  });
});

Deno.test("fire-and-forget plugins' global writes are not merged", async () => {
  const faf = plugin("faf", (_h, _p, ctx) => {
    ctx.global_context.state!.faf = true;
    return {};
  }, { mode: "fire_and_forget" });
  await withPlugins([faf], async (manager) => {
    const global = gctx({ state: { before: 1 } });
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(await result.waitForBackgroundTasks(), []);
    assert.equal(faf.calls.length, 1);
    assert.deepEqual(global.state, { before: 1 });
  });
});

Deno.test("concurrent plugins see serial writes but not each other's, and all are merged", async () => {
  let c1Wrote!: () => void;
  const wrote = new Promise<void>((resolve) => c1Wrote = resolve);
  const seen: Record<string, unknown> = {};
  const seq = plugin("seq", (_h, _p, ctx) => {
    ctx.global_context.state!.seq = 1;
    return {};
  });
  const c1 = plugin("c1", (_h, _p, ctx) => {
    seen.c1 = { ...ctx.global_context.state };
    ctx.global_context.state!.c1 = true;
    c1Wrote();
    return {};
  }, { mode: "concurrent", priority: 1 });
  const c2 = plugin("c2", async (_h, _p, ctx) => {
    await wrote;
    seen.c2 = { ...ctx.global_context.state };
    ctx.global_context.state!.c2 = true;
    return {};
  }, { mode: "concurrent", priority: 2 });
  await withPlugins([seq, c1, c2], async (manager) => {
    const global = gctx();
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(seen, { c1: { seq: 1 }, c2: { seq: 1 } });
    assert.deepEqual(global.state, { seq: 1, c1: true, c2: true });
  });
});

// --- Q9 fix: nested objects cannot leak -------------------------------------------------------

Deno.test("an audit plugin mutating a nested object in global state changes nothing outside", async () => {
  const nested = { x: 1, list: [1] };
  const audit = plugin("audit", (_h, _p, ctx) => {
    const n = ctx.global_context.state!.nested as { x: number; list: number[] };
    n.x = 99;
    n.list.push(2);
    return {};
  }, { mode: "audit", priority: 1 });
  const later = plugin("later", (_h, _p, ctx) => ({
    metadata: { seen: structuredClone(ctx.global_context.state!.nested) },
  }), { mode: "audit", priority: 2 });
  await withPlugins([audit, later], async (manager) => {
    const global = gctx({ state: { nested } });
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(result.metadata.seen, { x: 1, list: [1] });
    assert.deepEqual(nested, { x: 1, list: [1] });
    assert.equal(global.state!.nested, nested);
  });
});

Deno.test("a fire-and-forget plugin mutating nested global state does not touch the caller's", async () => {
  const nested = { x: 1 };
  const faf = plugin("faf", (_h, _p, ctx) => {
    (ctx.global_context.state!.nested as { x: number }).x = 2;
    return {};
  }, { mode: "fire_and_forget" });
  await withPlugins([faf], async (manager) => {
    const global = gctx({ state: { nested } });
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    await result.waitForBackgroundTasks();
    assert.deepEqual(nested, { x: 1 });
    assert.deepEqual(global.state, { nested: { x: 1 } });
  });
});

Deno.test("concurrent plugins never see a sibling's nested mutation", async () => {
  let aDone!: () => void;
  const done = new Promise<void>((resolve) => aDone = resolve);
  let seenByB: unknown;
  const a = plugin("a", (_h, _p, ctx) => {
    (ctx.global_context.state!.nested as { x: number }).x = 2;
    aDone();
    return {};
  }, { mode: "concurrent", priority: 1 });
  const b = plugin("b", async (_h, _p, ctx) => {
    await done;
    seenByB = (ctx.global_context.state!.nested as { x: number }).x;
    return {};
  }, { mode: "concurrent", priority: 2 });
  await withPlugins([a, b], async (manager) => {
    await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t" },
      gctx({ state: { nested: { x: 1 } } }),
    );
    assert.equal(seenByB, 1);
  });
});

Deno.test("a sequential plugin's nested write reaches the caller as a new object, never the original", async () => {
  const original = { x: 1 };
  const seq = plugin("seq", (_h, _p, ctx) => {
    (ctx.global_context.state!.nested as { x: number }).x = 2;
    return {};
  });
  await withPlugins([seq], async (manager) => {
    const global = gctx({ state: { nested: original } });
    await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    assert.deepEqual(original, { x: 1 });
    assert.deepEqual(global.state!.nested, { x: 2 });
    assert.notEqual(global.state!.nested, original);
  });
});

Deno.test("a plugin keeping a reference to merged nested state cannot change it for later plugins", async () => {
  let kept: { x: number } | null = null;
  const writer = plugin("writer", (hook, _p, ctx) => {
    if (hook === "tool_pre_invoke") {
      kept = { x: 1 };
      ctx.global_context.state!.shared = kept;
    }
    return {};
  }, { priority: 1 });
  const reader = plugin("reader", (hook, _p, ctx) => {
    if (hook !== "tool_post_invoke") return {};
    return { metadata: { x: (ctx.global_context.state!.shared as { x: number }).x } };
  }, { priority: 2, mode: "audit" });
  await withPlugins([writer, reader], async (manager) => {
    const global = gctx();
    const [, table] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, global);
    // The writer mutates its old object after its call returned (e.g. from a timer).
    kept!.x = 666;
    const [post] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: 1 },
      global,
      { localContexts: table },
    );
    assert.equal(post.metadata.x, 1, "the writer changed global state outside its hook call");
  });
});

// --- Q2 fix: fire-and-forget reuses its context ------------------------------------------------

Deno.test("a fire-and-forget plugin reuses its private context from localContexts", async () => {
  const faf = plugin("faf", (hook, _p, ctx) => {
    if (hook === "tool_pre_invoke") ctx.setState("pre", "seen");
    else ctx.setState("post_saw", ctx.getState("pre"));
    return {};
  }, { mode: "fire_and_forget" });
  await withPlugins([faf], async (manager) => {
    const [pre, table] = await manager.invokeHook("tool_pre_invoke", { name: "t" }, gctx());
    await pre.waitForBackgroundTasks();
    const [post, table2] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "t", result: 1 },
      gctx(),
      { localContexts: table },
    );
    await post.waitForBackgroundTasks();
    const context = Object.values(table2!)[0];
    assert.equal(context.getState("post_saw"), "seen");
  });
});

// --- C55: PluginContext helpers ----------------------------------------------------------------

Deno.test("PluginContext getState/setState/cleanup manage private state", async () => {
  const ctx = new PluginContext(gctx());
  assert.equal(ctx.getState("missing"), undefined);
  assert.equal(ctx.getState("missing", 5), 5);
  ctx.setState("k", 0);
  assert.equal(ctx.getState("k", 5), 0, "a falsy stored value beats the default");
  ctx.metadata.m = 1;
  await ctx.cleanup();
  assert.deepEqual(ctx.state, {});
  assert.deepEqual(ctx.metadata, {});
});

Deno.test("PluginContext isEmpty is true only when state, metadata and global state are empty", () => {
  assert.equal(new PluginContext(gctx()).isEmpty(), true);
  assert.equal(new PluginContext(gctx({ state: {} })).isEmpty(), true);
  assert.equal(new PluginContext(gctx({ state: { g: 1 } })).isEmpty(), false);
  assert.equal(new PluginContext(gctx(), { s: 1 }).isEmpty(), false);
  assert.equal(new PluginContext(gctx(), {}, { m: 1 }).isEmpty(), false);
  // Global metadata does not count.
  assert.equal(new PluginContext(gctx({ metadata: { m: 1 } })).isEmpty(), true);
});

Deno.test("PluginContext userEmail prefers user_context (even a null email), then the user", () => {
  const withEmail = new PluginContext(
    gctx({ user: "ignored", user_context: { user_id: "u", email: "u@x" } }),
  );
  assert.equal(withEmail.userEmail, "u@x");
  const nullEmail = new PluginContext(
    gctx({ user: "alice@x", user_context: { user_id: "u", email: null } }),
  );
  assert.equal(nullEmail.userEmail, null);
  assert.equal(new PluginContext(gctx({ user: "alice@x" })).userEmail, "alice@x");
  assert.equal(new PluginContext(gctx({ user: { email: "d@x" } })).userEmail, "d@x");
  assert.equal(new PluginContext(gctx({ user: { name: "d" } })).userEmail, null);
  assert.equal(new PluginContext(gctx()).userEmail, null);
});

Deno.test("PluginContext userContext and userGroups read the global user_context", () => {
  const uc = { user_id: "u", groups: ["admins", "dev"] };
  const ctx = new PluginContext(gctx({ user_context: uc }));
  assert.deepEqual(ctx.userContext, uc);
  assert.deepEqual(ctx.userGroups, ["admins", "dev"]);
  const none = new PluginContext(gctx());
  assert.equal(none.userContext, null);
  assert.deepEqual(none.userGroups, []);
  assert.deepEqual(new PluginContext(gctx({ user_context: { user_id: "u" } })).userGroups, []);
});

Deno.test("plugins read the user through their context helpers during a hook", async () => {
  const p = plugin("who", (_h, _payload, ctx) => ({
    metadata: { email: ctx.userEmail, groups: ctx.userGroups },
  }));
  await withPlugins([p], async (manager) => {
    const table: PluginContextTable | null = null;
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t" },
      gctx({ user_context: { user_id: "u", email: "u@x", groups: ["g1"] } }),
      { localContexts: table },
    );
    assert.deepEqual(result.metadata, { email: "u@x", groups: ["g1"] });
  });
});
