/**
 * Registration of the 12 built-in hooks (tools, prompts, resources, agents, HTTP) into a
 * {@linkcode HookRegistry}.
 *
 * @module
 */
import { AgentPostInvokePayloadSchema, AgentPreInvokePayloadSchema } from "./agents.ts";
import {
  HttpAuthCheckPermissionPayloadSchema,
  HttpAuthCheckPermissionResultPayloadSchema,
  HttpAuthResolveUserPayloadSchema,
  HttpAuthResolveUserResultPayloadSchema,
  HttpHeaderPayloadSchema,
  HttpPostRequestPayloadSchema,
  HttpPreRequestPayloadSchema,
} from "./http.ts";
import type { KnownHookName } from "./map.ts";
import { PromptPosthookPayloadSchema, PromptPrehookPayloadSchema } from "./prompts.ts";
import type { HookDefinition, HookRegistry } from "./registry.ts";
import { ResourcePostFetchPayloadSchema, ResourcePreFetchPayloadSchema } from "./resources.ts";
import { ToolPostInvokePayloadSchema, ToolPreInvokePayloadSchema } from "./tools.ts";

const BUILTIN_DEFINITIONS: ReadonlyArray<readonly [KnownHookName, HookDefinition<unknown>]> = [
  ["tool_pre_invoke", { payload: ToolPreInvokePayloadSchema }],
  ["tool_post_invoke", { payload: ToolPostInvokePayloadSchema }],
  ["prompt_pre_fetch", { payload: PromptPrehookPayloadSchema }],
  ["prompt_post_fetch", { payload: PromptPosthookPayloadSchema }],
  ["resource_pre_fetch", { payload: ResourcePreFetchPayloadSchema }],
  ["resource_post_fetch", { payload: ResourcePostFetchPayloadSchema }],
  ["agent_pre_invoke", { payload: AgentPreInvokePayloadSchema }],
  ["agent_post_invoke", { payload: AgentPostInvokePayloadSchema }],
  ["http_pre_request", { payload: HttpPreRequestPayloadSchema, result: HttpHeaderPayloadSchema }],
  ["http_post_request", {
    payload: HttpPostRequestPayloadSchema,
    result: HttpHeaderPayloadSchema,
  }],
  ["http_auth_resolve_user", {
    payload: HttpAuthResolveUserPayloadSchema,
    result: HttpAuthResolveUserResultPayloadSchema,
  }],
  ["http_auth_check_permission", {
    payload: HttpAuthCheckPermissionPayloadSchema,
    result: HttpAuthCheckPermissionResultPayloadSchema,
  }],
];

/**
 * Names of the 12 built-in hooks, in registration order.
 *
 * @example
 * ```ts
 * import { BUILTIN_HOOK_NAMES } from "@cpex/core";
 * console.log(BUILTIN_HOOK_NAMES.length); // 12
 * ```
 */
export const BUILTIN_HOOK_NAMES: readonly KnownHookName[] = Object.freeze(
  BUILTIN_DEFINITIONS.map(([name]) => name),
);

/**
 * Registers the 12 built-in hooks into `registry`, skipping any name that is already
 * registered (so a user's earlier registration is kept and calling it twice is harmless).
 *
 * @param registry The registry to fill.
 */
export function registerBuiltinHooks(registry: HookRegistry): void {
  for (const [name, definition] of BUILTIN_DEFINITIONS) {
    if (!registry.isRegistered(name)) registry.register(name, definition);
  }
}
