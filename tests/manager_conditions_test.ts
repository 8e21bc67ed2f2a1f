/**
 * Plugin conditions through a real PluginManager (spec C42–C49, Q16, Q17): OR across condition
 * objects, AND within one, each of the eight fields, empty lists, null context values,
 * content-type normalisation, user_patterns substring and dict-key behaviour, payload fields
 * per hook family (fail-open on an empty value), other families' fields ignored, and custom
 * hooks registered with a `conditionField`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  type GlobalContext,
  HookRegistry,
  parseConfig,
  type PluginCondition,
  PluginManager,
} from "../mod.ts";
import {
  FnPlugin,
  gctx,
  type SeenCall,
  WarningLog,
  withPlugins,
} from "./helpers/context_plugins.ts";

/** True when a plugin with `conditions`, registered for `hook`, ran for this call. */
async function ran(
  conditions: PluginCondition[],
  hook: string,
  payload: unknown,
  context: GlobalContext = gctx(),
  hookRegistry?: HookRegistry,
): Promise<boolean> {
  const plugin = new FnPlugin({ name: "conditioned", kind: "inline", hooks: [hook], conditions });
  let executions = -1;
  await withPlugins([plugin], async (manager) => {
    const [result] = await manager.invokeHook(hook, payload, context);
    executions = result.executions.length;
  }, { hookRegistry });
  assert.equal(executions, plugin.calls.length, "one record per plugin that ran");
  return plugin.calls.length === 1;
}

const TOOL = { name: "search", args: {} };

// --- C42: empty list, OR across objects -------------------------------------------------------

Deno.test("a plugin without conditions runs for every payload and context", async () => {
  assert.equal(await ran([], "tool_pre_invoke", TOOL), true);
  assert.equal(
    await ran([], "tool_pre_invoke", { name: "other" }, gctx({ server_id: "s9" })),
    true,
  );
});

Deno.test("a condition object with no fields, or only empty lists, matches everything", async () => {
  assert.equal(await ran([{}], "tool_pre_invoke", TOOL), true);
  const allEmpty: PluginCondition = {
    server_ids: [],
    tenant_ids: [],
    tools: [],
    prompts: [],
    resources: [],
    agents: [],
    user_patterns: [],
    content_types: [],
  };
  assert.equal(await ran([allEmpty], "tool_pre_invoke", TOOL, gctx()), true);
  const allNull: PluginCondition = {
    server_ids: null,
    tenant_ids: null,
    tools: null,
    user_patterns: null,
    content_types: null,
  };
  assert.equal(await ran([allNull], "tool_pre_invoke", TOOL, gctx()), true);
});

Deno.test("conditions are OR'ed across objects: the first matching object suffices", async () => {
  const conditions: PluginCondition[] = [{ tenant_ids: ["t1"] }, { server_ids: ["s1"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: "t1" })), true);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ server_id: "s1" })), true);
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: "t2", server_id: "s2" })),
    false,
  );
});

Deno.test("partial matches spread over several condition objects do not combine", async () => {
  const conditions: PluginCondition[] = [
    { tenant_ids: ["t1"], server_ids: ["s1"] },
    { tenant_ids: ["t2"], server_ids: ["s2"] },
  ];
  // tenant matches object 1, server matches object 2: neither object matches on its own.
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: "t1", server_id: "s2" })),
    false,
  );
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: "t2", server_id: "s2" })),
    true,
  );
});

Deno.test("defense in depth: (tenant AND tool) OR (server AND user) truth table", async () => {
  const conditions: PluginCondition[] = [
    { tenant_ids: ["acme"], tools: ["delete"] },
    { server_ids: ["admin-srv"], user_patterns: ["admin"] },
  ];
  const cases: Array<[string, Partial<GlobalContext>, boolean]> = [
    ["delete", { tenant_id: "acme" }, true],
    ["delete", { tenant_id: "other" }, false],
    ["search", { tenant_id: "acme" }, false],
    ["search", { server_id: "admin-srv", user: "admin_bob" }, true],
    ["search", { server_id: "admin-srv", user: "bob" }, false],
    ["search", { server_id: "public", user: "admin_bob" }, false],
    ["delete", { tenant_id: "acme", server_id: "admin-srv", user: "bob" }, true],
  ];
  for (const [tool, context, expected] of cases) {
    assert.equal(
      await ran(conditions, "tool_pre_invoke", { name: tool }, gctx(context)),
      expected,
      `${tool} ${JSON.stringify(context)}`,
    );
  }
});

