/**
 * The public API by entry point (issue 10 item 6): what `@cpex/core`, `@cpex/core/server`,
 * `@cpex/core/testing` and `@cpex/core/cli` export at run time, and that internals
 * (the executor, plugin loading, handler lookup, condition tables) are not among them.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as core from "../mod.ts";
import * as server from "../server.ts";
import * as testing from "../testing.ts";
import * as cli from "../cli.ts";

const INTERNALS = [
  "PluginExecutor",
  "loadPlugin",
  "findHookHandler",
  "registerBuiltinHooks",
  "CONDITION_FIELDS",
  "DEFAULT_MATCH_FIELDS",
  "PAYLOAD_CONDITION_TARGETS",
  "pluginResultSchema",
  "errorRepr",
  "INTERNAL_ERROR_CODE",
  "executorOf",
];

Deno.test("the root entry exports no internals and no server", () => {
  for (const name of [...INTERNALS, "ExternalPluginServer", "DEFAULT_SERVER_CONFIG_PATH"]) {
    assert.equal(name in core, false, name);
  }
});

Deno.test("the root entry exports the manager, plugin base, hooks, results, errors and config", () => {
  for (
    const name of [
      "PluginManager",
      "Plugin",
      "hook",
      "HookRegistry",
      "hookRegistry",
      "HookResult",
      "PluginError",
      "PermissionPreflightError",
      "ConfigError",
      "loadConfig",
      "parseConfig",
      "registerExternalTransport",
      "ToolPreInvokePayloadSchema",
      // issue 15: observability
      "CpexMetrics",
      "defaultMetrics",
      "OtelObservability",
      "otelLogger",
      "writePrometheus",
    ]
  ) {
    assert.equal(name in core, true, name);
  }
});

Deno.test("the server, testing and cli entries export what they are for, only", () => {
  assert.deepEqual(Object.keys(server).sort(), [
    "DEFAULT_SERVER_CONFIG_PATH",
    "ExternalPluginServer",
    "createServerLogger",
    "registerServerTransport",
    "resolveLogLevel",
  ]);
  assert.deepEqual(Object.keys(testing).sort(), [
    "CONFORMANCE_CHECKS",
    "CONFORMANCE_PROBE_HOOKS",
    "CONFORMANCE_PROBE_NAME",
    "CONFORMANCE_TRANSPORTS",
    "CheckFailure",
    "ConformanceProbe",
    "PluginHarness",
    "SAMPLE_PAYLOADS",
    "formatConformanceReport",
    "formatReplayReport",
    "openConformanceDriver",
    "parseRecording",
    "replayCalls",
    "runConformance",
    "testContext",
    "testPlugin",
  ]);
  assert.deepEqual(Object.keys(cli).sort(), ["main"]);
});

Deno.test("a manager does not hand out its executor", () => {
  const manager = new core.PluginManager();
  assert.equal("executor" in manager, false);
});
