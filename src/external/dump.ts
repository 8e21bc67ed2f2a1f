/**
 * JSON dumps of results, violations, errors and contexts in the reference's field order: what
 * external plugin servers send and gateways read, on every transport.
 *
 * @module
 */
import { INTERNAL_ERROR_CODE } from "../errors.ts";
import type {
  GlobalContext,
  PluginContextData,
  PluginErrorModel,
  PluginResult,
  PluginViolation,
} from "../types.ts";

/**
 * A violation as the reference dumps it (`plugin_name` is never sent).
 */
export function dumpViolation(v: PluginViolation): Record<string, unknown> {
  return {
    reason: v.reason,
    description: v.description,
    code: v.code,
    details: v.details ?? {},
    mcp_error_code: v.mcp_error_code ?? null,
    http_status_code: v.http_status_code ?? null,
    http_headers: v.http_headers ?? null,
  };
}

/**
 * A plugin result as the reference dumps it; `executions` is always empty on the wire.
 */
export function dumpResult(r: PluginResult): Record<string, unknown> {
  return {
    continue_processing: r.continue_processing !== false,
    modified_payload: r.modified_payload ?? null,
    modified_extensions: r.modified_extensions ?? null,
    violation: r.violation ? dumpViolation(r.violation) : null,
    metadata: r.metadata === undefined ? {} : r.metadata,
    http_headers: r.http_headers ?? null,
    retry_delay_ms: r.retry_delay_ms ?? 0,
    executions: [],
  };
}

/**
 * An error model with the reference's defaults filled in.
 */
export function dumpError(e: PluginErrorModel): Record<string, unknown> {
  return {
    message: e.message,
    plugin_name: e.plugin_name,
    code: e.code ?? "",
    details: e.details ?? {},
    mcp_error_code: e.mcp_error_code ?? INTERNAL_ERROR_CODE,
  };
}

/**
 * A global context in the reference's field order.
 */
export function dumpGlobalContext(g: GlobalContext): Record<string, unknown> {
  return {
    request_id: g.request_id,
    user: g.user ?? null,
    user_context: g.user_context ?? null,
    tenant_id: g.tenant_id ?? null,
    server_id: g.server_id ?? null,
    content_type: g.content_type ?? null,
    state: g.state ?? {},
    metadata: g.metadata ?? {},
  };
}

/**
 * A plugin context in the reference's field order.
 */
export function dumpContext(c: PluginContextData): Record<string, unknown> {
  return {
    state: c.state,
    global_context: dumpGlobalContext(c.global_context),
    metadata: c.metadata,
  };
}

/**
 * True when a context carries something worth sending back: local state, local metadata or
 * global state (the reference ignores global metadata here).
 */
export function contextHasData(c: PluginContextData): boolean {
  return hasKeys(c.state) || hasKeys(c.metadata) || hasKeys(c.global_context.state);
}

function hasKeys(r: Record<string, unknown> | undefined | null): boolean {
  if (!r) return false;
  for (const _ in r) return true;
  return false;
}
