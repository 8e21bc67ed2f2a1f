/**
 * The data model shared by the manager, plugins and transports. Field names are the wire
 * names of the reference (`continue_processing`, `global_context`, ...), so the same objects
 * travel as YAML, JSON and protobuf without a renaming layer.
 *
 * @module
 */

/**
 * How a plugin takes part in a hook chain. Phases run in the order SEQUENTIAL, TRANSFORM,
 * AUDIT, CONCURRENT, FIRE_AND_FORGET; `disabled` plugins are never loaded.
 *
 * @example
 * ```ts
 * import { PluginMode } from "@cpex/core";
 * const mode: PluginMode = PluginMode.SEQUENTIAL; // "sequential"
 * ```
 */
export const PluginMode = {
  /** Runs serially; may block the chain and modify the payload. */
  SEQUENTIAL: "sequential",
  /** Runs serially; may modify the payload but never block. */
  TRANSFORM: "transform",
  /** Runs serially; observes only (blocks and modifications are discarded). */
  AUDIT: "audit",
  /** Runs in parallel with its peers; may block (first block wins), never modifies. */
  CONCURRENT: "concurrent",
  /** Runs in the background after the chain; its result is ignored. */
  FIRE_AND_FORGET: "fire_and_forget",
  /** Never loaded nor run. */
  DISABLED: "disabled",
} as const;
/** One of the {@linkcode PluginMode} values. */
export type PluginMode = typeof PluginMode[keyof typeof PluginMode];

/**
 * What the manager does when a plugin throws, times out or returns something that is not a
 * result.
 *
 * @example
 * ```ts
 * import { OnError } from "@cpex/core";
 * const policy: OnError = OnError.IGNORE; // "ignore"
 * ```
 */
export const OnError = {
  /** Fail the whole hook call with a `PluginError` (fail closed). */
  FAIL: "fail",
  /** Treat the plugin as if it had allowed the request. */
  IGNORE: "ignore",
  /** Like `ignore`, and skip the plugin from now on (until `resetRuntimeDisabled()`). */
  DISABLE: "disable",
} as const;
/** One of the {@linkcode OnError} values. */
export type OnError = typeof OnError[keyof typeof OnError];

/**
 * Whether plugins may change payloads of hooks that have no explicit
 * {@linkcode HookPayloadPolicy}.
 *
 * @example
 * ```ts
 * import { DefaultHookPolicy } from "@cpex/core";
 * const p: DefaultHookPolicy = DefaultHookPolicy.DENY;
 * ```
 */
export const DefaultHookPolicy = {
  /** Modifications are accepted wholesale. */
  ALLOW: "allow",
  /** Modifications are rejected. */
  DENY: "deny",
} as const;
/** One of the {@linkcode DefaultHookPolicy} values. */
export type DefaultHookPolicy = typeof DefaultHookPolicy[keyof typeof DefaultHookPolicy];

/**
 * Status of one plugin's execution record.
 *
 * @example
 * ```ts
 * import { ExecutionStatus } from "@cpex/core";
 * console.log(ExecutionStatus.TIMEOUT); // "timeout"
 * ```
 */
export const ExecutionStatus = {
  COMPLETED: "completed",
  ERROR: "error",
  TIMEOUT: "timeout",
  SKIPPED: "skipped",
  CANCELLED: "cancelled",
  DISABLED: "disabled",
} as const;
/** One of the {@linkcode ExecutionStatus} values. */
export type ExecutionStatus = typeof ExecutionStatus[keyof typeof ExecutionStatus];

/**
 * Which payload fields plugins may change for one hook. Changes to other fields are dropped.
 *
 * @example
 * ```ts
 * import type { HookPayloadPolicy } from "@cpex/core";
 * const policy: HookPayloadPolicy = { writable_fields: new Set(["args"]) };
 * ```
 */
export interface HookPayloadPolicy {
  /** Names of top-level payload fields a plugin may change. */
  readonly writable_fields: ReadonlySet<string>;
}

/**
 * A policy decision made by a plugin that blocks (or annotates) a request.
 *
 * @example
 * ```ts
 * import type { PluginViolation } from "@cpex/core";
 * const v: PluginViolation = {
 *   reason: "Prompt not allowed",
 *   description: "A denied word was found",
 *   code: "deny",
 *   details: { word: "crap" },
 * };
 * ```
 */