// --- C43: AND within one object -------------------------------------------------------------

Deno.test("fields within one condition are AND'ed: every non-empty field must match", async () => {
  const conditions: PluginCondition[] = [{
    server_ids: ["s1"],
    tenant_ids: ["t1"],
    tools: ["search"],
    user_patterns: ["alice"],
  }];
  const all = { server_id: "s1", tenant_id: "t1", user: "alice@example.com" };
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx(all)), true);
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ ...all, server_id: "s2" })),
    false,
  );
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ ...all, tenant_id: "t2" })),
    false,
  );
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ ...all, user: "bob" })),
    false,
  );
  assert.equal(await ran(conditions, "tool_pre_invoke", { name: "other" }, gctx(all)), false);
});

Deno.test("an empty list inside a condition imposes no constraint (server_ids: [] = all servers)", async () => {
  const conditions: PluginCondition[] = [{ tenant_ids: [], tools: ["search"], server_ids: [] }];
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ server_id: "any", tenant_id: "x" })),
    true,
  );
  assert.equal(await ran(conditions, "tool_pre_invoke", { name: "nope" }, gctx()), false);
});

Deno.test("set fields match any of several values", async () => {
  const conditions: PluginCondition[] = [{ tenant_ids: ["a", "b", "c"], tools: ["x", "y"] }];
  assert.equal(
    await ran(conditions, "tool_pre_invoke", { name: "y" }, gctx({ tenant_id: "c" })),
    true,
  );
  assert.equal(
    await ran(conditions, "tool_pre_invoke", { name: "z" }, gctx({ tenant_id: "c" })),
    false,
  );
});

// --- C44: server_ids / tenant_ids -------------------------------------------------------------

Deno.test("server_ids is exact membership of global_context.server_id", async () => {
  const conditions: PluginCondition[] = [{ server_ids: ["srv-1"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ server_id: "srv-1" })), true);
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ server_id: "srv-10" })),
    false,
  );
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ server_id: "SRV-1" })), false);
});

Deno.test("a null or absent server_id fails a non-empty server_ids set", async () => {
  const conditions: PluginCondition[] = [{ server_ids: ["srv-1"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ server_id: null })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx()), false);
});

Deno.test("tenant_ids is exact membership and a null tenant_id fails it", async () => {
  const conditions: PluginCondition[] = [{ tenant_ids: ["acme"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: "acme" })), true);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: "acme2" })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ tenant_id: null })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx()), false);
});

// --- C45: content_types -----------------------------------------------------------------------

Deno.test("content_types matches the context content type after normalisation", async () => {
  const conditions: PluginCondition[] = [{ content_types: ["application/json", "text/plain"] }];
  for (
    const ct of [
      "application/json",
      "application/json; charset=utf-8",
      "Application/JSON",
      "  application/json  ",
      "application/json;charset=UTF-8; boundary=x",
      "TEXT/PLAIN ; charset=iso-8859-1",
    ]
  ) {
    assert.equal(
      await ran(conditions, "tool_pre_invoke", TOOL, gctx({ content_type: ct })),
      true,
      ct,
    );
  }
  for (const ct of ["text/html", "application/jsonx", "application/xml; charset=utf-8"]) {
    assert.equal(
      await ran(conditions, "tool_pre_invoke", TOOL, gctx({ content_type: ct })),
      false,
      ct,
    );
  }
});

Deno.test("content_types in the condition are normalised too (params, case, spaces)", async () => {
  const conditions: PluginCondition[] = [{ content_types: [" Application/JSON; charset=utf-8 "] }];
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ content_type: "application/json" })),
    true,
  );
});

