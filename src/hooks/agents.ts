/**
 * The built-in agent hooks, `agent_pre_invoke` and `agent_post_invoke`: their names, payload
 * schemas and types. Conditions match the payload's `agent_id` against a plugin's `agents`
 * list.
 *
 * @module
 */
import { z } from "zod";
import type { PluginResult } from "../types.ts";
import type { Schema } from "./schema.ts";
import { type HttpHeaderPayload, HttpHeaderPayloadSchema } from "./http.ts";
import { asZod, jsonObject } from "./schema_helpers.ts";

/**
 * Names of the built-in agent hooks.
 *
 * @example
 * ```ts
 * import { AgentHookType } from "@cpex/core";
 * console.log(AgentHookType.AGENT_PRE_INVOKE); // "agent_pre_invoke"
 * ```
 */
export const AgentHookType = {
  /** Before an agent runs; plugins may block or rewrite its input. */
  AGENT_PRE_INVOKE: "agent_pre_invoke",
  /** After an agent ran; plugins may block or rewrite its output. */
  AGENT_POST_INVOKE: "agent_post_invoke",
} as const;
/** One of the {@linkcode AgentHookType} values. */
export type AgentHookType = typeof AgentHookType[keyof typeof AgentHookType];

/**
 * Payload of `agent_pre_invoke`.
 *
 * @example
 * ```ts
 * import type { AgentPreInvokePayload } from "@cpex/core";
 * const p: AgentPreInvokePayload = {
 *   agent_id: "planner",
 *   messages: [{ role: "user", content: "plan my week" }],
 *   model: "gpt-x",
 * };
 * ```
 */
export interface AgentPreInvokePayload {
  /** The agent's id (required). */
  agent_id: string;
  /** The conversation (required; items are usually `{ role, content }` objects). */
  messages: unknown[];
  /** Tool names the agent may use; `null` by default. */
  tools?: string[] | null;
  /**
   * Request headers; `null` by default.
   *
   * @deprecated Kept for compatibility with the reference; use extensions instead.
   */
  headers?: HttpHeaderPayload | null;
  /** Model to use; `null` by default. */
  model?: string | null;
  /** System prompt; `null` by default. */
  system_prompt?: string | null;
  /** Model parameters; `{}` by default. */
  parameters?: Record<string, unknown> | null;
}

/**
 * Schema of {@linkcode AgentPreInvokePayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { AgentPreInvokePayloadSchema } from "@cpex/core";
 * const p = AgentPreInvokePayloadSchema.parse({ agent_id: "a", messages: [] });
 * console.log(p.parameters); // {}
 * ```
 */
export const AgentPreInvokePayloadSchema: Schema<AgentPreInvokePayload> = z.object({
  agent_id: z.string(),
  messages: z.array(z.unknown()),
  tools: z.array(z.string()).nullable().default(null),
  headers: asZod(HttpHeaderPayloadSchema).nullable().default(null),
  model: z.string().nullable().default(null),
  system_prompt: z.string().nullable().default(null),
  parameters: jsonObject().nullable().default(() => ({})),
});

/**
 * Payload of `agent_post_invoke`.
 *
 * @example
 * ```ts
 * import type { AgentPostInvokePayload } from "@cpex/core";
 * const p: AgentPostInvokePayload = {
 *   agent_id: "planner",
 *   messages: [{ role: "assistant", content: "done" }],
 *   tool_calls: [{ name: "calendar", arguments: {} }],
 * };
 * ```
 */
export interface AgentPostInvokePayload {
  /** The agent's id (required). */
  agent_id: string;
  /** The agent's output messages (required). */
  messages: unknown[];
  /** Tool calls the agent made; `null` by default. */
  tool_calls?: Record<string, unknown>[] | null;
}

/**
 * Schema of {@linkcode AgentPostInvokePayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { AgentPostInvokePayloadSchema } from "@cpex/core";
 * AgentPostInvokePayloadSchema.parse({ agent_id: "a", messages: [] }); // tool_calls: null
 * ```
 */
export const AgentPostInvokePayloadSchema: Schema<AgentPostInvokePayload> = z.object({
  agent_id: z.string(),
  messages: z.array(z.unknown()),
  tool_calls: z.array(jsonObject()).nullable().default(null),
});

/**
 * Result of an `agent_pre_invoke` hook.
 *
 * @example
 * ```ts
 * import type { AgentPreInvokeResult } from "@cpex/core";
 * const r: AgentPreInvokeResult = {
 *   modified_payload: { agent_id: "planner", messages: [], model: "small" },
 * };
 * ```
 */
export type AgentPreInvokeResult = PluginResult<AgentPreInvokePayload>;

/**
 * Result of an `agent_post_invoke` hook.
 *
 * @example
 * ```ts
 * import type { AgentPostInvokeResult } from "@cpex/core";
 * const r: AgentPostInvokeResult = { metadata: { checked: true } };
 * ```
 */
export type AgentPostInvokeResult = PluginResult<AgentPostInvokePayload>;
