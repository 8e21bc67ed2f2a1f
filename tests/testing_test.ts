/**
 * `@cpex/core/testing`: `testPlugin` runs one hook of one plugin through a real manager (mode,
 * on_error, conditions, result checks apply), returns its record and contexts, and always shuts
 * the plugin down; `testContext` fills in a request id.
 *
 * @module
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  HookRegistry,
  Plugin,
  type PluginContext,
  PluginError,
  type PluginResult,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
} from "../mod.ts";
import { PluginHarness, testContext, testPlugin } from "../testing.ts";

class Redact extends Plugin {
  shutdowns = 0;
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    context.state.seen = true;
    context.global_context.state = { ...context.global_context.state, redacted: true };
    const query = String(payload.args?.query ?? "");
    if (!query.includes("secret")) return {};
    return { modified_payload: { ...payload, args: { query: "[redacted]" } } };
  }
  tool_post_invoke(_payload: ToolPostInvokePayload, context: PluginContext): PluginResult {
    return { metadata: { seen_in_pre: context.state.seen === true } };
  }
  override shutdown(): Promise<void> {
    this.shutdowns++;
    return Promise.resolve();
  }
}

const redact = () =>
  new Redact({
    name: "redact",
    kind: "inline",
    hooks: ["tool_pre_invoke", "tool_post_invoke"],
    mode: "transform",
  });

Deno.test("testPlugin returns the result, the plugin's record and the contexts", async () => {
  const plugin = redact();
  const run = await testPlugin(plugin, "tool_pre_invoke", {
    name: "search",
    args: { query: "the secret plan" },
  }, { context: { user: "alice" } });
  assert.deepEqual(run.result.modified_payload?.args, { query: "[redacted]" });
  assert.equal(run.record?.plugin_name, "redact");
  assert.equal(run.record?.payload_modified, true);
  assert.equal(run.context.request_id, "test-request");
  assert.equal(run.context.user, "alice");
  assert.notEqual(run.contexts, null);
  assert.equal(plugin.shutdowns, 1, "the plugin is shut down after the run");
});

Deno.test("a PluginHarness carries a pre hook's contexts and state to the post hook", async () => {
  const plugin = redact();
  {
    await using harness = await PluginHarness.start(plugin);
    const pre = await harness.run("tool_pre_invoke", { name: "t", args: {} });
    assert.deepEqual(pre.context.state, { redacted: true });
    const post = await harness.run("tool_post_invoke", { name: "t", result: 1 }, {
      context: pre.context,
      localContexts: pre.contexts,
    });
    assert.deepEqual(post.result.metadata, { seen_in_pre: true });
    const fresh = await harness.run("tool_post_invoke", { name: "t", result: 1 });
    assert.deepEqual(fresh.result.metadata, { seen_in_pre: false });
    assert.equal(plugin.shutdowns, 0);
  }
  assert.equal(plugin.shutdowns, 1, "await using closes the harness");
});

Deno.test("testPlugin applies the plugin's conditions: no record when they do not match", async () => {
  const plugin = new Redact({
    name: "only-search",
    kind: "inline",
    hooks: ["tool_pre_invoke"],
    conditions: [{ tools: ["search"] }],
  });
  const run = await testPlugin(plugin, "tool_pre_invoke", { name: "other", args: {} });
  assert.equal(run.record, null);
  assert.equal(run.result.continue_processing, true);
});

Deno.test("testPlugin rejects like a gateway when the plugin fails with on_error: fail", async () => {
  class Broken extends Plugin {
    tool_pre_invoke(): PluginResult {
      throw new Error("boom");
    }
  }
  const plugin = new Broken({ name: "broken", kind: "inline", hooks: ["tool_pre_invoke"] });
  await assert.rejects(
    testPlugin(plugin, "tool_pre_invoke", { name: "t", args: {} }),
    (error: unknown) => error instanceof PluginError && /boom/.test(error.message),
  );
});

Deno.test("testPlugin uses the manager options it is given (a custom hook registry)", async () => {
  const hooks = HookRegistry.withBuiltins();
  hooks.register("email_pre_send", { payload: z.object({ recipient: z.string() }) });
  class Mail extends Plugin {
    email_pre_send(payload: { recipient: string }): PluginResult {
      return { modified_payload: { recipient: payload.recipient.toLowerCase() } };
    }
  }
  const plugin = new Mail({ name: "mail", kind: "inline", hooks: ["email_pre_send"] });
  const run = await testPlugin(plugin, "email_pre_send", { recipient: "ANA@X.EXAMPLE" }, {
    manager: { hookRegistry: hooks },
  });
  assert.deepEqual(run.result.modified_payload, { recipient: "ana@x.example" });
  // The registry's schema checks what the plugin returns.
  class Bad extends Plugin {
    email_pre_send(): PluginResult {
      return { modified_payload: { recipient: 42 } };
    }
  }
  const bad = new Bad({ name: "bad", kind: "inline", hooks: ["email_pre_send"] });
  await assert.rejects(
    testPlugin(bad, "email_pre_send", { recipient: "a" }, { manager: { hookRegistry: hooks } }),
    /recipient/,
  );
});

Deno.test("testContext fills in a request id and keeps the given fields", () => {
  assert.deepEqual(testContext(), { request_id: "test-request" });
  assert.deepEqual(testContext({ request_id: "r9", tenant_id: "acme" }), {
    request_id: "r9",
    tenant_id: "acme",
  });
});
