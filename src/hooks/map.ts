/**
 * The compile-time map from hook name to payload type, used to type
 * `PluginManager.invokeHook(hook, payload, ...)` and its result.
 *
 * Custom hooks get typed the same way through declaration merging: augment
 * {@linkcode HookPayloads} (and {@linkcode HookResultPayloads} if the hook returns a different
 * type than it receives) in the module you import the core from.
 *
 * ```ts ignore
 * import { z } from "zod";
 * import { hookRegistry } from "@cpex/core";
 *
 * interface EmailPayload {
 *   recipient: string;
 *   subject: string;
 * }
 *
 * declare module "@cpex/core" {
 *   interface HookPayloads {
 *     email_pre_send: EmailPayload;
 *   }
 *   interface HookResultPayloads {
 *     email_pre_send: EmailPayload;
 *   }
 * }
 *
 * // Optional, for JSON conversion and validation at trust boundaries:
 * hookRegistry.register("email_pre_send", {
 *   payload: z.object({ recipient: z.string(), subject: z.string() }),
 * });
 * // Now `manager.invokeHook("email_pre_send", { recipient: 1 }, ctx)` fails type checking.
 * ```
 *
 * @module
 */
import type { AgentPostInvokePayload, AgentPreInvokePayload } from "./agents.ts";
import type {
  HttpAuthCheckPermissionPayload,
  HttpAuthCheckPermissionResultPayload,
  HttpAuthResolveUserPayload,
  HttpHeaderPayload,
  HttpPostRequestPayload,
  HttpPreRequestPayload,
} from "./http.ts";
import type { PromptPosthookPayload, PromptPrehookPayload } from "./prompts.ts";
import type { ResourcePostFetchPayload, ResourcePreFetchPayload } from "./resources.ts";
import type { ToolPostInvokePayload, ToolPreInvokePayload } from "./tools.ts";

/**
 * Hook name -> payload type a plugin receives. Augment it for custom hooks (see the module
 * documentation).
 *
 * @example
 * ```ts
 * import type { HookPayloads } from "@cpex/core";
 * const p: HookPayloads["tool_pre_invoke"] = { name: "search", args: {} };
 * ```
 */
export interface HookPayloads {
  /** Payload of `tool_pre_invoke`. */
  tool_pre_invoke: ToolPreInvokePayload;
  /** Payload of `tool_post_invoke`. */
  tool_post_invoke: ToolPostInvokePayload;
  /** Payload of `prompt_pre_fetch`. */
  prompt_pre_fetch: PromptPrehookPayload;
  /** Payload of `prompt_post_fetch`. */
  prompt_post_fetch: PromptPosthookPayload;
  /** Payload of `resource_pre_fetch`. */
  resource_pre_fetch: ResourcePreFetchPayload;
  /** Payload of `resource_post_fetch`. */
  resource_post_fetch: ResourcePostFetchPayload;
  /** Payload of `agent_pre_invoke`. */
  agent_pre_invoke: AgentPreInvokePayload;
  /** Payload of `agent_post_invoke`. */
  agent_post_invoke: AgentPostInvokePayload;
  /** Payload of `http_pre_request`. */
  http_pre_request: HttpPreRequestPayload;
  /** Payload of `http_post_request`. */
  http_post_request: HttpPostRequestPayload;
  /** Payload of `http_auth_resolve_user`. */
  http_auth_resolve_user: HttpAuthResolveUserPayload;
  /** Payload of `http_auth_check_permission`. */
  http_auth_check_permission: HttpAuthCheckPermissionPayload;
}

/**
 * Hook name -> type a plugin returns as `modified_payload`. The same as the payload except for
 * the cross-type HTTP hooks. Augment it for custom cross-type hooks.
 *
 * @example
 * ```ts
 * import type { HookResultPayloads } from "@cpex/core";
 * const headers: HookResultPayloads["http_pre_request"] = { "x-tenant": "acme" };
 * ```
 */
export interface HookResultPayloads {
  /** Modified payload returned by `tool_pre_invoke`. */
  tool_pre_invoke: ToolPreInvokePayload;
  /** Modified payload returned by `tool_post_invoke`. */
  tool_post_invoke: ToolPostInvokePayload;
  /** Modified payload returned by `prompt_pre_fetch`. */
  prompt_pre_fetch: PromptPrehookPayload;
  /** Modified payload returned by `prompt_post_fetch`. */
  prompt_post_fetch: PromptPosthookPayload;
  /** Modified payload returned by `resource_pre_fetch`. */
  resource_pre_fetch: ResourcePreFetchPayload;
  /** Modified payload returned by `resource_post_fetch`. */
  resource_post_fetch: ResourcePostFetchPayload;
  /** Modified payload returned by `agent_pre_invoke`. */
  agent_pre_invoke: AgentPreInvokePayload;
  /** Modified payload returned by `agent_post_invoke`. */
  agent_post_invoke: AgentPostInvokePayload;
  /** Modified payload returned by `http_pre_request`. */
  http_pre_request: HttpHeaderPayload;
  /** Modified payload returned by `http_post_request`. */
  http_post_request: HttpHeaderPayload;
  /** Modified payload returned by `http_auth_resolve_user`. */
  http_auth_resolve_user: Record<string, unknown>;
  /** Modified payload returned by `http_auth_check_permission`. */
  http_auth_check_permission: HttpAuthCheckPermissionResultPayload;
}

/**
 * Names of the hooks known at compile time (the built-ins plus any augmentation).
 *
 * @example
 * ```ts
 * import type { KnownHookName } from "@cpex/core";
 * const h: KnownHookName = "prompt_pre_fetch";
 * ```
 */
export type KnownHookName = keyof HookPayloads;

/**
 * The payload type of hook `H`, or `unknown` for hooks not in {@linkcode HookPayloads}.
 *
 * @example
 * ```ts
 * import type { PayloadOf } from "@cpex/core";
 * const p: PayloadOf<"resource_pre_fetch"> = { uri: "file:///x" };
 * const anything: PayloadOf<"my_custom_hook"> = 42; // unknown
 * ```
 */
export type PayloadOf<H extends string> = H extends keyof HookPayloads ? HookPayloads[H]
  : unknown;

/**
 * The `modified_payload` type of hook `H`, or `unknown` for hooks not in
 * {@linkcode HookResultPayloads}. For a hook augmented only in {@linkcode HookPayloads}, its
 * payload type.
 *
 * @example
 * ```ts
 * import type { ResultPayloadOf } from "@cpex/core";
 * const d: ResultPayloadOf<"http_auth_check_permission"> = { granted: true };
 * ```
 */
export type ResultPayloadOf<H extends string> = H extends keyof HookResultPayloads
  ? HookResultPayloads[H]
  : PayloadOf<H>;