export interface PluginViolation {
  /** Short reason. */
  reason: string;
  /** Longer human description. */
  description: string;
  /** Machine-readable code. */
  code: string;
  /** Extra structured details. */
  details?: Record<string, unknown> | null;
  /** JSON-RPC error code to answer an MCP client with. */
  mcp_error_code?: number | null;
  /** HTTP status to answer an HTTP client with. */
  http_status_code?: number | null;
  /** HTTP headers to add to the answer. */
  http_headers?: Record<string, string> | null;
  /** Set by the manager to the name of the plugin that reported it (not sent on the wire). */
  plugin_name?: string;
}

/**
 * Description of a plugin failure, as carried by {@linkcode PluginError} and returned by
 * fire-and-forget tasks.
 *
 * @example
 * ```ts
 * import type { PluginErrorModel } from "@cpex/core";
 * const e: PluginErrorModel = { message: "Error('boom')", plugin_name: "p" };
 * ```
 */
export interface PluginErrorModel {
  message: string;
  plugin_name: string;
  code?: string | null;
  details?: Record<string, unknown> | null;
  mcp_error_code?: number;
}

/**
 * The authenticated user's identity.
 *
 * @example
 * ```ts
 * import type { UserContext } from "@cpex/core";
 * const u: UserContext = { user_id: "u1", email: "a@example.com", groups: ["admins"] };
 * ```
 */
export interface UserContext {
  user_id: string;
  email?: string | null;
  full_name?: string | null;
  is_admin?: boolean;
  groups?: string[];
  roles?: string[];
  team_id?: string | null;
  teams?: string[] | null;
  department?: string | null;
  attributes?: Record<string, unknown>;
  auth_method?: string | null;
  authenticated_at?: string | null;
  service_account?: string | null;
  delegation_chain?: string[];
}

/**
 * Request-wide context shared by every plugin of a hook call. Plugins get their own copy of
 * `state` and `metadata`; the writes of SEQUENTIAL, TRANSFORM and CONCURRENT plugins are merged
 * back into the caller's object after each successful call.
 *
 * @example
 * ```ts
 * import type { GlobalContext } from "@cpex/core";
 * const ctx: GlobalContext = { request_id: "req-1", server_id: "srv", user: "alice" };
 * ```
 */
