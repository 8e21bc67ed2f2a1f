/**
 * The hook registry: built-ins, custom hooks, JSON conversion, errors, condition targets and
 * cross-type flags (spec §3.4, C47; upstream hooks/test_hook_registry.py).
 *
 * @module
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  BUILTIN_HOOK_NAMES,
  getHookRegistry,
  HookRegistry,
  hookRegistry,
  HookValidationError,
  HttpAuthCheckPermissionResultPayloadSchema,
  HttpHeaderPayloadSchema,
  HttpPreRequestPayloadSchema,
  PAYLOAD_CONDITION_TARGETS,
  PromptPrehookPayloadSchema,
  registerBuiltinHooks,
  ToolPreInvokePayloadSchema,
  UnknownHookError,
} from "../src/hooks/mod.ts";

const BUILTINS = [
  "tool_pre_invoke",
  "tool_post_invoke",
  "prompt_pre_fetch",
  "prompt_post_fetch",
  "resource_pre_fetch",
  "resource_post_fetch",
  "agent_pre_invoke",
  "agent_post_invoke",
  "http_pre_request",
  "http_post_request",
  "http_auth_resolve_user",
  "http_auth_check_permission",
];

const EmailPayloadSchema = z.object({
  recipient: z.string(),
  subject: z.string().default(""),
});

function emailRegistry(): HookRegistry {
  const registry = new HookRegistry();
  registry.register("email_pre_send", { payload: EmailPayloadSchema });
  return registry;
}

Deno.test("the default registry holds the 12 built-in hooks in order", () => {
  assert.deepEqual(hookRegistry.names().slice(0, 12), BUILTINS);
  assert.deepEqual([...BUILTIN_HOOK_NAMES], BUILTINS);
  for (const name of BUILTINS) assert.equal(hookRegistry.isRegistered(name), true, name);
});

Deno.test("getHookRegistry returns the same default instance", () => {
  assert.equal(getHookRegistry(), hookRegistry);
  assert.equal(getHookRegistry(), getHookRegistry());
});

Deno.test("a new registry starts empty", () => {
  const registry = new HookRegistry();
  assert.deepEqual(registry.names(), []);
  assert.equal(registry.isRegistered("tool_pre_invoke"), false);
});

Deno.test("payload schemas are looked up by hook name", () => {
  assert.equal(hookRegistry.getPayloadSchema("tool_pre_invoke"), ToolPreInvokePayloadSchema);
  assert.equal(hookRegistry.getPayloadSchema("prompt_pre_fetch"), PromptPrehookPayloadSchema);
  assert.equal(hookRegistry.getPayloadSchema("http_pre_request"), HttpPreRequestPayloadSchema);
});

Deno.test("an unregistered hook has no schemas and is not registered", () => {
  assert.equal(hookRegistry.getPayloadSchema("no_such_hook"), null);
  assert.equal(hookRegistry.getResultPayloadSchema("no_such_hook"), null);
  assert.equal(hookRegistry.getResultSchema("no_such_hook"), null);
  assert.equal(hookRegistry.isRegistered("no_such_hook"), false);
});

Deno.test("result payload schemas are the payload schema except for the HTTP hooks", () => {
  assert.equal(hookRegistry.getResultPayloadSchema("tool_pre_invoke"), ToolPreInvokePayloadSchema);
  assert.equal(hookRegistry.getResultPayloadSchema("http_pre_request"), HttpHeaderPayloadSchema);
  assert.equal(hookRegistry.getResultPayloadSchema("http_post_request"), HttpHeaderPayloadSchema);
  assert.equal(
    hookRegistry.getResultPayloadSchema("http_auth_check_permission"),
    HttpAuthCheckPermissionResultPayloadSchema,
  );
});

Deno.test("exactly the four HTTP hooks are cross-type", () => {
  const crossType = BUILTINS.filter((name) => hookRegistry.isCrossType(name));
  assert.deepEqual(crossType, [
    "http_pre_request",
    "http_post_request",
    "http_auth_resolve_user",
    "http_auth_check_permission",
  ]);
  assert.equal(hookRegistry.isCrossType("no_such_hook"), false);
});

Deno.test("a custom hook with its own result schema is cross-type", () => {
  const registry = emailRegistry();
  assert.equal(registry.isCrossType("email_pre_send"), false);
  registry.register("email_classify", {
    payload: EmailPayloadSchema,
    result: z.object({ spam: z.boolean() }),
  });
  assert.equal(registry.isCrossType("email_classify"), true);
});

Deno.test("condition targets follow the reference's fixed map", () => {
  const expected: Record<string, [string, string]> = {
    tool_pre_invoke: ["tools", "name"],
    tool_post_invoke: ["tools", "name"],
    prompt_pre_fetch: ["prompts", "prompt_id"],
    prompt_post_fetch: ["prompts", "prompt_id"],
    resource_pre_fetch: ["resources", "uri"],
    resource_post_fetch: ["resources", "uri"],
    agent_pre_invoke: ["agents", "agent_id"],
    agent_post_invoke: ["agents", "agent_id"],
    token_delegate: ["tools", "target_name"],
    identity_resolve: ["tools", "raw_token"],
  };
  for (const [hook, [field, attribute]] of Object.entries(expected)) {
    assert.deepEqual(hookRegistry.conditionTarget(hook), { field, attribute }, hook);
  }
  assert.deepEqual(Object.keys(PAYLOAD_CONDITION_TARGETS).sort(), Object.keys(expected).sort());
});

Deno.test("HTTP, cmf, evaluate and custom hooks have no payload condition target", () => {
  for (
    const hook of [
      "http_pre_request",
      "http_post_request",
      "http_auth_resolve_user",
      "http_auth_check_permission",
      "cmf.tool_pre_invoke",
      "evaluate",
      "email_pre_send",
      "toString",
    ]
  ) {
    assert.equal(hookRegistry.conditionTarget(hook), null, hook);
  }
  assert.equal(emailRegistry().conditionTarget("email_pre_send"), null);
});

Deno.test("a custom hook registered with a condition field gets a condition target", () => {
  const registry = new HookRegistry();
  registry.register("tool_audit", {
    payload: z.object({ name: z.string() }),
    conditionField: "tools",
  });
  registry.register("doc_pre_index", {
    payload: z.object({ doc_id: z.string() }),
    conditionField: "resources",
    matchField: "doc_id",
  });
  assert.deepEqual(registry.conditionTarget("tool_audit"), { field: "tools", attribute: "name" });
  assert.deepEqual(registry.conditionTarget("doc_pre_index"), {
    field: "resources",
    attribute: "doc_id",
  });
});

Deno.test("an invalid registration is rejected with a TypeError naming the hook", () => {
  const registry = new HookRegistry();
  const payload = z.object({});
  assert.throws(() => registry.register("", { payload }), TypeError);
  assert.throws(
    () => registry.register("h", { payload: {} as z.ZodType<unknown> }),
    /Hook 'h': 'payload' must be a zod schema/,
  );
  assert.throws(
    () => registry.register("h", { payload, conditionField: "servers" as "tools" }),
    /Hook 'h': 'conditionField' must be one of tools, prompts, resources, agents/,
  );
  assert.throws(
    () => registry.register("h", { payload, matchField: "id" }),
    /'matchField' requires 'conditionField'/,
  );
  assert.equal(registry.isRegistered("h"), false);
});

Deno.test("re-registering a hook overwrites it silently and keeps its position", () => {
  const registry = new HookRegistry();
  registry.register("a", { payload: z.object({ x: z.string() }) });
  registry.register("b", { payload: z.object({}) });
  const replacement = z.object({ y: z.number() });
  registry.register("a", { payload: replacement });
  assert.deepEqual(registry.names(), ["a", "b"]);
  assert.equal(registry.getPayloadSchema("a"), replacement);
  assert.deepEqual(registry.parsePayload("a", { y: 1 }), { y: 1 });
});

Deno.test("unregister removes a hook", () => {
  const registry = emailRegistry();
  assert.equal(registry.unregister("email_pre_send"), true);
  assert.equal(registry.unregister("email_pre_send"), false);
  assert.equal(registry.isRegistered("email_pre_send"), false);
});

Deno.test("names returns a copy", () => {
  const registry = emailRegistry();
  registry.names().push("mutated");
  assert.deepEqual(registry.names(), ["email_pre_send"]);
});

Deno.test("registering the built-ins is idempotent and keeps earlier registrations", () => {
  const registry = new HookRegistry();
  const custom = z.object({ name: z.string(), extra: z.string() });
  registry.register("tool_pre_invoke", { payload: custom });
  registerBuiltinHooks(registry);
  registerBuiltinHooks(registry);
  assert.equal(registry.names().length, 12);
  assert.equal(registry.getPayloadSchema("tool_pre_invoke"), custom);
  assert.equal(registry.getPayloadSchema("tool_post_invoke") !== null, true);
});

Deno.test("parsePayload converts a plain object", () => {
  assert.deepEqual(
    hookRegistry.parsePayload("prompt_pre_fetch", { prompt_id: "p1", args: { user: "a" } }),
    { prompt_id: "p1", args: { user: "a" } },
  );
});

Deno.test("parsePayload converts a JSON string", () => {
  assert.deepEqual(
    hookRegistry.parsePayload("prompt_pre_fetch", '{"prompt_id":"p1","args":{"user":"a"}}'),
    { prompt_id: "p1", args: { user: "a" } },
  );
});

Deno.test("parsePayload drops unknown fields", () => {
  assert.deepEqual(
    hookRegistry.parsePayload("resource_pre_fetch", { uri: "file:///x", secret: "s" }),
    { uri: "file:///x", metadata: {} },
  );
});

Deno.test("a custom hook registered with its schema is parsed with it", () => {
  const registry = emailRegistry();
  assert.deepEqual(
    registry.parsePayload("email_pre_send", '{"recipient":"a@example.com","bcc":"x"}'),
    { recipient: "a@example.com", subject: "" },
  );
  assert.deepEqual(
    registry.parseResult("email_pre_send", {
      modified_payload: { recipient: "invalid-email@example.com" },
      metadata: { fixed_email: true },
    }).modified_payload,
    { recipient: "invalid-email@example.com", subject: "" },
  );
});

Deno.test("parsePayload for an unregistered hook throws an error naming the hook", () => {
  assert.throws(
    () => hookRegistry.parsePayload("email_unknown", {}),
    (err: unknown) => {
      assert.ok(err instanceof UnknownHookError);
      assert.equal(err.message, "No payload type registered for hook: email_unknown");
      assert.equal(err.hook, "email_unknown");
      assert.equal(err.kind, "payload");
      return true;
    },
  );
});

Deno.test("parseResult for an unregistered hook throws an error naming the hook", () => {
  assert.throws(
    () => hookRegistry.parseResult("email_unknown", "{}"),
    (err: unknown) =>
      err instanceof UnknownHookError &&
      err.message === "No result type registered for hook: email_unknown" &&
      err.kind === "result",
  );
});

Deno.test("invalid payload errors name the hook and every field path", () => {
  assert.throws(
    () =>
      hookRegistry.parsePayload("agent_pre_invoke", {
        agent_id: 7,
        messages: [],
        tools: ["ok", 3],
      }),
    (err: unknown) => {
      assert.ok(err instanceof HookValidationError);
      assert.equal(err.hook, "agent_pre_invoke");
      assert.equal(err.kind, "payload");
      assert.deepEqual(err.issues.map((i) => i.path), ["agent_id", "tools[1]"]);
      assert.match(err.message, /^Invalid payload for hook 'agent_pre_invoke': agent_id: /);
      assert.match(err.message, /tools\[1\]: .*expected string/);
      return true;
    },
  );
});

Deno.test("invalid nested values are reported with a dotted path", () => {
  assert.throws(
    () => hookRegistry.parsePayload("prompt_pre_fetch", { prompt_id: "p", args: { n: 1 } }),
    (err: unknown) =>
      err instanceof HookValidationError && err.issues.length === 1 &&
      err.issues[0].path === "args.n",
  );
});

Deno.test("malformed JSON is reported as a validation error of the hook", () => {
  assert.throws(
    () => hookRegistry.parsePayload("tool_pre_invoke", "{not json"),
    (err: unknown) =>
      err instanceof HookValidationError && err.issues[0].path === "" &&
      /^Invalid payload for hook 'tool_pre_invoke': \(root\): Invalid JSON: /.test(err.message),
  );
});

Deno.test("a JSON value that is not an object is rejected", () => {
  assert.throws(
    () => hookRegistry.parsePayload("tool_pre_invoke", "[1, 2]"),
    (err: unknown) => err instanceof HookValidationError && err.issues[0].path === "",
  );
});

Deno.test("parseResult converts an object and fills the result defaults", () => {
  const r = hookRegistry.parseResult("prompt_pre_fetch", {
    modified_payload: { prompt_id: "p", args: { a: "b" } },
  });
  assert.equal(r.continue_processing, true);
  assert.deepEqual(r.modified_payload, { prompt_id: "p", args: { a: "b" } });
  assert.deepEqual(r.metadata, {});
  assert.equal(r.retry_delay_ms, 0);
});

Deno.test("parseResult converts a JSON string", () => {
  const r = hookRegistry.parseResult(
    "prompt_pre_fetch",
    JSON.stringify({
      continue_processing: false,
      violation: { reason: "Prompt not allowed", description: "denied", code: "deny" },
      metadata: null,
    }),
  );
  assert.equal(r.continue_processing, false);
  assert.equal(r.violation?.code, "deny");
  assert.equal(r.metadata, null);
});

Deno.test("parseResult validates a cross-type modified payload against the result schema", () => {
  const headers = hookRegistry.parseResult("http_pre_request", {
    modified_payload: { "x-tenant": "acme" },
  });
  assert.deepEqual(headers.modified_payload, { "x-tenant": "acme" });
  const decision = hookRegistry.parseResult("http_auth_check_permission", {
    continue_processing: false,
    modified_payload: { granted: true },
  });
  assert.deepEqual(decision.modified_payload, { granted: true, reason: null });
  assert.throws(
    () =>
      hookRegistry.parseResult("http_pre_request", {
        modified_payload: { path: "/", method: "GET", headers: {} },
      }),
    (err: unknown) =>
      err instanceof HookValidationError && err.kind === "result" &&
      err.issues[0].path === "modified_payload.headers",
  );
});

Deno.test("parseResult reports an invalid modified payload with its path", () => {
  assert.throws(
    () => hookRegistry.parseResult("tool_pre_invoke", { modified_payload: { args: {} } }),
    (err: unknown) =>
      err instanceof HookValidationError &&
      /^Invalid result for hook 'tool_pre_invoke': modified_payload\.name: /.test(err.message),
  );
});

Deno.test("the result schema of a hook is built once", () => {
  assert.equal(
    hookRegistry.getResultSchema("tool_post_invoke"),
    hookRegistry.getResultSchema("tool_post_invoke"),
  );
});

Deno.test("HookRegistry.withBuiltins gives a new registry with the built-ins, apart from the default", () => {
  const registry = HookRegistry.withBuiltins();
  assert.deepEqual(registry.names(), hookRegistry.names().slice(0, 12));
  assert.notEqual(registry, hookRegistry);
  registry.register("only_here", { payload: z.object({}) });
  assert.equal(hookRegistry.isRegistered("only_here"), false);
  assert.equal(HookRegistry.withBuiltins().isRegistered("only_here"), false);
});
