/**
 * The local/remote config merge of MCP and gRPC external plugins (wire.md §1.5): the remote
 * server's entry fills every key the gateway's YAML does not set explicitly.
 *
 * @module
 */
import { explicitKeys, markExplicitKeys } from "../config/explicit_keys.ts";
import { parsePluginConfig } from "../config/schema.ts";
import type { PluginConfig } from "../types.ts";

/**
 * Merges a remote plugin config into the local entry: local wins for every key it sets
 * explicitly (shallow, top-level), `config` always comes from the remote, the result is
 * validated again (a remote value the gateway cannot validate fails the merge).
 */
export function mergeRemoteConfig(
  local: PluginConfig,
  remote: Record<string, unknown>,
): PluginConfig {
  const set = explicitKeys(local) ?? new Set(Object.keys(local));
  const merged: Record<string, unknown> = { ...remote };
  const localRecord = local as unknown as Record<string, unknown>;
  for (const key of set) {
    if (key === "config") continue;
    merged[key] = localRecord[key];
  }
  const config = parsePluginConfig(
    merged,
    `remote config of plugin ${JSON.stringify(local.name)}`,
    {
      ignoreConfigExternal: true,
    },
  );
  return markExplicitKeys(config, new Set([...set, ...Object.keys(remote)]));
}
