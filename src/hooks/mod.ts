/**
 * Hook definitions: the names, payload schemas and types of the 12 built-in hooks, the hook
 * registry (JSON conversion and custom hooks), the compile-time hook -> payload map, and the
 * payload-condition targets.
 *
 * ```ts
 * import { hookRegistry, type PayloadOf, ToolHookType } from "@cpex/core";
 *
 * const payload: PayloadOf<"tool_pre_invoke"> = hookRegistry.parsePayload(
 *   ToolHookType.TOOL_PRE_INVOKE,
 *   '{"name":"search","args":{"query":"deno"}}',
 * );
 * console.log(payload.args); // { query: "deno" }
 * ```
 *
 * @module
 */
export * from "./agents.ts";
export * from "./builtins.ts";
export * from "./conditions.ts";
export * from "./errors.ts";
export * from "./http.ts";
export * from "./map.ts";
export * from "./prompts.ts";
export * from "./registry.ts";
export * from "./resources.ts";
export * from "./result.ts";
export * from "./schema.ts";
export * from "./tools.ts";
