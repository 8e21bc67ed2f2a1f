/**
 * Which payload attribute a plugin condition's payload-specific field (`tools`, `prompts`,
 * `resources`, `agents`) is matched against, per hook. This is the reference's fixed map
 * (spec C47); any hook not in it (the HTTP hooks, `cmf.*`, `evaluate`, custom hooks) ignores
 * payload-specific condition fields unless it was registered with a `conditionField`.
 *
 * @module
 */

/**
 * A payload-specific condition field of {@linkcode PluginCondition}.
 *
 * @example
 * ```ts
 * import type { ConditionField } from "@cpex/core";
 * const f: ConditionField = "tools";
 * ```
 */
export type ConditionField = "tools" | "prompts" | "resources" | "agents";

/**
 * The condition field that applies to a hook and the payload attribute it is compared with.
 *
 * @example
 * ```ts
 * import type { ConditionTarget } from "@cpex/core";
 * const t: ConditionTarget = { field: "prompts", attribute: "prompt_id" };
 * ```
 */
export interface ConditionTarget {
  /** The condition field (`tools`, `prompts`, `resources` or `agents`). */
  readonly field: ConditionField;
  /** The payload attribute whose value must be in that field's list. */
  readonly attribute: string;
}

/**
 * The valid {@linkcode ConditionField} values.
 */
export const CONDITION_FIELDS: readonly ConditionField[] = Object.freeze([
  "tools",
  "prompts",
  "resources",
  "agents",
]);

/**
 * The attribute a condition field is matched against when a custom hook is registered with a
 * `conditionField` but no `matchField`.
 */
export const DEFAULT_MATCH_FIELDS: Readonly<Record<ConditionField, string>> = Object.freeze({
  tools: "name",
  prompts: "prompt_id",
  resources: "uri",
  agents: "agent_id",
});

/**
 * The reference's fixed hook -> condition target map (spec C47). `token_delegate` and
 * `identity_resolve` are listed although their payloads are not built in.
 */
export const PAYLOAD_CONDITION_TARGETS: Readonly<Record<string, ConditionTarget>> = Object
  .freeze(
    {
      tool_pre_invoke: Object.freeze({ field: "tools", attribute: "name" }),
      tool_post_invoke: Object.freeze({ field: "tools", attribute: "name" }),
      prompt_pre_fetch: Object.freeze({ field: "prompts", attribute: "prompt_id" }),
      prompt_post_fetch: Object.freeze({ field: "prompts", attribute: "prompt_id" }),
      resource_pre_fetch: Object.freeze({ field: "resources", attribute: "uri" }),
      resource_post_fetch: Object.freeze({ field: "resources", attribute: "uri" }),
      agent_pre_invoke: Object.freeze({ field: "agents", attribute: "agent_id" }),
      agent_post_invoke: Object.freeze({ field: "agents", attribute: "agent_id" }),
      token_delegate: Object.freeze({ field: "tools", attribute: "target_name" }),
      identity_resolve: Object.freeze({ field: "tools", attribute: "raw_token" }),
    } satisfies Record<string, ConditionTarget>,
  );
