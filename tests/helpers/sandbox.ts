/**
 * Helpers of the sandbox suites: plugin entries for the fixture classes and a manager that is
 * always shut down (no worker or child process outlives a test).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  type Isolation,
  parseConfig,
  PluginManager,
  type PluginManagerOptions,
} from "../../mod.ts";

const MODULE = fileURLToPath(new URL("../fixtures/sandbox/plugins.ts", import.meta.url));

/** The isolation levels the shared suites run at. */
export const ISOLATIONS: readonly Isolation[] = ["none", "worker", "process"];

/** A plugin entry for fixture class `cls` (`isolation` and `hooks` filled in). */
export function entry(
  name: string,
  cls: string,
  isolation: Isolation,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { name, kind: `${MODULE}#${cls}`, hooks: ["tool_pre_invoke"], isolation, ...extra };
}

/** Runs `fn` on an initialised manager for `plugins`, always shutting it down. */
export async function withPlugins(
  plugins: Record<string, unknown>[],
  fn: (manager: PluginManager) => Promise<void>,
  options: PluginManagerOptions = {},
): Promise<void> {
  const manager = new PluginManager(
    parseConfig({ plugins, plugin_settings: { fail_on_plugin_error: true } }),
    options,
  );
  await manager.initialize();
  try {
    await fn(manager);
  } finally {
    await manager.shutdown();
  }
}

/** A tool payload with `args`. */
export function tool(
  args: Record<string, unknown> = {},
): { name: string; args: Record<string, unknown> } {
  return { name: "search", args };
}
