/**
 * Compile-time tests of the hook -> payload map. Each `@ts-expect-error` line must fail type
 * checking (otherwise `deno test` reports "Unused '@ts-expect-error' directive"); the runtime
 * assertions only keep the values used.
 *
 * @module
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  HookRegistry,
  hookRegistry,
  type HookResultPayloads,
  type PayloadOf,
  type ResultPayloadOf,
  type ToolPreInvokePayload,
} from "../src/hooks/mod.ts";

// Declaration merging for a custom hook. The name is unique to this file because an
// augmentation is visible to every module type-checked in the same run.
interface AuditEventPayload {
  event: string;
  severity: number;
}
declare module "../src/hooks/map.ts" {
  interface HookPayloads {
    types_test_audit_event: AuditEventPayload;
  }
}

Deno.test("PayloadOf rejects a wrong payload for a built-in hook at compile time", () => {
  const ok: PayloadOf<"tool_pre_invoke"> = { name: "search", args: { q: "deno" } };
  // @ts-expect-error `name` is required
  const missingName: PayloadOf<"tool_pre_invoke"> = { args: {} };
  // @ts-expect-error `name` must be a string
  const wrongName: PayloadOf<"tool_pre_invoke"> = { name: 42 };
  // @ts-expect-error unknown fields are not part of the type
  const extra: PayloadOf<"tool_pre_invoke"> = { name: "search", bogus: true };
  // @ts-expect-error `args` must be an object
  const wrongArgs: PayloadOf<"tool_pre_invoke"> = { name: "search", args: "q=deno" };
  const same: ToolPreInvokePayload = ok;
  assert.equal(same.name, "search");
  assert.ok([missingName, wrongName, extra, wrongArgs].length === 4);
});

Deno.test("PayloadOf types the other built-in payloads by hook name", () => {
  // @ts-expect-error prompt arguments must be strings
  const prompt: PayloadOf<"prompt_pre_fetch"> = { prompt_id: "p", args: { n: 1 } };
  // @ts-expect-error tool_post_invoke requires the `result` key
  const post: PayloadOf<"tool_post_invoke"> = { name: "search" };
  const postNull: PayloadOf<"tool_post_invoke"> = { name: "search", result: null };
  // @ts-expect-error http_pre_request requires headers
  const http: PayloadOf<"http_pre_request"> = { path: "/", method: "GET" };
  assert.ok([prompt, post, postNull, http].length === 4);
});

Deno.test("ResultPayloadOf gives the cross-type result of the HTTP hooks", () => {
  const headers: ResultPayloadOf<"http_pre_request"> = { "x-tenant": "acme" };
  // @ts-expect-error header values must be strings
  const badHeaders: ResultPayloadOf<"http_post_request"> = { "x-count": 1 };
  const decision: HookResultPayloads["http_auth_check_permission"] = { granted: true };
  // @ts-expect-error `granted` is required
  const badDecision: ResultPayloadOf<"http_auth_check_permission"> = { reason: "x" };
  const same: ResultPayloadOf<"tool_pre_invoke"> = { name: "t" };
  assert.ok([headers, badHeaders, decision, badDecision, same].length === 5);
});

Deno.test("PayloadOf is unknown for a hook not in the map", () => {
  const anything: PayloadOf<"some_custom_hook"> = 42;
  const alsoAnything: ResultPayloadOf<"some_custom_hook"> = "x";
  assert.equal(anything, 42);
  assert.equal(alsoAnything, "x");
});

Deno.test("declaration merging types a custom hook", () => {
  const ok: PayloadOf<"types_test_audit_event"> = { event: "login", severity: 3 };
  // @ts-expect-error severity must be a number
  const bad: PayloadOf<"types_test_audit_event"> = { event: "login", severity: "high" };
  // A hook augmented only in HookPayloads returns its payload type.
  const result: ResultPayloadOf<"types_test_audit_event"> = ok;
  assert.ok([bad, result].length === 2);
});

Deno.test("parsePayload returns the payload type of the hook it is given", () => {
  const payload = hookRegistry.parsePayload("tool_pre_invoke", { name: "search" });
  const name: string = payload.name;
  // @ts-expect-error no such field on ToolPreInvokePayload
  payload.prompt_id;
  const registry = new HookRegistry();
  registry.register("types_test_audit_event", {
    payload: z.object({ event: z.string(), severity: z.number() }),
  });
  const event = registry.parsePayload("types_test_audit_event", '{"event":"x","severity":1}');
  const severity: number = event.severity;
  const result = hookRegistry.parseResult("http_auth_check_permission", {
    modified_payload: { granted: true },
  });
  const granted: boolean | undefined = result.modified_payload?.granted;
  assert.deepEqual([name, severity, granted], ["search", 1, true]);
});
