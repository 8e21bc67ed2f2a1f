/**
 * Compile-time typing of `PluginManager.invokeHook`: built-in hooks check their payload type
 * and type their result's `modified_payload`; any other hook name accepts `unknown`; custom hooks
 * become typed through declaration merging of `HookPayloads`. Each `@ts-expect-error` below is
 * part of the test: if the line stopped being a type error, type-checking this file would fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type GlobalContext,
  type HookResult,
  type HttpHeaderPayload,
  PluginManager,
  type ToolPreInvokePayload,
} from "../mod.ts";

interface TypingProbePayload {
  probe_id: string;
  level: number;
}

declare module "../src/hooks/map.ts" {
  interface HookPayloads {
    /** A hook name used only by this test file. */
    typing_probe_hook: TypingProbePayload;
  }
}

const ctx: GlobalContext = { request_id: "types" };

/** Calls that must not type-check; never executed. */
function illTyped(manager: PluginManager): void {
  // @ts-expect-error tool_pre_invoke needs a string `name`.
  manager.invokeHook("tool_pre_invoke", { wrong: true }, ctx);
  // @ts-expect-error `name` must be a string.
  manager.invokeHook("tool_pre_invoke", { name: 42 }, ctx);
  // @ts-expect-error prompt arguments are strings.
  manager.invokeHook("prompt_pre_fetch", { prompt_id: "p", args: { n: 1 } }, ctx);
  // @ts-expect-error resource_pre_fetch needs `uri`.
  manager.invokeHook("resource_pre_fetch", { url: "x" }, ctx);
  // @ts-expect-error the augmented custom hook is typed too.
  manager.invokeHook("typing_probe_hook", { probe_id: "p", level: "high" }, ctx);
  // @ts-expect-error the global context needs a request_id.
  manager.invokeHook("tool_pre_invoke", { name: "t" }, {});
}

Deno.test("invokeHook rejects wrong payloads for built-in hooks at compile time", () => {
  // The proof is the @ts-expect-error lines in illTyped(), checked when this file is compiled.
  assert.equal(typeof illTyped, "function");
});

Deno.test("invokeHook accepts any payload for a hook name it does not know", async () => {
  const manager = new PluginManager();
  await manager.initialize();
  try {
    const payloads: unknown[] = [42, "text", null, { anything: [1, 2] }];
    for (const payload of payloads) {
      const [result] = await manager.invokeHook("my_custom_hook", payload, ctx);
      const modified: unknown = result.modified_payload;
      assert.equal(modified, null);
    }
    const dynamicName: string = "tool_pre_invoke";
    const [result] = await manager.invokeHook(dynamicName, { whatever: true }, ctx);
    assert.equal(result.continue_processing, true);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("invokeHook types modified_payload by the hook (cross-type for http hooks)", async () => {
  const manager = new PluginManager();
  await manager.initialize();
  try {
    const [tool] = await manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, ctx);
    const typed: HookResult<ToolPreInvokePayload> = tool;
    const name: string | undefined = tool.modified_payload?.name;
    // @ts-expect-error no such field on ToolPreInvokePayload.
    tool.modified_payload?.nope;
    const [http] = await manager.invokeHook(
      "http_pre_request",
      { path: "/", method: "GET", headers: {} },
      ctx,
    );
    const headers: HttpHeaderPayload | null = http.modified_payload;
    const [probe] = await manager.invokeHook("typing_probe_hook", { probe_id: "p", level: 1 }, ctx);
    const level: number | undefined = probe.modified_payload?.level;
    assert.equal(typed.continue_processing, true);
    assert.equal(name, undefined);
    assert.equal(headers, null);
    assert.equal(level, undefined);
  } finally {
    await manager.shutdown();
  }
});
