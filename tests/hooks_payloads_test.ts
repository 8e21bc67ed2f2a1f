/**
 * Built-in hook names and payload schemas (spec §3.1–3.2, upstream hooks/test_http.py and
 * hooks/test_hook_registry.py).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  AgentHookType,
  AgentPostInvokePayloadSchema,
  AgentPreInvokePayloadSchema,
  HttpAuthCheckPermissionPayloadSchema,
  HttpAuthCheckPermissionResultPayloadSchema,
  HttpAuthResolveUserPayloadSchema,
  HttpAuthResolveUserResultPayloadSchema,
  HttpHeaderPayloadSchema,
  HttpHookType,
  HttpPostRequestPayloadSchema,
  HttpPreRequestPayloadSchema,
  pluginResultSchema,
  PluginViolationSchema,
  PromptHookType,
  PromptPosthookPayloadSchema,
  PromptPrehookPayloadSchema,
  ResourceHookType,
  ResourcePostFetchPayloadSchema,
  ResourcePreFetchPayloadSchema,
  type Schema,
  ToolHookType,
  ToolPostInvokePayloadSchema,
  ToolPreInvokePayloadSchema,
} from "../src/hooks/mod.ts";

/** Paths of the issues a schema reports for `input` (empty when it is valid). */
function issuePaths(schema: Schema<unknown>, input: unknown): string[] {
  const parsed = schema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join("."));
}

Deno.test("hook type constants have the wire names", () => {
  assert.deepEqual(Object.values(ToolHookType), ["tool_pre_invoke", "tool_post_invoke"]);
  assert.deepEqual(Object.values(PromptHookType), ["prompt_pre_fetch", "prompt_post_fetch"]);
  assert.deepEqual(Object.values(ResourceHookType), [
    "resource_pre_fetch",
    "resource_post_fetch",
  ]);
  assert.deepEqual(Object.values(AgentHookType), ["agent_pre_invoke", "agent_post_invoke"]);
  assert.equal(ToolHookType.TOOL_PRE_INVOKE, "tool_pre_invoke");
});

Deno.test("HttpHookType has exactly the four HTTP hooks", () => {
  assert.deepEqual(Object.values(HttpHookType), [
    "http_pre_request",
    "http_post_request",
    "http_auth_resolve_user",
    "http_auth_check_permission",
  ]);
  assert.equal(HttpHookType.HTTP_AUTH_RESOLVE_USER, "http_auth_resolve_user");
});

Deno.test("tool_pre_invoke fills args with {} and headers with null", () => {
  assert.deepEqual(ToolPreInvokePayloadSchema.parse({ name: "search" }), {
    name: "search",
    args: {},
    headers: null,
  });
});

Deno.test("tool_pre_invoke accepts null args and keeps nested argument values", () => {
  assert.equal(ToolPreInvokePayloadSchema.parse({ name: "t", args: null }).args, null);
  const args = { q: "deno", opts: { limit: 3, tags: ["a"] } };
  assert.deepEqual(ToolPreInvokePayloadSchema.parse({ name: "t", args }).args, args);
});

Deno.test("tool_pre_invoke requires a string name", () => {
  assert.deepEqual(issuePaths(ToolPreInvokePayloadSchema, { args: {} }), ["name"]);
  assert.deepEqual(issuePaths(ToolPreInvokePayloadSchema, { name: 1 }), ["name"]);
});

Deno.test("default containers are fresh objects on every parse", () => {
  const a = ToolPreInvokePayloadSchema.parse({ name: "a" });
  const b = ToolPreInvokePayloadSchema.parse({ name: "b" });
  assert.notEqual(a.args, b.args);
});

Deno.test("tool_post_invoke requires the result key but accepts null", () => {
  assert.deepEqual(ToolPostInvokePayloadSchema.parse({ name: "t", result: null }), {
    name: "t",
    result: null,
  });
  assert.deepEqual(issuePaths(ToolPostInvokePayloadSchema, { name: "t" }), ["result"]);
});

Deno.test("unknown payload fields are dropped", () => {
  assert.deepEqual(PromptPrehookPayloadSchema.parse({ prompt_id: "123", name: "test" }), {
    prompt_id: "123",
    args: {},
  });
  const tool = ToolPostInvokePayloadSchema.parse({ name: "t", result: 1, extra: true });
  assert.equal("extra" in tool, false);
});

