/**
 * Which top-level keys of a plugin entry were written explicitly. External plugins need it:
 * their local entry wins over the remote server's config only for the keys the gateway's YAML
 * sets (the reference's `exclude_unset` merge).
 *
 * @module
 */
import type { PluginConfig } from "../types.ts";

const EXPLICIT: unique symbol = Symbol.for("cpex.explicit_keys");

type Marked = PluginConfig & { [EXPLICIT]?: ReadonlySet<string> };

/**
 * Records the explicitly written keys on a parsed config (a non-enumerable property, so it
 * never reaches JSON or the wire).
 */
export function markExplicitKeys(config: PluginConfig, keys: Iterable<string>): PluginConfig {
  Object.defineProperty(config, EXPLICIT, {
    value: new Set(keys),
    enumerable: false,
    configurable: true,
  });
  return config;
}

/**
 * The explicitly written keys of a config, or null when unknown.
 */
export function explicitKeys(config: unknown): ReadonlySet<string> | null {
  if (!config || typeof config !== "object") return null;
  return (config as Marked)[EXPLICIT] ?? null;
}

/**
 * A deep copy of a plugin config that keeps its explicit-key record.
 */
export function copyPluginConfig(config: PluginConfig): PluginConfig {
  const copy = structuredClone(config);
  const keys = explicitKeys(config);
  return keys ? markExplicitKeys(copy, keys) : copy;
}
