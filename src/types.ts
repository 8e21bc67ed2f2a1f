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
  /**
   * The plugin ran and returned (also the placeholder status of a fire-and-forget spawn record).
   */
  COMPLETED: "completed",
  /** The plugin threw, returned an invalid result, or failed a validation. */
  ERROR: "error",
  /** The plugin did not finish before its deadline. */
  TIMEOUT: "timeout",
  /** Reserved by the wire format; not emitted (skipped plugins get no record). */
  SKIPPED: "skipped",
  /** Reserved by the wire format; not emitted (cancelled siblings get no record). */
  CANCELLED: "cancelled",
  /** Reserved by the wire format; not emitted (disabled plugins get no record). */
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
  /** What went wrong, e.g. `TypeError('x')` or a timeout message. */
  message: string;
  /** Name of the plugin that failed. */
  plugin_name: string;
  /**
   * Machine-readable error code (e.g. `plugin_error`, `plugin_timeout`); `""` on the wire by
   * default.
   */
  code?: string | null;
  /** Extra structured details; `{}` on the wire by default. */
  details?: Record<string, unknown> | null;
  /** JSON-RPC error code for an MCP client; -32603 (internal error) on the wire by default. */
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
  /** Stable user identifier (required). */
  user_id: string;
  /** E-mail address, if known. */
  email?: string | null;
  /** Display name, if known. */
  full_name?: string | null;
  /** Whether the user is an administrator; `false` by default. */
  is_admin?: boolean;
  /** Group names; `[]` by default. */
  groups?: string[];
  /** Role names; `[]` by default. */
  roles?: string[];
  /** Current team, if any. */
  team_id?: string | null;
  /** All teams the user belongs to, if known. */
  teams?: string[] | null;
  /** Department, if known. */
  department?: string | null;
  /** Free-form identity attributes; `{}` by default. */
  attributes?: Record<string, unknown>;
  /** How the user authenticated (e.g. `jwt`, `api_key`), if known. */
  auth_method?: string | null;
  /** When the user authenticated (ISO 8601 date-time text), if known. */
  authenticated_at?: string | null;
  /** Service account acting for the user, if any. */
  service_account?: string | null;
  /** Identities the request was delegated through; `[]` by default. */
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
  /** Identifier of the request (required); also used to correlate records. */
  request_id: string;
  /**
   * The user: a name/e-mail string or an identity object. Matched by `user_patterns` conditions.
   */
  user?: string | Record<string, unknown> | null;
  /** Structured identity of the authenticated user, if known. */
  user_context?: UserContext | null;
  /** Tenant of the request; matched by `tenant_ids` conditions. */
  tenant_id?: string | null;
  /**
   * Server (gateway or virtual server) handling the request; matched by `server_ids` conditions.
   */
  server_id?: string | null;
  /**
   * Content type of the request (e.g. `application/json`); matched by `content_types` conditions.
   */
  content_type?: string | null;
  /** Request-wide state shared between plugins; `{}` by default. */
  state?: Record<string, unknown>;
  /** Request-wide metadata shared between plugins; `{}` by default. */
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
  /** Id of the registered plugin instance (32 lower-case hex characters). */
  plugin_id: string;
  /** The plugin's configured name. */
  plugin_name: string;
  /** The plugin's configured `kind` (truncated to 256 UTF-8 bytes). */
  plugin_kind: string;
  /** The hook that ran. */
  hook_name: string;
  /** The plugin's configured mode. */
  mode: PluginMode;
  /** How the execution ended. */
  status: ExecutionStatus;
  /**
   * The `continue_processing` the plugin asked for (after mode conversion), or `null` if it gave no
   * answer.
   */
  requested_allow: boolean | null;
  /** Whether the plugin's outcome let the chain continue. */
  effective_allow: boolean;
  /** Whether the plugin acted (blocked or modified something); `null` if it gave no answer. */
  matched: boolean | null;
  /** Whether the plugin's outcome was applied to the hook result. */
  applied: boolean;
  /** Whether the plugin's `modified_payload` was accepted into the chain. */
  payload_modified: boolean;
  /** Whether the plugin returned `modified_extensions` (even if then discarded, as in AUDIT). */
  extensions_modified: boolean;
  /** Wall-clock duration of the plugin call in nanoseconds. */
  duration_ns: number;
  /** Violation reason or error message (truncated to 256 UTF-8 bytes), or `null`. */
  reason: string | null;
  /** Violation code, `plugin_error` or `plugin_timeout`, or `null`. */
  error_code: string | null;
  /** Up to 64 top-level keys of the plugin's trusted `config` (values are never recorded). */
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
  /** Server ids matched against `GlobalContext.server_id`. */
  server_ids?: string[] | null;
  /** Tenant ids matched against `GlobalContext.tenant_id`. */
  tenant_ids?: string[] | null;
  /** Tool names matched against the payload's `name` (tool hooks). */
  tools?: string[] | null;
  /** Prompt ids matched against the payload's `prompt_id` (prompt hooks). */
  prompts?: string[] | null;
  /** Resource URIs matched exactly against the payload's `uri` (resource hooks). */
  resources?: string[] | null;
  /** Agent ids matched against the payload's `agent_id` (agent hooks). */
  agents?: string[] | null;
  /** Case-sensitive substrings, one of which must occur in `GlobalContext.user`. */
  user_patterns?: string[] | null;
  /**
   * Content types (without parameters, lower-case) matched against `GlobalContext.content_type`.
   */
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
  /** Path of the PEM certificate (client certificate for mTLS, or the server's). */
  certfile?: string | null;
  /** Path of the PEM private key of `certfile`. */
  keyfile?: string | null;
  /** Path of the PEM CA bundle used to verify the peer. */
  ca_bundle?: string | null;
  /** Password of `keyfile`, if encrypted. */
  keyfile_password?: string | null;
  /** Client side: verify the server's certificate; `true` by default. */
  verify?: boolean;
  /** MCP client side: check the server's host name; `true` by default. */
  check_hostname?: boolean;
  /** MCP server side: client certificates (0 none, 1 optional, 2 required); 2 by default. */
  ssl_cert_reqs?: number;
  /**
   * gRPC server side: client certificates, `none` | `optional` | `require`; `require` by default.
   */
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
  /** MCP transport to use. */
  proto: "SSE" | "STREAMABLEHTTP" | "STDIO";
  /** Server URL (`SSE` and `STREAMABLEHTTP`). */
  url?: string | null;
  /** Several replicas' URLs instead of `url` (`STREAMABLEHTTP`; ours, issue 14). */
  urls?: string[];
  /** Script that starts the server (`STDIO`; exclusive with `cmd`). */
  script?: string | null;
  /** Command line that starts the server (`STDIO`; exclusive with `script`). */
  cmd?: string[] | null;
  /** Environment of the started server (`STDIO`). */
  env?: Record<string, string> | null;
  /** Working directory of the started server (`STDIO`). */
  cwd?: string | null;
  /** Unix domain socket to reach the server through (`STREAMABLEHTTP`). */
  uds?: string | null;
  /** Client TLS (`SSE` and `STREAMABLEHTTP`; not with `uds`). */
  tls?: TlsConfig | null;
  /** Reconnection attempts after a lost connection; 3 by default. */
  reconnect_attempts?: number;
  /** Base delay between reconnection attempts in seconds (linear backoff); 0.1 by default. */
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
  /** Server address `host:port` (exclusive with `uds`). */
  target?: string | null;
  /** Several replicas' `host:port` (or `unix:/path`) instead of `target`/`uds` (ours, issue 14). */
  targets?: string[];
  /** Unix domain socket path of the server (exclusive with `target`). */
  uds?: string | null;
  /** Client TLS (not with `uds`). */
  tls?: TlsConfig | null;
}

