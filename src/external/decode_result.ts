/**
 * Gateway-side decoding of a remote plugin result (wire.md §1.6), shared by the transports.
 *
 * @module
 */
import type { HookRegistry } from "../hooks/registry.ts";
import type { PluginResult } from "../types.ts";

/**
 * Turns a result received from a plugin server into a {@linkcode PluginResult}. A result with a
 * `modified_payload` or a `violation` is validated against the hook's schema; one without
 * either has nothing schema-specific in it and skips that (the executor checks its shape like
 * any plugin's result). `hooks` is the manager's own registry (issue 10 item 3: never the
 * process-wide default behind its back).
 */
export function decodeRemoteResult(
  hooks: HookRegistry,
  hookName: string,
  json: Record<string, unknown>,
): PluginResult {
  if (json.modified_payload != null || json.violation != null) {
    return hooks.parseResult(hookName, json) as PluginResult;
  }
  return {
    continue_processing: (json.continue_processing ?? true) as boolean,
    modified_payload: null,
    modified_extensions: (json.modified_extensions ?? null) as PluginResult["modified_extensions"],
    violation: null,
    metadata: (json.metadata ?? {}) as Record<string, unknown>,
    http_headers: (json.http_headers ?? null) as Record<string, string> | null,
    retry_delay_ms: (json.retry_delay_ms ?? 0) as number,
  };
}

/**
 * The result a gateway returns for an allow reply (a fresh object: callers may keep it).
 */
export function allowResult(): PluginResult {
  return {
    continue_processing: true,
    modified_payload: null,
    modified_extensions: null,
    violation: null,
    metadata: {},
    http_headers: null,
    retry_delay_ms: 0,
  };
}
