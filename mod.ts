/**
 * `@cpex/core` — the ContextForge Plugin Extensibility Framework for Deno.
 *
 * Run policy, safety and audit plugins at the hook points of an AI/MCP gateway
 * (`tool_pre_invoke`, `prompt_pre_fetch`, `resource_post_fetch`, `http_auth_check_permission`,
 * custom hooks, ...), in-process or as external plugin servers, with priorities, six modes,
 * `on_error` policies, conditions, payload write policies, timeouts and execution records.
 * Reads the YAML configs of the Python reference (`cpex` 0.1.x).
 *
 * Entry points: `@cpex/core` (this one: the manager, the plugin base class, hooks and their
 * types, results, errors, config loading), `@cpex/core/server` (host plugins for gateways in
 * other processes), `@cpex/core/testing` (unit-test a plugin without a config file) and
 * `@cpex/core/cli` (the command line).
 *
 * @example
 * ```ts
 * import { Plugin, PluginManager, type PluginResult, type ToolPreInvokePayload } from "@cpex/core";
 *
 * class Redact extends Plugin {
 *   tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
 *     const query = String(payload.args?.query ?? "");
 *     if (!query.includes("secret")) return {};
 *     return {
 *       modified_payload: { ...payload, args: { ...payload.args, query: "[redacted]" } },
 *     };
 *   }
 * }
 *
 * const manager = new PluginManager();
 * await manager.initialize();
 * await manager.registerPlugin(
 *   new Redact({ name: "redact", kind: "inline", hooks: ["tool_pre_invoke"], mode: "transform" }),
 * );
 * const [result] = await manager.invokeHook(
 *   "tool_pre_invoke",
 *   { name: "search", args: { query: "the secret plan" } },
 *   { request_id: "req-1" },
 * );
 * console.log(result.modified_payload?.args); // { query: "[redacted]" }
 * await manager.shutdown();
 * ```
 *
 * @module
 */
export * from "./src/types.ts";
export {
  CIRCUIT_OPEN,
  ConfigError,
  type ConfigIssue,
  PayloadSizeError,
  PluginError,
  PluginTimeoutError,
  PluginViolationError,
  SANDBOX_STUCK,
} from "./src/errors.ts";
export { PermissionPreflightError } from "./src/external/permissions.ts";
export * from "./src/context.ts";
export { hook, type HookCallOptions, type HookHandler, Plugin } from "./src/plugin.ts";
export * from "./src/observability.ts";
export {
  CpexMetrics,
  type CpexMetricsOptions,
  defaultMetrics,
  DURATION_BUCKETS,
  HookSeries,
  LocalHistogram,
  MAX_VIOLATION_CODES,
  type MetricAttributes,
  type OtelMeterProvider,
  Outcome,
  PLUGIN_OUTCOMES,
  type PluginOutcome,
  PluginSeries,
  type ReplicaStatusSource,
  type ViolationCount,
} from "./src/observability/metrics.ts";
export {
  OtelObservability,
  type OtelObservabilityOptions,
  type OtelTracerProvider,
} from "./src/observability/otel_tracing.ts";
export {
  otelLogger,
  type OtelLoggerOptions,
  type OtelLoggerProvider,
} from "./src/observability/otel_logger.ts";
export { PROMETHEUS_CONTENT_TYPE, writePrometheus } from "./src/observability/prometheus.ts";
export {
  type CallOutcome,
  decisionOf,
  HookRecorder,
  type RecordedCall,
  type RecordedDecision,
  type RecordedPlugin,
  type RecorderOptions,
} from "./src/record/recorder.ts";
export {
  DEFAULT_PATTERNS,
  luhnValid,
  REDACTED,
  type RedactOptions,
  Redactor,
} from "./src/record/redact.ts";
export type { ShadowDiff } from "./src/manager/shadow.ts";
export * from "./src/hooks/tools.ts";
export * from "./src/hooks/prompts.ts";
export * from "./src/hooks/resources.ts";
export * from "./src/hooks/agents.ts";
export * from "./src/hooks/http.ts";
export * from "./src/hooks/map.ts";
export * from "./src/hooks/errors.ts";
export * from "./src/hooks/schema.ts";
export { BUILTIN_HOOK_NAMES } from "./src/hooks/builtins.ts";
export type { ConditionField, ConditionTarget } from "./src/hooks/conditions.ts";
export { PluginViolationSchema } from "./src/hooks/result.ts";
export {
  getHookRegistry,
  type HookDefinition,
  HookRegistry,
  hookRegistry,
} from "./src/hooks/registry.ts";
export {
  type Config,
  type GrpcServerConfig,
  type McpServerConfig,
  parseConfig,
  parsePluginConfig,
  type ParsePluginConfigOptions,
  type PluginSettings,
  type RecordSettings,
  type UnixSocketServerConfig,
} from "./src/config/schema.ts";
export { loadConfig } from "./src/config/load.ts";
export { type PluginsSettings, readSettings, type SettingKey } from "./src/config/settings.ts";
export {
  getPluginManager,
  type InvokeForPluginOptions,
  type ManagerLogger,
  PluginManager,
  type PluginManagerOptions,
  type ReloadOptions,
  resetPluginManager,
} from "./src/manager/manager.ts";
export { HookResult } from "./src/manager/result.ts";
export type { InvokeOptions } from "./src/manager/executor.ts";
export {
  type ExternalPluginContext,
  type ExternalPluginFactory,
  type ExternalTransportName,
  type PluginClass,
  registerExternalTransport,
} from "./src/manager/loader.ts";