Deno.test("content_types loaded from a config are normalised at load time", () => {
  const config = parseConfig({
    plugins: [{
      name: "ct",
      kind: "x",
      conditions: [{ content_types: ["Text/HTML; charset=utf-8", " APPLICATION/JSON "] }],
    }],
  }, "inline.yaml");
  assert.deepEqual(
    [...(config.plugins[0].conditions[0].content_types ?? [])].sort(),
    ["application/json", "text/html"],
  );
});

Deno.test("a null, absent or blank content type fails a content_types condition", async () => {
  const conditions: PluginCondition[] = [{ content_types: ["application/json"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx()), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ content_type: null })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ content_type: "" })), false);
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ content_type: "   " })),
    false,
  );
});

Deno.test("content_types combine with server and tenant conditions (AND)", async () => {
  const conditions: PluginCondition[] = [{
    content_types: ["application/json"],
    server_ids: ["s1"],
    tenant_ids: ["t1"],
  }];
  const ok = { content_type: "application/json; charset=utf-8", server_id: "s1", tenant_id: "t1" };
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx(ok)), true);
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ ...ok, content_type: "text/xml" })),
    false,
  );
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ ...ok, tenant_id: "t2" })),
    false,
  );
});

// --- C46: user_patterns -----------------------------------------------------------------------

Deno.test("user_patterns is a case-sensitive substring test on a string user", async () => {
  const conditions: PluginCondition[] = [{ user_patterns: ["admin"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "admin_user" })), true);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "sysadmin" })), true);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "ADMIN_user" })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "bob" })), false);
});

Deno.test("user_patterns are literal text, not regular expressions or globs", async () => {
  assert.equal(
    await ran([{ user_patterns: ["a.*"] }], "tool_pre_invoke", TOOL, gctx({ user: "alice" })),
    false,
  );
  assert.equal(
    await ran([{ user_patterns: ["*@corp"] }], "tool_pre_invoke", TOOL, gctx({ user: "x@corp" })),
    false,
  );
  assert.equal(
    await ran([{ user_patterns: ["a.*"] }], "tool_pre_invoke", TOOL, gctx({ user: "xa.*y" })),
    true,
  );
});

Deno.test("user_patterns passes when any one pattern is contained", async () => {
  const conditions: PluginCondition[] = [{ user_patterns: ["root", "@example.com"] }];
  assert.equal(
    await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "alice@example.com" })),
    true,
  );
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "alice@corp" })), false);
});

Deno.test("a null or empty user fails a user_patterns condition", async () => {
  const conditions: PluginCondition[] = [{ user_patterns: [""] }];
  // Even the empty pattern (a substring of everything) does not match a missing user.
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx()), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: null })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "" })), false);
  assert.equal(await ran(conditions, "tool_pre_invoke", TOOL, gctx({ user: "x" })), true);
});

Deno.test("with a dict user, user_patterns tests the dict's keys, not its values", async () => {
  const user = { email: "alice@example.com", role: "admin" };
  assert.equal(
    await ran([{ user_patterns: ["email"] }], "tool_pre_invoke", TOOL, gctx({ user })),
    true,
  );
  assert.equal(
    await ran([{ user_patterns: ["alice"] }], "tool_pre_invoke", TOOL, gctx({ user })),
    false,
  );
  assert.equal(
    await ran([{ user_patterns: ["admin"] }], "tool_pre_invoke", TOOL, gctx({ user })),
    false,
  );
  // Keys are compared whole ("ema" is not a key).
  assert.equal(
    await ran([{ user_patterns: ["ema"] }], "tool_pre_invoke", TOOL, gctx({ user })),
    false,
  );
});

// --- C47/C48: payload fields per hook family --------------------------------------------------

