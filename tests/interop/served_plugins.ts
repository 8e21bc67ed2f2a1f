/**
 * The TypeScript plugins OUR `ExternalPluginServer` hosts for the Python reference gateway in
 * direction A of every interop suite (Unix, gRPC, MCP). They are the set of
 * `tests/helpers/mcp_interop_plugins.ts` (which the MCP STDIO child serves too), with two
 * per-transport variants the suites' assertions rely on:
 *
 * - `unix`: `Allow` only reports `allowed_by` and carries no remote config (the raw Unix
 *   transport never merges the remote config);
 * - `grpc`: `Stateful` also reports the global metadata it saw;
 * - `mcp`: the helper set unchanged.
 *
 * @module
 */
import {
  type GlobalContext,
  Plugin,
  type PluginContext,
  type PluginResult,
  type ToolPreInvokePayload,
} from "../../mod.ts";
import { interopPlugins, InteropStateful } from "../helpers/mcp_interop_plugins.ts";

/** The transport whose direction-A suite hosts the plugins. */
export type ServedTransport = "unix" | "grpc" | "mcp";

/** Names of the served plugins, in registration order (what `get_plugin_configs` lists). */
export const SERVED_NAMES: readonly string[] = [
  "Allow",
  "Modify",
  "Block",
  "Raise",
  "RaiseStructured",
  "BlockSoft",
  "Echo",
  "Slow1",
  "Slow2",
  "Slow3",
  "Stateful",
];

/** Allows, and says so in the result metadata (nothing else). */
export class PlainAllow extends Plugin {
  /** Allows. */
  tool_pre_invoke(): PluginResult {
    return { metadata: { allowed_by: "deno" } };
  }
}

/** `InteropStateful` that also reports the gateway's global metadata it saw in pre. */
export class MetadataStateful extends InteropStateful {
  /** Writes state and reports what it saw, global metadata included. */
  override tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    const result = super.tool_pre_invoke(payload, context);
    const gc: GlobalContext = context.global_context;
    return { ...result, metadata: { ...result.metadata, saw_global_metadata: { ...gc.metadata } } };
  }
}

/**
 * The plugin set the direction-A suite of `transport` serves (fresh instances on every call).
 *
 * @example
 * ```ts
 * import { servedPlugins } from "./served_plugins.ts";
 * console.log(servedPlugins("grpc").map((p) => p.name)); // SERVED_NAMES
 * ```
 */
export function servedPlugins(transport: ServedTransport): Plugin[] {
  return interopPlugins().map((plugin) => {
    if (transport === "unix" && plugin.name === "Allow") {
      return new PlainAllow({
        kind: "inline",
        mode: "sequential",
        on_error: "fail",
        name: "Allow",
        hooks: ["tool_pre_invoke"],
        priority: 10,
      });
    }
    if (transport === "grpc" && plugin.name === "Stateful") {
      return new MetadataStateful(plugin.config);
    }
    return plugin;
  });
}
