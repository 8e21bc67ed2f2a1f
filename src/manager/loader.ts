/**
 * Plugin loading: from a programmatic kind map, from a module specifier
 * (`./plugins/deny.ts#DenyList`, `jsr:`, `npm:`, `file:`), or through an external transport.
 *
 * @module
 */
import { copyPluginConfig } from "../config/explicit_keys.ts";
import { getHookRegistry, type HookRegistry } from "../hooks/registry.ts";
import type { Plugin } from "../plugin.ts";
import type { PluginConfig } from "../types.ts";
import { isPluginClass, resolveSpecifier, splitModuleKind } from "./specifier.ts";

/**
 * A plugin class: constructed with the plugin's config.
 *
 * @example
 * ```ts
 * import { Plugin, type PluginClass } from "@cpex/core";
 * class Noop extends Plugin {}
 * const kinds: Record<string, PluginClass> = { noop: Noop };
 * ```
 */
export type PluginClass = new (config: PluginConfig) => Plugin;

/**
 * What the loader hands an external transport's factory besides the plugin's config.
 *
 * @example
 * ```ts
 * import { getHookRegistry, type ExternalPluginContext } from "@cpex/core";
 * const context: ExternalPluginContext = { hookRegistry: getHookRegistry() };
 * ```
 */
export interface ExternalPluginContext {
  /**
   * The hook registry of the manager loading the plugin: the proxy validates and decodes remote
   * results with it, so a manager's own hooks work over the wire (issue 10 item 3).
   */
  hookRegistry: HookRegistry;
}

/**
 * Creates the gateway-side proxy of an external plugin from its config.
 *
 * @example
 * ```ts
 * import type { ExternalPluginFactory } from "@cpex/core";
 * const refuse: ExternalPluginFactory = () => {
 *   throw new Error("not here");
 * };
 * ```
 */
export type ExternalPluginFactory = (
  config: PluginConfig,
  context: ExternalPluginContext,
) => Plugin | Promise<Plugin>;

/**
 * The external transports a config can name (`kind: external` with one of these blocks).
 *
 * @example
 * ```ts
 * import type { ExternalTransportName } from "@cpex/core";
 * const t: ExternalTransportName = "unix_socket";
 * ```
 */
export type ExternalTransportName = "mcp" | "grpc" | "unix_socket";

// Built-in transports are imported only when a config uses them.
const externalTransports = new Map<ExternalTransportName, () => Promise<ExternalPluginFactory>>([
  ["unix_socket", async () => (await import("../external/unix/client.ts")).createUnixSocketPlugin],
  ["mcp", async () => (await import("../external/mcp/client.ts")).createMcpPlugin],
  ["grpc", async () => (await import("../external/grpc/client.ts")).createGrpcPlugin],
]);

/**
 * Registers how `kind: external` plugins with a given transport block are created. The loader
 * is called (and its module imported) only when a config uses that transport, so a gateway
 * that never uses gRPC never loads grpc-js.
 *
 * @example
 * ```ts
 * import { Plugin, registerExternalTransport } from "@cpex/core";
 * class Echo extends Plugin {
 *   override handleHook() {
 *     return Promise.resolve({});
 *   }
 * }
 * registerExternalTransport("unix_socket", () => Promise.resolve((config) => new Echo(config)));
 * ```
 */
export function registerExternalTransport(
  name: ExternalTransportName,
  load: () => Promise<ExternalPluginFactory>,
): void {
  externalTransports.set(name, load);
}

/**
 * Options of {@linkcode loadPlugin}.
 */
export interface LoadPluginOptions {
  /** The config file's URL; relative specifiers resolve against it (default: the cwd). */
  base?: URL;
  /** Programmatic kind -> class map, consulted first. */
  kinds?: Record<string, PluginClass>;
  /** The hook registry external plugins decode results with (default: the shared one). */
  hookRegistry?: HookRegistry;
}

function externalTransportOf(config: PluginConfig): ExternalTransportName | null {
  // The reference's precedence when several blocks are present.
  if (config.grpc) return "grpc";
  if (config.unix_socket) return "unix_socket";
  if (config.mcp) return "mcp";
  return null;
}

/**
 * Resolves a plugin's `kind` to a class and instantiates it with a copy of its config (the
 * manager keeps the original as the trusted config). Does not call `initialize()`.
 */
export async function loadPlugin(
  config: PluginConfig,
  options: LoadPluginOptions = {},
): Promise<Plugin> {
  const copy = copyPluginConfig(config);
  if (config.kind === "external") {
    const transport = externalTransportOf(config);
    const load = transport ? externalTransports.get(transport) : undefined;
    if (!transport || !load) {
      throw new Error(
        `Plugin ${config.name}: no external transport is available for ` +
          `'${transport ?? "(none)"}' (known: ${
            [...externalTransports.keys()].join(", ") || "none"
          })`,
      );
    }
    const factory = await load();
    return await factory(copy, { hookRegistry: options.hookRegistry ?? getHookRegistry() });
  }
  const sandboxed = config.isolation === "worker" || config.isolation === "process";
  const mapped = sandboxed ? undefined : options.kinds?.[config.kind];
  if (mapped) return new mapped(copy);
  const parts = splitModuleKind(config.kind);
  if (!parts) {
    throw new Error(
      `Plugin ${config.name}: unknown kind '${config.kind}'; use 'module.ts#ExportName' ` +
        `or pass the class in the manager's pluginKinds map`,
    );
  }
  const specifier = resolveSpecifier(parts.specifier, options.base);
  const exportName = parts.exportName;
  if (sandboxed) {
    // Issue 16: the module is imported only inside the sandbox, never by the gateway (its
    // top-level code would run with the gateway's rights).
    const { SandboxedPlugin } = await import("../sandbox/sandboxed_plugin.ts");
    return new SandboxedPlugin(copy, { specifier, exportName });
  }
  const module = await import(specifier) as Record<string, unknown>;
  const cls = module[exportName];
  if (!isPluginClass(cls)) {
    throw new Error(
      `Plugin ${config.name}: '${exportName}' exported by ${specifier} is not a Plugin class`,
    );
  }
  return new cls(copy);
}