Deno.test("prompt_pre_fetch rejects non-string argument values", () => {
  assert.deepEqual(
    issuePaths(PromptPrehookPayloadSchema, { prompt_id: "p", args: { user: "a", n: 1 } }),
    ["args.n"],
  );
  assert.equal(PromptPrehookPayloadSchema.parse({ prompt_id: "p", args: null }).args, null);
});

Deno.test("prompt_post_fetch keeps the result as given", () => {
  const result = { messages: [{ role: "user", content: { type: "text", text: "hi" } }] };
  assert.deepEqual(PromptPosthookPayloadSchema.parse({ prompt_id: "p", result }).result, result);
  assert.deepEqual(issuePaths(PromptPosthookPayloadSchema, { prompt_id: "p" }), ["result"]);
});

Deno.test("resource_pre_fetch defaults metadata to {}", () => {
  assert.deepEqual(ResourcePreFetchPayloadSchema.parse({ uri: "file:///x" }), {
    uri: "file:///x",
    metadata: {},
  });
  assert.deepEqual(issuePaths(ResourcePreFetchPayloadSchema, { metadata: {} }), ["uri"]);
});

Deno.test("resource_post_fetch requires content", () => {
  assert.deepEqual(issuePaths(ResourcePostFetchPayloadSchema, { uri: "file:///x" }), ["content"]);
  assert.equal(
    ResourcePostFetchPayloadSchema.parse({ uri: "file:///x", content: "hello" }).content,
    "hello",
  );
});

Deno.test("agent_pre_invoke requires messages and fills the optional fields", () => {
  assert.deepEqual(AgentPreInvokePayloadSchema.parse({ agent_id: "a", messages: [] }), {
    agent_id: "a",
    messages: [],
    tools: null,
    headers: null,
    model: null,
    system_prompt: null,
    parameters: {},
  });
  assert.deepEqual(issuePaths(AgentPreInvokePayloadSchema, { agent_id: "a" }), ["messages"]);
});

Deno.test("agent_pre_invoke tools must be strings", () => {
  assert.deepEqual(
    issuePaths(AgentPreInvokePayloadSchema, { agent_id: "a", messages: [], tools: ["x", 2] }),
    ["tools.1"],
  );
});

Deno.test("agent_post_invoke tool_calls default to null and must be objects", () => {
  assert.equal(
    AgentPostInvokePayloadSchema.parse({ agent_id: "a", messages: [{ role: "assistant" }] })
      .tool_calls,
    null,
  );
  assert.deepEqual(
    issuePaths(AgentPostInvokePayloadSchema, { agent_id: "a", messages: [], tool_calls: ["x"] }),
    ["tool_calls.0"],
  );
});

