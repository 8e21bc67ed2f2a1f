/**
 * `@cpex/core` — the ContextForge Plugin Extensibility Framework for Deno.
 *
 * Run policy, safety and audit plugins at the hook points of an AI/MCP gateway
 * (`tool_pre_invoke`, `prompt_pre_fetch`, `resource_post_fetch`, `http_auth_check_permission`,
 * custom hooks, ...), in-process or as external plugin servers, with priorities, six modes,
 * `on_error` policies, conditions, payload write policies, timeouts and execution records.
 * Reads the YAML configs of the Python reference (`cpex` 0.1.x).
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
export * from "./src/errors.ts";
export * from "./src/context.ts";
export * from "./src/plugin.ts";
export * from "./src/observability.ts";
export * from "./src/hooks/mod.ts";
export {
  type Config,
  type GrpcServerConfig,
  type McpServerConfig,
  parseConfig,
  parsePluginConfig,
  type ParsePluginConfigOptions,
  type PluginSettings,
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
  resetPluginManager,
} from "./src/manager/manager.ts";
export { HookResult } from "./src/manager/result.ts";
export type { HookPlan, HookRef, PluginRef } from "./src/manager/registry.ts";
export type { ConditionMatcher } from "./src/manager/conditions.ts";
export type { RecordIdentity } from "./src/manager/records.ts";
export {
  type ExecutorOptions,
  type InvokeOptions,
  type PayloadValidator,
  PluginExecutor,
} from "./src/manager/executor.ts";
export {
  type ExternalPluginFactory,
  type ExternalTransportName,
  loadPlugin,
  type LoadPluginOptions,
  type PluginClass,
  registerExternalTransport,
} from "./src/manager/loader.ts";
export {
  DEFAULT_SERVER_CONFIG_PATH,
  ExternalPluginServer,
  type ExternalPluginServerOptions,
  type InvokeHookResponseData,
  type ServeOptions,
  type ServerHandle,
  type TransportName,
  type TransportServer,
} from "./src/external/server.ts";
export type { PluginContextData } from "./src/external/struct.ts";