/**
 * The `health_check:` block of an external plugin (ours, issue 14): each replica is probed in
 * the background with the protocol its server speaks; an unhealthy replica gets no calls.
 *
 * @example
 * ```ts
 * import type { HealthCheckConfig } from "@cpex/core";
 * const hc: HealthCheckConfig = { interval: 5, timeout: 1, unhealthy_threshold: 3, healthy_threshold: 2 };
 * ```
 */
export interface HealthCheckConfig {
  /** Seconds between probes of one replica; 5 by default. */
  interval: number;
  /** Seconds one probe may take; 1 by default. */
  timeout: number;
  /** Consecutive failed probes that mark a replica unhealthy; 3 by default. */
  unhealthy_threshold: number;
  /** Consecutive good probes that mark it healthy again; 2 by default. */
  healthy_threshold: number;
}

/**
 * The `circuit_breaker:` block of an external plugin (ours, issue 14), per replica.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerConfig } from "@cpex/core";
 * const cb: CircuitBreakerConfig = { failure_threshold: 5, reset_timeout: 10 };
 * ```
 */
export interface CircuitBreakerConfig {
  /** Consecutive failed or timed-out calls that open a replica's breaker; 5 by default. */
  failure_threshold: number;
  /** Seconds an open breaker stays open before one probe call decides; 10 by default. */
  reset_timeout: number;
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
  /** Absolute path of the server's socket (this or `paths` is required). */
  path?: string;
  /** Several replicas' socket paths instead of `path` (ours, issue 14). */
  paths?: string[];
  /** Reconnection attempts after a lost connection; 3 by default. */
  reconnect_attempts?: number;
  /** Base delay between reconnection attempts in seconds (linear backoff: delay × attempt); 0.1 by default. */
  reconnect_delay?: number;
  /** Read timeout in seconds; 30 by default. */
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
  /** Unique plugin name (required). */
  name: string;
  /**
   * What to load: a module path with a class name (`./deny.ts#DenyList`), a registered kind, or
   * `external` (required).
   */
  kind: string;
  /** Free-form description. */
  description?: string | null;
  /** Author, informational. */
  author?: string | null;
  /** Namespace, informational (unused by the manager). */
  namespace?: string | null;
  /** Plugin version, informational. */
  version?: string | null;
  /** Hook names the plugin is registered for (any string; custom hooks allowed). */
  hooks: string[];
  /** Free-form tags. */
  tags: string[];
  /** How the plugin takes part in a hook chain; `sequential` by default. */
  mode: PluginMode;
  /** What to do when the plugin fails; `fail` by default. */
  on_error: OnError;
  /** Order within a mode: lower runs first; 100 by default. */
  priority: number;
  /** Per-plugin timeout in seconds (ours); overrides the manager's timeout. */
  timeout?: number | null;
  /**
   * Run on live traffic without effect and count where its decision would differ (ours, issue
   * 17; the reference ignores the key).
   */
  shadow?: boolean;
  /** Declared maximum content size (not enforced); 10,000,000 by default. */
  max_content_size: number;
  /** When the plugin runs: any matching condition (OR); `[]` means always. */
  conditions: PluginCondition[];
  /** Declarative `tools`/`prompts`/`resources` targeting, informational (unused by the manager). */
  applied_to?: Record<string, unknown> | null;
  /** Extension capabilities granted to the plugin (e.g. `read_headers`); `[]` by default. */
  capabilities: string[];
  /** Plugin-specific settings (not allowed for `external` plugins). */
  config?: Record<string, unknown> | null;
  /** MCP transport of an `external` plugin. */
  mcp?: McpClientConfig | null;
  /** gRPC transport of an `external` plugin. */
  grpc?: GrpcClientConfig | null;
  /** Unix-socket transport of an `external` plugin. */
  unix_socket?: UnixSocketClientConfig | null;
  /** Background health checks of an `external` plugin's replicas (ours, issue 14). */
  health_check?: HealthCheckConfig;
  /** Circuit breaker of an `external` plugin's replicas (ours, issue 14). */
  circuit_breaker?: CircuitBreakerConfig;
  /**
   * With several replicas, re-send a call once on another replica when its connection died
   * after it was delivered and before any reply (ours, issue 14; default true with several
   * endpoints, no effect with one).
   */
  retry_on_connection_loss?: boolean;
  /**
   * Where a module plugin (`kind: ./module.ts#Export`) runs (ours, issue 16): `none` (in the
   * gateway, the default), `worker` (a Deno Worker) or `process` (a child `deno run`).
   */
  isolation?: Isolation;
  /** What a sandboxed plugin may do (Deno permission descriptor); nothing by default. */
  permissions?: SandboxPermissions;
  /** Heap limit of an `isolation: process` plugin, in MiB (V8 `--max-old-space-size`). */
  memory_mb?: number;
  /** Workers or processes per sandboxed plugin; 1 by default. */
  workers?: number;
  /**
   * `isolation: worker` only: how many Worker threads stuck in synchronous code (Deno 2.9
   * cannot stop them) the plugin may leak before its calls fail at once with
   * `SANDBOX_STUCK`; 2 by default.
   */
  max_stuck?: number;
}