Deno.test("tools restricts tool_pre_invoke and tool_post_invoke by payload name", async () => {
  const conditions: PluginCondition[] = [{ tools: ["search"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", { name: "search", args: {} }), true);
  assert.equal(await ran(conditions, "tool_pre_invoke", { name: "delete", args: {} }), false);
  assert.equal(await ran(conditions, "tool_post_invoke", { name: "search", result: 1 }), true);
  assert.equal(await ran(conditions, "tool_post_invoke", { name: "delete", result: 1 }), false);
});

Deno.test("prompts restricts prompt_pre_fetch and prompt_post_fetch by prompt_id", async () => {
  const conditions: PluginCondition[] = [{ prompts: ["greeting"] }];
  assert.equal(await ran(conditions, "prompt_pre_fetch", { prompt_id: "greeting" }), true);
  assert.equal(await ran(conditions, "prompt_pre_fetch", { prompt_id: "other" }), false);
  assert.equal(
    await ran(conditions, "prompt_post_fetch", { prompt_id: "greeting", result: {} }),
    true,
  );
  assert.equal(await ran(conditions, "prompt_post_fetch", { prompt_id: "x", result: {} }), false);
});

Deno.test("resources restricts resource hooks by exact uri (no globbing)", async () => {
  const conditions: PluginCondition[] = [{ resources: ["file:///data/a.txt"] }];
  assert.equal(await ran(conditions, "resource_pre_fetch", { uri: "file:///data/a.txt" }), true);
  assert.equal(await ran(conditions, "resource_pre_fetch", { uri: "file:///data/b.txt" }), false);
  assert.equal(
    await ran([{ resources: ["file:///data/*"] }], "resource_pre_fetch", {
      uri: "file:///data/a.txt",
    }),
    false,
  );
  assert.equal(
    await ran(conditions, "resource_post_fetch", { uri: "file:///data/a.txt", content: "x" }),
    true,
  );
  assert.equal(
    await ran(conditions, "resource_post_fetch", { uri: "file:///other", content: "x" }),
    false,
  );
});

Deno.test("agents restricts agent hooks by agent_id", async () => {
  const conditions: PluginCondition[] = [{ agents: ["planner"] }];
  assert.equal(
    await ran(conditions, "agent_pre_invoke", { agent_id: "planner", messages: [] }),
    true,
  );
  assert.equal(
    await ran(conditions, "agent_pre_invoke", { agent_id: "coder", messages: [] }),
    false,
  );
  assert.equal(
    await ran(conditions, "agent_post_invoke", { agent_id: "planner", messages: [] }),
    true,
  );
  assert.equal(
    await ran(conditions, "agent_post_invoke", { agent_id: "coder", messages: [] }),
    false,
  );
});

Deno.test("tools restricts token_delegate by target_name and identity_resolve by raw_token", async () => {
  const conditions: PluginCondition[] = [{ tools: ["billing"] }];
  assert.equal(await ran(conditions, "token_delegate", { target_name: "billing" }), true);
  assert.equal(await ran(conditions, "token_delegate", { target_name: "hr" }), false);
  assert.equal(await ran(conditions, "identity_resolve", { raw_token: "billing" }), true);
  assert.equal(await ran(conditions, "identity_resolve", { raw_token: "tok-123" }), false);
});

Deno.test("an empty or missing payload value passes a payload condition (fail-open)", async () => {
  const conditions: PluginCondition[] = [{ tools: ["search"] }];
  assert.equal(await ran(conditions, "tool_pre_invoke", { name: "", args: {} }), true);
  assert.equal(await ran(conditions, "token_delegate", {}), true);
  assert.equal(await ran(conditions, "token_delegate", { target_name: null }), true);
  assert.equal(await ran([{ prompts: ["p"] }], "prompt_pre_fetch", { prompt_id: "" }), true);
  assert.equal(await ran([{ resources: ["r"] }], "resource_pre_fetch", { uri: "" }), true);
  assert.equal(
    await ran([{ agents: ["a"] }], "agent_pre_invoke", { agent_id: "", messages: [] }),
    true,
  );
});

Deno.test("fail-open on the payload value does not bypass the context fields of the same condition", async () => {
  const conditions: PluginCondition[] = [{ tools: ["search"], server_ids: ["s1"] }];
  assert.equal(
    await ran(conditions, "tool_pre_invoke", { name: "" }, gctx({ server_id: "s2" })),
    false,
  );
  assert.equal(
    await ran(conditions, "tool_pre_invoke", { name: "" }, gctx({ server_id: "s1" })),
    true,
  );
});

Deno.test("payload fields of another hook family are ignored (prompts does not restrict tools)", async () => {
  assert.equal(await ran([{ prompts: ["only-this"] }], "tool_pre_invoke", TOOL), true);
  assert.equal(await ran([{ tools: ["only-this"] }], "prompt_pre_fetch", { prompt_id: "p" }), true);
  assert.equal(
    await ran([{ resources: ["r"] }], "agent_pre_invoke", { agent_id: "a", messages: [] }),
    true,
  );
  assert.equal(await ran([{ agents: ["a"] }], "resource_pre_fetch", { uri: "u" }), true);
});

Deno.test("one plugin with a tools condition runs for every prompt but only the listed tool", async () => {
  const calls: SeenCall[] = [];
  const plugin = new FnPlugin(
    {
      name: "mixed",
      kind: "inline",
      hooks: ["tool_pre_invoke", "prompt_pre_fetch"],
      conditions: [{ tools: ["search"] }],
    },
    () => ({}),
    calls,
  );
  await withPlugins([plugin], async (manager) => {
    await manager.invokeHook("tool_pre_invoke", { name: "delete" }, gctx());
    await manager.invokeHook("tool_pre_invoke", { name: "search" }, gctx());
    await manager.invokeHook("prompt_pre_fetch", { prompt_id: "anything" }, gctx());
  });
  assert.deepEqual(calls.map((c) => c.hook), ["tool_pre_invoke", "prompt_pre_fetch"]);
});

Deno.test("http, cmf, evaluate and unregistered custom hooks ignore payload-specific fields", async () => {
  const conditions: PluginCondition[] = [{ tools: ["t"], prompts: ["p"], resources: ["r"] }];
  const http = { path: "/x", method: "GET", headers: {} };
  assert.equal(await ran(conditions, "http_pre_request", http), true);
  assert.equal(
    await ran(conditions, "http_auth_check_permission", {
      user_email: "a@b",
      permission: "read",
    }),
    true,
  );
  assert.equal(await ran(conditions, "cmf.tool_pre_invoke", { message: {} }), true);
  assert.equal(await ran(conditions, "evaluate", { message: {} }), true);
  assert.equal(await ran(conditions, "email_pre_send", { name: "other" }), true);
});

Deno.test("context fields still apply to hooks without a payload condition field", async () => {
  const conditions: PluginCondition[] = [{ server_ids: ["s1"], tools: ["ignored"] }];
  const http = { path: "/x", method: "GET", headers: {} };
  assert.equal(await ran(conditions, "http_pre_request", http, gctx({ server_id: "s1" })), true);
  assert.equal(await ran(conditions, "http_pre_request", http, gctx({ server_id: "s2" })), false);
  assert.equal(await ran(conditions, "email_pre_send", {}, gctx({ server_id: "s2" })), false);
});

Deno.test("a custom hook registered with a conditionField is filtered by that field", async () => {
  const registry = HookRegistry.withBuiltins();
  registry.register("email_pre_send", {
    payload: z.object({ name: z.string(), recipient: z.string() }),
    conditionField: "tools",
  });
  const conditions: PluginCondition[] = [{ tools: ["newsletter"] }];
  const sent = (name: string) => ({ name, recipient: "a@example.com" });
  assert.equal(await ran(conditions, "email_pre_send", sent("newsletter"), gctx(), registry), true);
  assert.equal(await ran(conditions, "email_pre_send", sent("invoice"), gctx(), registry), false);
  // Another family's field is still ignored for it.
  assert.equal(
    await ran([{ prompts: ["x"] }], "email_pre_send", sent("invoice"), gctx(), registry),
    true,
  );
});

Deno.test("a custom hook registered with conditionField and matchField matches that attribute", async () => {
  const registry = HookRegistry.withBuiltins();
  registry.register("doc_pre_index", {
    payload: z.object({ doc_id: z.string() }),
    conditionField: "resources",
    matchField: "doc_id",
  });
  const conditions: PluginCondition[] = [{ resources: ["doc-1"] }];
  assert.equal(await ran(conditions, "doc_pre_index", { doc_id: "doc-1" }, gctx(), registry), true);
  assert.equal(
    await ran(conditions, "doc_pre_index", { doc_id: "doc-2" }, gctx(), registry),
    false,
  );
  assert.equal(await ran(conditions, "doc_pre_index", { doc_id: "" }, gctx(), registry), true);
});

Deno.test("the same custom hook without a conditionField on the default registry ignores tools", async () => {
  // The default registry does not know doc_pre_index: the condition field does not apply.
  assert.equal(await ran([{ resources: ["doc-1"] }], "doc_pre_index", { doc_id: "doc-2" }), true);
});

// --- ordering and evaluation details ----------------------------------------------------------

Deno.test("conditions are evaluated against the original payload, not an earlier plugin's rewrite", async () => {
  const calls: SeenCall[] = [];
  const renamer = new FnPlugin(
    { name: "renamer", kind: "inline", hooks: ["tool_pre_invoke"], priority: 1 },
    (_h, payload) => ({ modified_payload: { ...(payload as object), name: "renamed" } }),
    calls,
  );
  const guarded = new FnPlugin(
    {
      name: "guarded",
      kind: "inline",
      hooks: ["tool_pre_invoke"],
      priority: 2,
      conditions: [{ tools: ["search"] }],
    },
    () => ({}),
    calls,
  );
  await withPlugins([renamer, guarded], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "search" }, gctx());
    assert.equal(result.modified_payload?.name, "renamed");
  });
  assert.deepEqual(calls.map((c) => c.plugin), ["renamer", "guarded"]);
  // The guarded plugin still receives the chained payload.
  assert.equal((calls[1].payload as { name: string }).name, "renamed");
});

