/**
 * Host plugins for gateways in other processes: the Deno counterpart of the reference's plugin
 * server runtimes. One {@linkcode ExternalPluginServer} serves its plugins on a transport
 * (`unix`, `grpc`, MCP `http` or `stdio`); a gateway's `PluginManager` reaches them as
 * `kind: external` plugins.
 *
 * @example
 * ```ts
 * import { Plugin, type ToolPreInvokePayload } from "@cpex/core";
 * import { ExternalPluginServer } from "@cpex/core/server";
 *
 * class NoDelete extends Plugin {
 *   tool_pre_invoke(payload: ToolPreInvokePayload) {
 *     return payload.name === "delete_all" ? { continue_processing: false } : {};
 *   }
 * }
 *
 * const server = new ExternalPluginServer({
 *   plugins: [new NoDelete({ name: "no-delete", kind: "inline", hooks: ["tool_pre_invoke"] })],
 * });
 * // Listens on the socket, prints READY, stops on SIGINT/SIGTERM; here, stop at once.
 * const handle = await server.serve({ transport: "unix", path: "/tmp/cpex-doc.sock" });
 * await server.close();
 * await handle.finished;
 * ```
 *
 * @module
 */
export {
  DEFAULT_SERVER_CONFIG_PATH,
  ExternalPluginServer,
  type ExternalPluginServerOptions,
  type InvokeHookResponseData,
  registerServerTransport,
  type ServeOptions,
  type ServerHandle,
  type TransportName,
  type TransportServer,
} from "./src/external/server.ts";
export type { PluginContextData } from "./src/types.ts";
export {
  createServerLogger,
  type LogFields,
  type LogFormat,
  type LogLevel,
  resolveLogLevel,
  type ServerLogger,
  type ServerLoggerOptions,
} from "./src/external/server_log.ts";