/**
 * Where a module plugin runs (issue 16).
 *
 * @example
 * ```ts
 * import type { Isolation } from "@cpex/core";
 * const level: Isolation = "worker";
 * ```
 */
export type Isolation = "none" | "worker" | "process";

/**
 * The permissions of a sandboxed plugin, as Deno names them: `true` grants all, a list grants
 * those paths, hosts, variables or commands, `false` or absent grants nothing.
 *
 * @example
 * ```ts
 * import type { SandboxPermissions } from "@cpex/core";
 * const p: SandboxPermissions = { read: ["/etc/cpex/words.txt"], net: ["api.example.com:443"] };
 * ```
 */
export interface SandboxPermissions {
  /** File system reads. */
  read?: boolean | string[];
  /** File system writes. */
  write?: boolean | string[];
  /** Network (`host[:port]`, `unix:PATH`). */
  net?: boolean | string[];
  /** Environment variables. */
  env?: boolean | string[];
  /** Subprocesses. */
  run?: boolean | string[];
  /** Foreign libraries. */
  ffi?: boolean | string[];
  /** Remote module imports (`host[:port]`). */
  import?: boolean | string[];
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

/**
 * A plugin context as plain data: what {@linkcode pluginContextFromProto} returns and what the
 * context converters accept (the `PluginContext` class satisfies it).
 *
 * @example
 * ```ts
 * import type { PluginContextData } from "@cpex/core/server";
 * const c: PluginContextData = { global_context: { request_id: "r" }, state: {}, metadata: {} };
 * ```
 */
export interface PluginContextData {
  /** The request-wide context. */
  global_context: GlobalContext;
  /** The plugin's local state. */
  state: Record<string, unknown>;
  /** The plugin's local metadata. */
  metadata: Record<string, unknown>;
}