Deno.test("a skipped plugin has no record and no context entry while matching ones do", async () => {
  const calls: SeenCall[] = [];
  const a = new FnPlugin(
    {
      name: "a",
      kind: "inline",
      hooks: ["tool_pre_invoke"],
      conditions: [{ server_ids: ["s1"] }],
    },
    () => ({}),
    calls,
  );
  const b = new FnPlugin(
    {
      name: "b",
      kind: "inline",
      hooks: ["tool_pre_invoke"],
      conditions: [{ server_ids: ["s2"] }],
    },
    () => ({}),
    calls,
  );
  await withPlugins([a, b], async (manager) => {
    const [result, contexts] = await manager.invokeHook(
      "tool_pre_invoke",
      TOOL,
      gctx({ server_id: "s2" }),
    );
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["b"]);
    assert.equal(Object.keys(contexts ?? {}).length, 1);
  });
  assert.deepEqual(calls.map((c) => c.plugin), ["b"]);
});

Deno.test("when every plugin is skipped the result is default and the context table is empty", async () => {
  const plugin = new FnPlugin({
    name: "never",
    kind: "inline",
    hooks: ["tool_pre_invoke"],
    conditions: [{ tenant_ids: ["nobody"] }],
  });
  await withPlugins([plugin], async (manager) => {
    const [result, contexts] = await manager.invokeHook("tool_pre_invoke", TOOL, gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.deepEqual(result.executions, []);
    assert.deepEqual(contexts, {});
  });
});

Deno.test("YAML conditions with an empty server_ids list restrict only by prompt", async () => {
  const config = parseConfig({
    plugins: [{
      name: "deny",
      kind: "fn",
      hooks: ["prompt_pre_fetch"],
      conditions: [{ prompts: ["test_prompt"], server_ids: [] }],
    }],
  }, "inline.yaml");
  const calls: SeenCall[] = [];
  class Recording extends FnPlugin {
    constructor(config: ConstructorParameters<typeof FnPlugin>[0]) {
      super(config, () => ({}), calls);
    }
  }
  const manager = new PluginManager(config, {
    pluginKinds: { fn: Recording },
    logger: new WarningLog(),
  });
  await manager.initialize();
  try {
    await manager.invokeHook(
      "prompt_pre_fetch",
      { prompt_id: "test_prompt" },
      gctx({
        server_id: "whatever",
      }),
    );
    await manager.invokeHook("prompt_pre_fetch", { prompt_id: "other" }, gctx());
  } finally {
    await manager.shutdown();
  }
  assert.deepEqual(calls.map((c) => (c.payload as { prompt_id: string }).prompt_id), [
    "test_prompt",
  ]);
});
