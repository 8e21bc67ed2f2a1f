/**
 * The built-in resource hooks, `resource_pre_fetch` and `resource_post_fetch`: their names,
 * payload schemas and types. Conditions match the payload's `uri` against a plugin's
 * `resources` list.
 *
 * @module
 */
import { z } from "zod";
import type { PluginResult } from "../types.ts";
import type { Schema } from "./schema.ts";
import { jsonObject, requiredAny } from "./schema_helpers.ts";

/**
 * Names of the built-in resource hooks.
 *
 * @example
 * ```ts
 * import { ResourceHookType } from "@cpex/core";
 * console.log(ResourceHookType.RESOURCE_POST_FETCH); // "resource_post_fetch"
 * ```
 */
export const ResourceHookType = {
  /** Before a resource is fetched; plugins may block or rewrite the URI and metadata. */
  RESOURCE_PRE_FETCH: "resource_pre_fetch",
  /** After a resource was fetched; plugins may block or rewrite the content. */
  RESOURCE_POST_FETCH: "resource_post_fetch",
} as const;
/** One of the {@linkcode ResourceHookType} values. */
export type ResourceHookType = typeof ResourceHookType[keyof typeof ResourceHookType];

/**
 * Payload of `resource_pre_fetch`.
 *
 * @example
 * ```ts
 * import type { ResourcePreFetchPayload } from "@cpex/core";
 * const p: ResourcePreFetchPayload = { uri: "file:///data.txt" };
 * ```
 */
export interface ResourcePreFetchPayload {
  /** The resource's URI (required). */
  uri: string;
  /** Request metadata; `{}` by default. */
  metadata?: Record<string, unknown> | null;
}

/**
 * Schema of {@linkcode ResourcePreFetchPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { ResourcePreFetchPayloadSchema } from "@cpex/core";
 * ResourcePreFetchPayloadSchema.parse({ uri: "file:///x" }); // { uri: "file:///x", metadata: {} }
 * ```
 */
export const ResourcePreFetchPayloadSchema: Schema<ResourcePreFetchPayload> = z.object({
  uri: z.string(),
  metadata: jsonObject().nullable().default(() => ({})),
});

/**
 * Payload of `resource_post_fetch`.
 *
 * @example
 * ```ts
 * import type { ResourcePostFetchPayload } from "@cpex/core";
 * const p: ResourcePostFetchPayload = {
 *   uri: "file:///data.txt",
 *   content: { type: "resource", uri: "file:///data.txt", text: "hello" },
 * };
 * ```
 */
export interface ResourcePostFetchPayload {
  /** The resource's URI (required). */
  uri: string;
  /** The fetched content: any value, the key is required. */
  content: unknown;
}

/**
 * Schema of {@linkcode ResourcePostFetchPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { ResourcePostFetchPayloadSchema } from "@cpex/core";
 * ResourcePostFetchPayloadSchema.parse({ uri: "file:///x", content: "hello" });
 * ```
 */
export const ResourcePostFetchPayloadSchema: Schema<ResourcePostFetchPayload> = z.object({
  uri: z.string(),
  content: requiredAny(),
});

/**
 * Result of a `resource_pre_fetch` hook.
 *
 * @example
 * ```ts
 * import type { ResourcePreFetchResult } from "@cpex/core";
 * const r: ResourcePreFetchResult = { modified_payload: { uri: "file:///safe.txt" } };
 * ```
 */
export type ResourcePreFetchResult = PluginResult<ResourcePreFetchPayload>;

/**
 * Result of a `resource_post_fetch` hook.
 *
 * @example
 * ```ts
 * import type { ResourcePostFetchResult } from "@cpex/core";
 * const r: ResourcePostFetchResult = {
 *   modified_payload: { uri: "file:///x", content: "[REDACTED]" },
 * };
 * ```
 */
export type ResourcePostFetchResult = PluginResult<ResourcePostFetchPayload>;
