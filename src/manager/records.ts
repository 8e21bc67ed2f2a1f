/**
 * Builders for trusted execution records.
 *
 * @module
 */
import type { ExecutionRecord, ExecutionStatus, PluginMode, PluginViolation } from "../types.ts";

const MAX_BYTES = 256;
const ELLIPSIS = "…";
const encoder = new TextEncoder();

/**
 * Truncates `text` so its UTF-8 encoding is at most 256 bytes including a trailing `…`,
 * never splitting a code point. Null stays null.
 */
export function truncateText(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  // Fast path: 64 UTF-16 units can never exceed 256 UTF-8 bytes.
  if (text.length <= 64 || encoder.encode(text).length <= MAX_BYTES) return text;
  let bytes = 0;
  let out = "";
  for (const ch of text) {
    const size = encoder.encode(ch).length;
    if (bytes + size > MAX_BYTES - 3) break;
    bytes += size;
    out += ch;
  }
  return out + ELLIPSIS;
}

/**
 * The first 64 keys of a plugin's `config` (values are never recorded).
 */
export function configKeys(config: unknown): string[] {
  if (!config || typeof config !== "object" || Array.isArray(config)) return [];
  return Object.keys(config).slice(0, 64);
}

/**
 * The identity part of a record, computed once per registered plugin.
 */
export interface RecordIdentity {
  /** The registration's uuid. */
  plugin_id: string;
  /** Plugin name. */
  plugin_name: string;
  /** Plugin kind (truncated). */
  plugin_kind: string;
  /** Trusted mode. */
  mode: PluginMode;
  /** First 64 keys of the plugin's `config`. */
  config_keys: string[];
}

/**
 * A record with the reference's defaults, filled from the plugin identity and hook.
 */
export function newRecord(
  id: RecordIdentity,
  hookName: string,
  status: ExecutionStatus,
): ExecutionRecord {
  return {
    plugin_id: id.plugin_id,
    plugin_name: id.plugin_name,
    plugin_kind: id.plugin_kind,
    hook_name: hookName,
    mode: id.mode,
    status,
    requested_allow: null,
    effective_allow: true,
    matched: null,
    applied: false,
    payload_modified: false,
    extensions_modified: false,
    duration_ns: 0,
    reason: null,
    error_code: null,
    config_keys: id.config_keys,
  };
}

/**
 * A record's `duration_ns` for a call started at `started` (`performance.now()` time): at
 * least 1, so a plugin that ran never shows 0.
 */
export function durationNs(started: number): number {
  return Math.max(1, Math.round((performance.now() - started) * 1e6));
}

/** Copies a violation's code and (truncated) reason into `record`; null leaves it unchanged. */
export function recordViolation(
  record: ExecutionRecord,
  violation: PluginViolation | null | undefined,
): void {
  if (!violation) return;
  record.reason = truncateText(violation.reason);
  record.error_code = violation.code;
}
