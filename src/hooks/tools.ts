/**
 * The built-in tool hooks, `tool_pre_invoke` and `tool_post_invoke`: their names, payload
 * schemas and types. Conditions match the payload's `name` against a plugin's `tools` list.
 *
 * @module
 */
import { z } from "zod";
import type { PluginResult } from "../types.ts";
import type { Schema } from "./schema.ts";
import { type HttpHeaderPayload, HttpHeaderPayloadSchema } from "./http.ts";
import { asZod, jsonObject, requiredAny } from "./schema_helpers.ts";

/**
 * Names of the built-in tool hooks.
 *
 * @example
 * ```ts
 * import { ToolHookType } from "@cpex/core";
 * console.log(ToolHookType.TOOL_PRE_INVOKE); // "tool_pre_invoke"
 * ```
 */
export const ToolHookType = {
  /** Before a tool runs; plugins may block or rewrite the arguments. */
  TOOL_PRE_INVOKE: "tool_pre_invoke",
  /** After a tool ran; plugins may block or rewrite the result. */
  TOOL_POST_INVOKE: "tool_post_invoke",
} as const;
/** One of the {@linkcode ToolHookType} values. */
export type ToolHookType = typeof ToolHookType[keyof typeof ToolHookType];

/**
 * Payload of `tool_pre_invoke`.
 *
 * @example
 * ```ts
 * import type { ToolPreInvokePayload } from "@cpex/core";
 * const p: ToolPreInvokePayload = { name: "search", args: { query: "deno" } };
 * ```
 */
export interface ToolPreInvokePayload {
  /** The tool's name (required). */
  name: string;
  /** The tool's arguments; `{}` by default. */
  args?: Record<string, unknown> | null;
  /**
   * Request headers; `null` by default.
   *
   * @deprecated Kept for compatibility with the reference; use extensions instead.
   */
  headers?: HttpHeaderPayload | null;
}

/**
 * Schema of {@linkcode ToolPreInvokePayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { ToolPreInvokePayloadSchema } from "@cpex/core";
 * const p = ToolPreInvokePayloadSchema.parse({ name: "search" });
 * console.log(p.args); // {}
 * ```
 */
export const ToolPreInvokePayloadSchema: Schema<ToolPreInvokePayload> = z.object({
  name: z.string(),
  args: jsonObject().nullable().default(() => ({})),
  headers: asZod(HttpHeaderPayloadSchema).nullable().default(null),
});

/**
 * Payload of `tool_post_invoke`.
 *
 * @example
 * ```ts
 * import type { ToolPostInvokePayload } from "@cpex/core";
 * const p: ToolPostInvokePayload = { name: "search", result: { hits: 3 } };
 * ```
 */
export interface ToolPostInvokePayload {
  /** The tool's name (required). */
  name: string;
  /** What the tool returned: any value, `null` included, but the key is required. */
  result: unknown;
}

/**
 * Schema of {@linkcode ToolPostInvokePayload} (unknown fields are dropped). `result` must be
 * present but may be `null`.
 *
 * @example
 * ```ts
 * import { ToolPostInvokePayloadSchema } from "@cpex/core";
 * ToolPostInvokePayloadSchema.parse({ name: "search", result: null }); // ok
 * ```
 */
export const ToolPostInvokePayloadSchema: Schema<ToolPostInvokePayload> = z.object({
  name: z.string(),
  result: requiredAny(),
});

/**
 * Result of a `tool_pre_invoke` hook.
 *
 * @example
 * ```ts
 * import type { ToolPreInvokeResult } from "@cpex/core";
 * const r: ToolPreInvokeResult = { modified_payload: { name: "search", args: { query: "x" } } };
 * ```
 */
export type ToolPreInvokeResult = PluginResult<ToolPreInvokePayload>;

/**
 * Result of a `tool_post_invoke` hook.
 *
 * @example
 * ```ts
 * import type { ToolPostInvokeResult } from "@cpex/core";
 * const r: ToolPostInvokeResult = { modified_payload: { name: "search", result: "redacted" } };
 * ```
 */
export type ToolPostInvokeResult = PluginResult<ToolPostInvokePayload>;
