/**
 * Zod schemas for what hooks return ({@linkcode PluginResult}) and for
 * {@linkcode PluginViolation}, used to validate results that arrive as JSON (from an external
 * plugin, or through {@linkcode HookRegistry.parseResult}). Unknown fields are dropped,
 * including `executions` (the manager writes its own trusted records) and a violation's
 * `plugin_name` (never taken from a plugin's answer).
 *
 * @module
 */
import { z } from "zod";
import type { PluginResult, PluginViolation } from "../types.ts";
import type { Schema } from "./schema.ts";
import { asZod, jsonObject } from "./schema_helpers.ts";

/**
 * Schema of {@linkcode PluginViolation}: `reason`, `description` and `code` are required
 * strings; `details` defaults to `{}`, the other fields to `null`.
 *
 * @example
 * ```ts
 * import { PluginViolationSchema } from "@cpex/core";
 * const v = PluginViolationSchema.parse({ reason: "r", description: "d", code: "deny" });
 * console.log(v.details); // {}
 * ```
 */
export const PluginViolationSchema: Schema<PluginViolation> = z.object({
  reason: z.string(),
  description: z.string(),
  code: z.string(),
  details: jsonObject().nullable().default(() => ({})),
  mcp_error_code: z.number().int().nullable().default(null),
  http_status_code: z.number().int().nullable().default(null),
  http_headers: z.record(z.string(), z.string()).nullable().default(null),
});

/**
 * Builds the schema of a {@linkcode PluginResult} whose `modified_payload` must match
 * `payload` (or be `null`). Defaults follow the reference: `continue_processing` true,
 * `metadata` `{}`, `retry_delay_ms` 0, everything else `null`.
 *
 * @param payload Schema of the modified payload type; must be a zod schema at run time (the
 * result schema is built with zod).
 * @returns A schema that validates and fills defaults for a whole result.
 */
export function pluginResultSchema<T>(payload: Schema<T>): Schema<PluginResult<T>> {
  return z.object({
    continue_processing: z.boolean().default(true),
    modified_payload: asZod(payload).nullable().default(null),
    modified_extensions: jsonObject().nullable().default(null),
    violation: asZod(PluginViolationSchema).nullable().default(null),
    metadata: jsonObject().nullable().default(() => ({})),
    http_headers: z.record(z.string(), z.string()).nullable().default(null),
    retry_delay_ms: z.number().int().default(0),
  });
}
