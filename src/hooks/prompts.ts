/**
 * The built-in prompt hooks, `prompt_pre_fetch` and `prompt_post_fetch`: their names, payload
 * schemas and types. Conditions match the payload's `prompt_id` against a plugin's `prompts`
 * list.
 *
 * @module
 */
import { z } from "zod";
import type { PluginResult } from "../types.ts";
import type { Schema } from "./schema.ts";
import { requiredAny } from "./schema_helpers.ts";

/**
 * Names of the built-in prompt hooks.
 *
 * @example
 * ```ts
 * import { PromptHookType } from "@cpex/core";
 * console.log(PromptHookType.PROMPT_PRE_FETCH); // "prompt_pre_fetch"
 * ```
 */
export const PromptHookType = {
  /** Before a prompt is rendered; plugins may block or rewrite the arguments. */
  PROMPT_PRE_FETCH: "prompt_pre_fetch",
  /** After a prompt was rendered; plugins may block or rewrite the result. */
  PROMPT_POST_FETCH: "prompt_post_fetch",
} as const;
/** One of the {@linkcode PromptHookType} values. */
export type PromptHookType = typeof PromptHookType[keyof typeof PromptHookType];

/**
 * Payload of `prompt_pre_fetch`.
 *
 * @example
 * ```ts
 * import type { PromptPrehookPayload } from "@cpex/core";
 * const p: PromptPrehookPayload = { prompt_id: "greeting", args: { user: "alice" } };
 * ```
 */
export interface PromptPrehookPayload {
  /** The prompt's id (required). */
  prompt_id: string;
  /** Template arguments; every value must be a string. `{}` by default. */
  args?: Record<string, string> | null;
}

/**
 * Schema of {@linkcode PromptPrehookPayload} (unknown fields are dropped; non-string argument
 * values are rejected).
 *
 * @example
 * ```ts
 * import { PromptPrehookPayloadSchema } from "@cpex/core";
 * const p = PromptPrehookPayloadSchema.parse({ prompt_id: "123", name: "dropped" });
 * console.log(p); // { prompt_id: "123", args: {} }
 * ```
 */
export const PromptPrehookPayloadSchema: Schema<PromptPrehookPayload> = z.object({
  prompt_id: z.string(),
  args: z.record(z.string(), z.string()).nullable().default(() => ({})),
});

/**
 * Payload of `prompt_post_fetch`.
 *
 * @example
 * ```ts
 * import type { PromptPosthookPayload } from "@cpex/core";
 * const p: PromptPosthookPayload = {
 *   prompt_id: "greeting",
 *   result: { messages: [{ role: "user", content: { type: "text", text: "Hi" } }] },
 * };
 * ```
 */
export interface PromptPosthookPayload {
  /** The prompt's id (required). */
  prompt_id: string;
  /** The rendered prompt (typically `{ messages: [...] }`); the key is required. */
  result: unknown;
}

/**
 * Schema of {@linkcode PromptPosthookPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { PromptPosthookPayloadSchema } from "@cpex/core";
 * PromptPosthookPayloadSchema.parse({ prompt_id: "p", result: { messages: [] } });
 * ```
 */
export const PromptPosthookPayloadSchema: Schema<PromptPosthookPayload> = z.object({
  prompt_id: z.string(),
  result: requiredAny(),
});

/**
 * Result of a `prompt_pre_fetch` hook.
 *
 * @example
 * ```ts
 * import type { PromptPrehookResult } from "@cpex/core";
 * const r: PromptPrehookResult = { continue_processing: true };
 * ```
 */
export type PromptPrehookResult = PluginResult<PromptPrehookPayload>;

/**
 * Result of a `prompt_post_fetch` hook.
 *
 * @example
 * ```ts
 * import type { PromptPosthookResult } from "@cpex/core";
 * const r: PromptPosthookResult = { modified_payload: { prompt_id: "p", result: null } };
 * ```
 */
export type PromptPosthookResult = PluginResult<PromptPosthookPayload>;