export interface GlobalContext {
  request_id: string;
  user?: string | Record<string, unknown> | null;
  user_context?: UserContext | null;
  tenant_id?: string | null;
  server_id?: string | null;
  content_type?: string | null;
  state?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/**
 * Extension slots handed to hooks that ask for them (`security`, `http`, `custom`, ...).
 *
 * @example
 * ```ts
 * import type { Extensions } from "@cpex/core";
 * const ext: Extensions = { custom: { tenant_tier: "gold" } };
 * ```
 */
export type Extensions = Record<string, unknown>;

/**
 * What a hook returns. Every field is optional: `{}` means "allow, unchanged".
 *
 * @example
 * ```ts
 * import type { PluginResult } from "@cpex/core";
 * const block: PluginResult = {
 *   continue_processing: false,
 *   violation: { reason: "denied", description: "no", code: "deny" },
 * };
 * ```
 */
export interface PluginResult<T = unknown> {
  /** `false` asks to stop the chain (honoured for SEQUENTIAL and CONCURRENT plugins). */
  continue_processing?: boolean;
  /** A replacement payload (honoured for SEQUENTIAL and TRANSFORM plugins). */
  modified_payload?: T | null;
  /** Replacement extensions (honoured for SEQUENTIAL and TRANSFORM plugins). */
  modified_extensions?: Extensions | null;
  /** Why the request is blocked. */
  violation?: PluginViolation | null;
  /** Metadata merged into the hook result (not for FIRE_AND_FORGET plugins). */
  metadata?: Record<string, unknown> | null;
  /** HTTP headers the gateway should add. */
  http_headers?: Record<string, string> | null;
  /** A delay the caller should wait before retrying (the largest wins). */
  retry_delay_ms?: number;
}

/**
 * A trusted record of one plugin's execution within a hook call.
 *
 * @example
 * ```ts
 * import type { ExecutionRecord } from "@cpex/core";
 * function denied(r: ExecutionRecord): boolean {
 *   return !r.effective_allow;
 * }
 * ```
 */
export interface ExecutionRecord {
  plugin_id: string;
  plugin_name: string;
  plugin_kind: string;
  hook_name: string;
  mode: PluginMode;
  status: ExecutionStatus;
  requested_allow: boolean | null;
  effective_allow: boolean;
  matched: boolean | null;
  applied: boolean;
  payload_modified: boolean;
  extensions_modified: boolean;
  duration_ns: number;
  reason: string | null;
  error_code: string | null;
  config_keys: string[];
}

/**
 * One condition object of a plugin. Within one object every non-empty field must match
 * (AND); a plugin runs when any of its condition objects matches (OR).
 *
 * @example
 * ```ts
 * import type { PluginCondition } from "@cpex/core";
 * const c: PluginCondition = { tools: ["search"], server_ids: ["prod"] };
 * ```
 */
export interface PluginCondition {
  server_ids?: string[] | null;
  tenant_ids?: string[] | null;
  tools?: string[] | null;
  prompts?: string[] | null;
  resources?: string[] | null;
  agents?: string[] | null;
  user_patterns?: string[] | null;
  content_types?: string[] | null;
}

/**
 * TLS files for an external plugin's client or server side.
 *
 * @example
 * ```ts
 * import type { TlsConfig } from "@cpex/core";
 * const tls: TlsConfig = { ca_bundle: "/etc/cpex/ca.pem" };
 * ```
 */
export interface TlsConfig {
  certfile?: string | null;
  keyfile?: string | null;
  ca_bundle?: string | null;
  keyfile_password?: string | null;
  verify?: boolean;
  check_hostname?: boolean;
  ssl_cert_reqs?: number;
  client_auth?: string;
}

/**
 * The `mcp:` block of an external plugin.
 *
 * @example
 * ```ts
 * import type { McpClientConfig } from "@cpex/core";
 * const mcp: McpClientConfig = { proto: "STREAMABLEHTTP", url: "http://localhost:8000/mcp" };
 * ```
 */
export interface McpClientConfig {
  proto: "SSE" | "STREAMABLEHTTP" | "STDIO";
  url?: string | null;
  script?: string | null;
  cmd?: string[] | null;
  env?: Record<string, string> | null;
  cwd?: string | null;
  uds?: string | null;
  tls?: TlsConfig | null;
  reconnect_attempts?: number;
  reconnect_delay?: number;
}

/**
 * The `grpc:` block of an external plugin.
 *
 * @example
 * ```ts
 * import type { GrpcClientConfig } from "@cpex/core";
 * const grpc: GrpcClientConfig = { target: "localhost:50051" };
 * ```
 */
export interface GrpcClientConfig {
  target?: string | null;
  uds?: string | null;
  tls?: TlsConfig | null;
}

/**
 * The `unix_socket:` block of an external plugin.
 *
 * @example
 * ```ts
 * import type { UnixSocketClientConfig } from "@cpex/core";
 * const unix: UnixSocketClientConfig = { path: "/tmp/cpex.sock" };
 * ```
 */
export interface UnixSocketClientConfig {
  path: string;
  reconnect_attempts?: number;
  reconnect_delay?: number;
  timeout?: number;
}

/**
 * One plugin's configuration after validation (defaults filled in).
 *
 * @example
 * ```ts
 * import type { PluginConfig } from "@cpex/core";
 * const cfg: PluginConfig = {
 *   name: "deny",
 *   kind: "./deny.ts#DenyList",
 *   hooks: ["prompt_pre_fetch"],
 *   tags: [],
 *   mode: "sequential",
 *   on_error: "fail",
 *   priority: 10,
 *   max_content_size: 10_000_000,
 *   conditions: [],
 *   capabilities: [],
 *   config: { words: ["crap"] },
 * };
 * ```
 */
export interface PluginConfig {
  name: string;
  kind: string;
  description?: string | null;
  author?: string | null;
  namespace?: string | null;
  version?: string | null;
  hooks: string[];
  tags: string[];
  mode: PluginMode;
  on_error: OnError;
  priority: number;
  /** Per-plugin timeout in seconds (ours); overrides the manager's timeout. */
  timeout?: number | null;
  max_content_size: number;
  conditions: PluginCondition[];
  applied_to?: Record<string, unknown> | null;
  capabilities: string[];
  config?: Record<string, unknown> | null;
  mcp?: McpClientConfig | null;
  grpc?: GrpcClientConfig | null;
  unix_socket?: UnixSocketClientConfig | null;
}

/**
 * Plugin configuration as a caller may write it: only `name` and `kind` are required.
 *
 * @example
 * ```ts
 * import type { PluginConfigInput } from "@cpex/core";
 * const cfg: PluginConfigInput = { name: "p", kind: "inline", hooks: ["tool_pre_invoke"] };
 * ```
 */
export type PluginConfigInput =
  & Pick<PluginConfig, "name">
  & Partial<Omit<PluginConfig, "name" | "mode" | "priority">>
  & {
    /** Mode, including the legacy aliases `enforce`, `permissive`, `enforce_ignore_error`. */
    mode?: PluginMode | "enforce" | "permissive" | "enforce_ignore_error";
    /** Priority; numeric strings are accepted. */
    priority?: number | string;
  };
