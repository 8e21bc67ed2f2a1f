/**
 * The one object-shape guard for decoded JSON on the external paths (MCP replies, the remote
 * plugin core, the MCP request lifecycle).
 *
 * @module
 */

/** True for a non-null object that is not an array (a decoded JSON object). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
