/**
 * Unit-test a plugin without writing a config file: {@linkcode testPlugin} runs one hook of one
 * plugin through a real `PluginManager` and returns the result, the plugin's execution record
 * and the contexts; {@linkcode PluginHarness} keeps one plugin in one manager across several
 * hooks (pre, then post); {@linkcode testContext} builds a request context.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Plugin, type ToolPreInvokePayload } from "@cpex/core";
 * import { testPlugin } from "@cpex/core/testing";
 *
 * class Redact extends Plugin {
 *   tool_pre_invoke(payload: ToolPreInvokePayload) {
 *     const query = String(payload.args?.query ?? "");
 *     if (!query.includes("secret")) return {};
 *     return { modified_payload: { ...payload, args: { query: "[redacted]" } } };
 *   }
 * }
 *
 * Deno.test("secrets are redacted", async () => {
 *   const plugin = new Redact({ name: "redact", kind: "inline", hooks: ["tool_pre_invoke"] });
 *   const { result, record } = await testPlugin(plugin, "tool_pre_invoke", {
 *     name: "search",
 *     args: { query: "the secret plan" },
 *   });
 *   assert.deepEqual(result.modified_payload?.args, { query: "[redacted]" });
 *   assert.equal(record?.payload_modified, true);
 * });
 * ```
 *
 * @module
 */
export {
  PluginHarness,
  type PluginTestRun,
  testContext,
  testPlugin,
  type TestPluginOptions,
} from "./src/testing/test_plugin.ts";
export {
  formatReplayReport,
  type LatencySummary,
  parseRecording,
  replayCalls,
  type ReplayDiffKind,
  type ReplayExample,
  type ReplayGroup,
  type ReplayOptions,
  type ReplayReport,
} from "./src/replay/replay.ts";