Deno.test("http header payloads hold string values only", () => {
  const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h${i}`, `v${i}`]));
  assert.equal(Object.keys(HttpHeaderPayloadSchema.parse(many)).length, 100);
  assert.deepEqual(HttpHeaderPayloadSchema.parse({}), {});
  assert.deepEqual(issuePaths(HttpHeaderPayloadSchema, { "x-n": 1 }), ["x-n"]);
});

Deno.test("http_pre_request requires headers and defaults the client address to null", () => {
  const p = HttpPreRequestPayloadSchema.parse({ path: "/api", method: "GET", headers: {} });
  assert.deepEqual(p, {
    path: "/api",
    method: "GET",
    client_host: null,
    client_port: null,
    headers: {},
  });
  assert.deepEqual(issuePaths(HttpPreRequestPayloadSchema, { path: "/", method: "GET" }), [
    "headers",
  ]);
});

Deno.test("http_pre_request accepts any method, an empty path and an IPv6 host", () => {
  const p = HttpPreRequestPayloadSchema.parse({
    path: "",
    method: "PROPFIND",
    client_host: "2001:db8::1",
    client_port: 8443,
    headers: { host: "example.com" },
  });
  assert.equal(p.path, "");
  assert.equal(p.method, "PROPFIND");
  assert.equal(p.client_host, "2001:db8::1");
});

Deno.test("http client_port must be an integer", () => {
  const base = { path: "/", method: "GET", headers: {} };
  assert.deepEqual(issuePaths(HttpPreRequestPayloadSchema, { ...base, client_port: 1.5 }), [
    "client_port",
  ]);
  assert.deepEqual(issuePaths(HttpPreRequestPayloadSchema, { ...base, client_port: "80" }), [
    "client_port",
  ]);
});

Deno.test("http_post_request adds response headers and status code, both null by default", () => {
  const base = { path: "/", method: "POST", headers: {} };
  const p = HttpPostRequestPayloadSchema.parse(base);
  assert.equal(p.response_headers, null);
  assert.equal(p.status_code, null);
  assert.equal(p.client_host, null);
  const q = HttpPostRequestPayloadSchema.parse({
    ...base,
    response_headers: { "x-id": "1" },
    status_code: 503,
  });
  assert.deepEqual([q.response_headers, q.status_code], [{ "x-id": "1" }, 503]);
});

Deno.test("http_auth_resolve_user defaults credentials to null and requires headers", () => {
  const p = HttpAuthResolveUserPayloadSchema.parse({ headers: { "x-ldap-token": "t" } });
  assert.deepEqual(p, {
    credentials: null,
    headers: { "x-ldap-token": "t" },
    client_host: null,
    client_port: null,
  });
  assert.deepEqual(issuePaths(HttpAuthResolveUserPayloadSchema, { credentials: {} }), [
    "headers",
  ]);
});

Deno.test("http_auth_check_permission requires user and permission, is_admin false", () => {
  const p = HttpAuthCheckPermissionPayloadSchema.parse({ user_email: "a@b.c", permission: "x" });
  assert.deepEqual(p, {
    user_email: "a@b.c",
    permission: "x",
    resource_type: null,
    team_id: null,
    is_admin: false,
    auth_method: null,
    client_host: null,
    user_agent: null,
  });
  assert.deepEqual(issuePaths(HttpAuthCheckPermissionPayloadSchema, {}), [
    "user_email",
    "permission",
  ]);
});

Deno.test("the permission decision requires granted and defaults reason to null", () => {
  assert.deepEqual(HttpAuthCheckPermissionResultPayloadSchema.parse({ granted: false }), {
    granted: false,
    reason: null,
  });
  assert.deepEqual(issuePaths(HttpAuthCheckPermissionResultPayloadSchema, { reason: "x" }), [
    "granted",
  ]);
});

Deno.test("the resolved user is any object", () => {
  const user = { email: "a@b.c", is_admin: true, teams: ["t"] };
  assert.deepEqual(HttpAuthResolveUserResultPayloadSchema.parse(user), user);
  assert.deepEqual(issuePaths(HttpAuthResolveUserResultPayloadSchema, "alice"), [""]);
});

Deno.test("a parsed plugin result gets the reference defaults", () => {
  const schema = pluginResultSchema(ToolPreInvokePayloadSchema);
  assert.deepEqual(schema.parse({}), {
    continue_processing: true,
    modified_payload: null,
    modified_extensions: null,
    violation: null,
    metadata: {},
    http_headers: null,
    retry_delay_ms: 0,
  });
});

Deno.test("a parsed plugin result validates modified_payload against the payload schema", () => {
  const schema = pluginResultSchema(ToolPreInvokePayloadSchema);
  assert.deepEqual(schema.parse({ modified_payload: { name: "t" } }).modified_payload, {
    name: "t",
    args: {},
    headers: null,
  });
  assert.deepEqual(issuePaths(schema, { modified_payload: { args: {} } }), [
    "modified_payload.name",
  ]);
});

Deno.test("a parsed violation drops plugin_name and a parsed result drops executions", () => {
  const schema = pluginResultSchema(ToolPreInvokePayloadSchema);
  const r = schema.parse({
    continue_processing: false,
    violation: { reason: "r", description: "d", code: "deny", plugin_name: "spoofed" },
    executions: [{ plugin_name: "x" }],
  });
  assert.deepEqual(r.violation, {
    reason: "r",
    description: "d",
    code: "deny",
    details: {},
    mcp_error_code: null,
    http_status_code: null,
    http_headers: null,
  });
  assert.equal("executions" in r, false);
  assert.deepEqual(issuePaths(PluginViolationSchema, { reason: "r" }), ["description", "code"]);
});
