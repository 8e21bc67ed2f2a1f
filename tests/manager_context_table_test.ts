/**
 * The context table `invokeHook` returns is built only when read (issue 13: its keys cost about
 * 1 µs per plugin with a new request id per call). These tests hold it to the eager table's
 * behaviour however it is used: read, printed, copied, changed or frozen before it is passed
 * back, or passed back unread.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext, type PluginContextTable, type PluginManager } from "../mod.ts";
import { FnPlugin, gctx, type HookFn, withPlugins } from "./helpers/context_plugins.ts";

const HOOKS = ["tool_pre_invoke", "tool_post_invoke"];

/** Counts in its private state: the post hook reports what the pre hook left. */
function counter(name: string): FnPlugin {
  const fn: HookFn = (hook, _p, ctx) => {
    if (hook === "tool_pre_invoke") {
      ctx.setState("count", (ctx.getState<number>("count", 0) ?? 0) + 1);
      return {};
    }
    return { metadata: { [name]: ctx.getState<number>("count", 0) } };
  };
  return new FnPlugin({ name, kind: "inline", hooks: HOOKS }, fn);
}

async function pre(manager: PluginManager, requestId = "req-1"): Promise<PluginContextTable> {
  const [, table] = await manager.invokeHook(
    "tool_pre_invoke",
    { name: "t" },
    gctx({ request_id: requestId }),
  );
  return table!;
}

async function post(
  manager: PluginManager,
  table: PluginContextTable | null,
  requestId = "req-1",
): Promise<Record<string, unknown>> {
  const [result] = await manager.invokeHook(
    "tool_post_invoke",
    { name: "t", result: null },
    gctx({ request_id: requestId }),
    { localContexts: table },
  );
  return result.metadata;
}

Deno.test("an unread table passed back carries each plugin's context", async () => {
  await withPlugins([counter("a"), counter("b")], async (manager) => {
    assert.deepEqual(await post(manager, await pre(manager)), { a: 1, b: 1 });
  });
});

Deno.test("an unread table passed back under another request id carries nothing", async () => {
  await withPlugins([counter("a")], async (manager) => {
    assert.deepEqual(await post(manager, await pre(manager), "req-2"), { a: 0 });
  });
});

Deno.test("a table read before it is passed back behaves the same", async () => {
  await withPlugins([counter("a"), counter("b")], async (manager) => {
    const table = await pre(manager);
    const keys = Object.keys(table);
    assert.equal(keys.length, 2);
    for (const key of keys) {
      assert.ok(key.startsWith("req-1"));
      assert.ok(table[key] instanceof PluginContext);
    }
    assert.deepEqual(await post(manager, table), { a: 1, b: 1 });
  });
});

Deno.test("a caller's change to the table is what the post hook sees", async () => {
  await withPlugins([counter("a"), counter("b")], async (manager) => {
    const table = await pre(manager);
    const [first, second] = Object.keys(table);
    delete table[first];
    assert.deepEqual(Object.keys(table), [second]);
    assert.equal(await post(manager, table).then((m) => Object.values(m).sort().join()), "0,1");

    // A context the caller adds under a plugin's key is used by that plugin.
    const again = await pre(manager);
    const [key] = Object.keys(again);
    const mine = new PluginContext(gctx(), { count: 41 });
    again[key] = mine;
    const seen = await post(manager, again);
    assert.ok(Object.values(seen).includes(41), JSON.stringify(seen));
  });
});

Deno.test("the table looks like a plain object: prototype, spread, JSON, equality", async () => {
  await withPlugins([counter("a")], async (manager) => {
    const table = await pre(manager);
    assert.equal(Object.getPrototypeOf(table), Object.prototype);
    const copy = { ...table };
    assert.deepEqual(table, copy);
    assert.equal(Object.keys(JSON.parse(JSON.stringify(table))).length, 1);
    let n = 0;
    for (const key in table) n += key.startsWith("req-1") ? 1 : 0;
    assert.equal(n, 1);
  });
});

Deno.test("printing an unread table shows its entries", async () => {
  await withPlugins([counter("a")], async (manager) => {
    const table = await pre(manager);
    const shown = Deno.inspect(table);
    assert.match(shown, /req-1[0-9a-f]{32}/);
    assert.match(shown, /PluginContext/);
  });
});

Deno.test("a frozen table keeps its entries and still carries the contexts", async () => {
  await withPlugins([counter("a")], async (manager) => {
    const table = Object.freeze(await pre(manager));
    assert.ok(Object.isFrozen(table));
    assert.equal(Object.getPrototypeOf(table), Object.prototype);
    assert.equal(Object.keys(table).length, 1);
    assert.match(Deno.inspect(table), /req-1[0-9a-f]{32}/);
    assert.deepEqual(await post(manager, table), { a: 1 });
  });
});
