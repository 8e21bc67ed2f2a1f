/**
 * The no-op plugin of `sandbox_ratio.ts`, loaded by `kind: ./sandbox_noop_plugin.ts#Noop` at
 * every isolation level.
 *
 * @module
 */
import { Plugin, type PluginResult } from "../mod.ts";

/** Allows every call. */
export class Noop extends Plugin {
  /** Allows. */
  tool_pre_invoke(): PluginResult {
    return {};
  }
}
