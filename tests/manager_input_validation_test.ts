/**
 * Junk payloads get the same answer in-process as over the wire (issue 12): `invokeHook`
 * validates the payload of a registered hook once, before any plugin runs, and rejects what the
 * wire transports reject (their servers decode with `hookRegistry.parsePayload`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { HookRegistry, hookRegistry, HookValidationError } from "../mod.ts";
import { emailRegistry } from "./helpers/email_hooks.ts";
import { gctx, ScriptedPlugin, withManager } from "./helpers/plugins.ts";

const JUNK: Array<[string, unknown]> = [
  ["a string as the whole payload", "rm -rf /"],
  ["args as a string", { name: "shell", args: "rm -rf /" }],
  ["a numeric tool name", { name: 42, args: {} }],
  ["null", null],
];

/** What the wire servers answer for the same payload (they decode with the registry). */
function wireError(hook: string, payload: unknown): HookValidationError {
  try {
    // The wire carries JSON: a string payload arrives as a JSON string.
    hookRegistry.parsePayload(hook, JSON.stringify(payload));
  } catch (error) {
    assert.ok(error instanceof HookValidationError);
    return error;
  }
  throw new Error(`the wire would accept ${JSON.stringify(payload)}`);
}

for (const [label, payload] of JUNK) {
  Deno.test(`invokeHook rejects ${label} with HookValidationError before any plugin runs`, async () => {
    const plugin = new ScriptedPlugin({ name: "allow", hooks: ["tool_pre_invoke"] });
    await withManager([plugin], {}, async (manager) => {
      const error = await manager.invokeHook("tool_pre_invoke", payload as never, gctx()).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(error instanceof HookValidationError, String(error));
      assert.equal(error.hook, "tool_pre_invoke");
      assert.equal(error.kind, "payload");
      assert.deepEqual(error.issues, wireError("tool_pre_invoke", payload).issues);
      assert.equal(plugin.callCount, 0);
    });
  });
}

Deno.test("a valid payload reaches the plugin as given (not the schema's copy)", async () => {
  const plugin = new ScriptedPlugin({ name: "allow", hooks: ["tool_pre_invoke"] });
  await withManager([plugin], {}, async (manager) => {
    const payload = { name: "search", args: { q: "x" } };
    const [result] = await manager.invokeHook("tool_pre_invoke", payload, gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(plugin.calls[0].payload, payload);
  });
});

Deno.test("a custom hook is validated with the manager's own registry", async () => {
  const plugin = new ScriptedPlugin({ name: "mail", hooks: ["email_pre_send"] });
  await withManager([plugin], { hookRegistry: emailRegistry() }, async (manager) => {
    await assert.rejects(
      manager.invokeHook("email_pre_send", { recipient: 7 } as never, gctx()),
      (e: unknown) => e instanceof HookValidationError && /recipient/.test(e.message),
    );
    assert.equal(plugin.callCount, 0);
    await manager.invokeHook("email_pre_send", { recipient: "a@b.example" } as never, gctx());
    assert.equal(plugin.callCount, 1);
  });
});

Deno.test("an unregistered hook's payload is not validated", async () => {
  const plugin = new ScriptedPlugin({ name: "any", hooks: ["my_hook"] });
  await withManager([plugin], { hookRegistry: new HookRegistry() }, async (manager) => {
    const [result] = await manager.invokeHook("my_hook", "anything" as never, gctx());
    assert.equal(result.continue_processing, true);
    assert.equal(plugin.callCount, 1);
  });
});
