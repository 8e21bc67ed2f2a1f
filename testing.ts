/**
 * Unit-test a plugin without writing a config file: {@linkcode testPlugin} runs one hook of one
 * plugin through a real `PluginManager` and returns the result, the plugin's execution record
 * and the contexts; {@linkcode PluginHarness} keeps one plugin in one manager across several
 * hooks (pre, then post); {@linkcode testContext} builds a request context.
 * {@linkcode runConformance} checks any CPEX plugin server's wire contract (what
 * `cpex conformance` runs), against the {@linkcode ConformanceProbe} where the server hosts it.
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
export {
  type ConformanceCheckResult,
  type ConformanceOptions,
  type ConformanceReport,
  formatConformanceReport,
  runConformance,
} from "./src/testing/conformance.ts";
export {
  type CheckContext,
  CheckFailure,
  CONFORMANCE_CHECKS,
  type ConformanceCheck,
  SAMPLE_PAYLOADS,
} from "./src/testing/conformance_checks.ts";
export {
  CONFORMANCE_TRANSPORTS,
  type ConformanceDriver,
  type ConformanceTarget,
  type ConformanceTransport,
  openConformanceDriver,
  type WireInvoke,
  type WireReply,
} from "./src/testing/conformance_driver.ts";
export {
  CONFORMANCE_PROBE_HOOKS,
  CONFORMANCE_PROBE_NAME,
  ConformanceProbe,
} from "./src/testing/conformance_probe.ts";
