/**
 * The four built-in HTTP hooks: `http_pre_request`, `http_post_request`,
 * `http_auth_resolve_user` and `http_auth_check_permission`.
 *
 * They are *cross-type* hooks: the payload a plugin receives is not the type it returns as
 * `modified_payload` (pre/post request return headers, resolve-user returns a user object,
 * check-permission returns a decision). They carry no payload-specific conditions; only the
 * context-level condition fields (`server_ids`, `tenant_ids`, `user_patterns`,
 * `content_types`) apply to them.
 *
 * @module
 */
import { z } from "zod";
import type { PluginResult } from "../types.ts";
import type { Schema } from "./schema.ts";
import { asZod, jsonObject } from "./schema_helpers.ts";

/**
 * Names of the built-in HTTP hooks.
 *
 * @example
 * ```ts
 * import { HttpHookType } from "@cpex/core";
 * console.log(HttpHookType.HTTP_PRE_REQUEST); // "http_pre_request"
 * ```
 */
export const HttpHookType = {
  /** Before the gateway handles an HTTP request; may return replacement headers. */
  HTTP_PRE_REQUEST: "http_pre_request",
  /** After the gateway answered an HTTP request; may return replacement headers. */
  HTTP_POST_REQUEST: "http_post_request",
  /** Resolves the user behind a request's credentials; may return a user object. */
  HTTP_AUTH_RESOLVE_USER: "http_auth_resolve_user",
  /** Decides whether a user holds a permission; may return a decision. */
  HTTP_AUTH_CHECK_PERMISSION: "http_auth_check_permission",
} as const;
/** One of the {@linkcode HttpHookType} values. */
export type HttpHookType = typeof HttpHookType[keyof typeof HttpHookType];

/**
 * HTTP headers as a plain string map. On the wire it is the bare object.
 *
 * @example
 * ```ts
 * import type { HttpHeaderPayload } from "@cpex/core";
 * const headers: HttpHeaderPayload = { "content-type": "application/json" };
 * ```
 */
export type HttpHeaderPayload = Record<string, string>;

/**
 * Schema of {@linkcode HttpHeaderPayload}: an object whose values are all strings.
 *
 * @example
 * ```ts
 * import { HttpHeaderPayloadSchema } from "@cpex/core";
 * HttpHeaderPayloadSchema.parse({ authorization: "Bearer x" });
 * ```
 */
export const HttpHeaderPayloadSchema: Schema<HttpHeaderPayload> = z.record(
  z.string(),
  z.string(),
);

/**
 * Payload of `http_pre_request`.
 *
 * @example
 * ```ts
 * import type { HttpPreRequestPayload } from "@cpex/core";
 * const p: HttpPreRequestPayload = {
 *   path: "/api/tools",
 *   method: "GET",
 *   headers: { authorization: "Bearer x" },
 * };
 * ```
 */
export interface HttpPreRequestPayload {
  /** Request path. */
  path: string;
  /** HTTP method (any string). */
  method: string;
  /** Client address; `null` when unknown (the default). */
  client_host?: string | null;
  /** Client port; `null` when unknown (the default). */
  client_port?: number | null;
  /** Request headers (required). */
  headers: HttpHeaderPayload;
}

const preRequestShape = {
  path: z.string(),
  method: z.string(),
  client_host: z.string().nullable().default(null),
  client_port: z.number().int().nullable().default(null),
  headers: asZod(HttpHeaderPayloadSchema),
};

/**
 * Schema of {@linkcode HttpPreRequestPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { HttpPreRequestPayloadSchema } from "@cpex/core";
 * const p = HttpPreRequestPayloadSchema.parse({ path: "/", method: "GET", headers: {} });
 * console.log(p.client_host); // null
 * ```
 */
export const HttpPreRequestPayloadSchema: Schema<HttpPreRequestPayload> = z.object(
  preRequestShape,
);

/**
 * Payload of `http_post_request`: the pre-request fields plus the response.
 *
 * @example
 * ```ts
 * import type { HttpPostRequestPayload } from "@cpex/core";
 * const p: HttpPostRequestPayload = {
 *   path: "/api/tools",
 *   method: "GET",
 *   headers: {},
 *   response_headers: { "x-request-id": "r1" },
 *   status_code: 200,
 * };
 * ```
 */
export interface HttpPostRequestPayload extends HttpPreRequestPayload {
  /** Response headers; `null` by default. */
  response_headers?: HttpHeaderPayload | null;
  /** Response status; `null` by default. */
  status_code?: number | null;
}

/**
 * Schema of {@linkcode HttpPostRequestPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { HttpPostRequestPayloadSchema } from "@cpex/core";
 * const p = HttpPostRequestPayloadSchema.parse({
 *   path: "/",
 *   method: "GET",
 *   headers: {},
 *   status_code: 404,
 * });
 * console.log(p.response_headers); // null
 * ```
 */
export const HttpPostRequestPayloadSchema: Schema<HttpPostRequestPayload> = z.object({
  ...preRequestShape,
  response_headers: asZod(HttpHeaderPayloadSchema).nullable().default(null),
  status_code: z.number().int().nullable().default(null),
});

/**
 * Payload of `http_auth_resolve_user`.
 *
 * @example
 * ```ts
 * import type { HttpAuthResolveUserPayload } from "@cpex/core";
 * const p: HttpAuthResolveUserPayload = {
 *   credentials: { scheme: "ldap", token: "t" },
 *   headers: { "x-ldap-token": "t" },
 *   client_host: "10.0.0.1",
 * };
 * ```
 */
export interface HttpAuthResolveUserPayload {
  /** Credentials extracted by the gateway; `null` by default. */
  credentials?: Record<string, unknown> | null;
  /** Request headers (required). */
  headers: HttpHeaderPayload;
  /** Client address; `null` by default. */
  client_host?: string | null;
  /** Client port; `null` by default. */
  client_port?: number | null;
}

/**
 * Schema of {@linkcode HttpAuthResolveUserPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { HttpAuthResolveUserPayloadSchema } from "@cpex/core";
 * const p = HttpAuthResolveUserPayloadSchema.parse({ headers: {} });
 * console.log(p.credentials); // null
 * ```
 */
export const HttpAuthResolveUserPayloadSchema: Schema<HttpAuthResolveUserPayload> = z.object({
  credentials: jsonObject().nullable().default(null),
  headers: asZod(HttpHeaderPayloadSchema),
  client_host: z.string().nullable().default(null),
  client_port: z.number().int().nullable().default(null),
});

/**
 * Payload of `http_auth_check_permission`.
 *
 * @example
 * ```ts
 * import type { HttpAuthCheckPermissionPayload } from "@cpex/core";
 * const p: HttpAuthCheckPermissionPayload = {
 *   user_email: "alice@example.com",
 *   permission: "tools.execute",
 *   resource_type: "tool",
 * };
 * ```
 */
export interface HttpAuthCheckPermissionPayload {
  /** The user asking (required). */
  user_email: string;
  /** The permission asked for (required). */
  permission: string;
  /** Kind of resource; `null` by default. */
  resource_type?: string | null;
  /** Team scope; `null` by default. */
  team_id?: string | null;
  /** Whether the user is an administrator; `false` by default. */
  is_admin?: boolean;
  /** How the user authenticated; `null` by default. */
  auth_method?: string | null;
  /** Client address; `null` by default. */
  client_host?: string | null;
  /** Client user agent; `null` by default. */
  user_agent?: string | null;
}

/**
 * Schema of {@linkcode HttpAuthCheckPermissionPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { HttpAuthCheckPermissionPayloadSchema } from "@cpex/core";
 * const p = HttpAuthCheckPermissionPayloadSchema.parse({ user_email: "a@b.c", permission: "x" });
 * console.log(p.is_admin); // false
 * ```
 */
export const HttpAuthCheckPermissionPayloadSchema: Schema<HttpAuthCheckPermissionPayload> = z
  .object({
    user_email: z.string(),
    permission: z.string(),
    resource_type: z.string().nullable().default(null),
    team_id: z.string().nullable().default(null),
    is_admin: z.boolean().default(false),
    auth_method: z.string().nullable().default(null),
    client_host: z.string().nullable().default(null),
    user_agent: z.string().nullable().default(null),
  });

/**
 * What an `http_auth_check_permission` plugin returns as `modified_payload`: its decision.
 *
 * @example
 * ```ts
 * import type { HttpAuthCheckPermissionResultPayload } from "@cpex/core";
 * const d: HttpAuthCheckPermissionResultPayload = { granted: false, reason: "not in team" };
 * ```
 */
export interface HttpAuthCheckPermissionResultPayload {
  /** Whether the permission is granted (required). */
  granted: boolean;
  /** Why; `null` by default. */
  reason?: string | null;
}

/**
 * Schema of {@linkcode HttpAuthCheckPermissionResultPayload} (unknown fields are dropped).
 *
 * @example
 * ```ts
 * import { HttpAuthCheckPermissionResultPayloadSchema } from "@cpex/core";
 * HttpAuthCheckPermissionResultPayloadSchema.parse({ granted: true }); // { granted: true, reason: null }
 * ```
 */
export const HttpAuthCheckPermissionResultPayloadSchema: Schema<
  HttpAuthCheckPermissionResultPayload
> = z.object({
  granted: z.boolean(),
  reason: z.string().nullable().default(null),
});

/**
 * Schema of what an `http_auth_resolve_user` plugin returns as `modified_payload`: any user
 * object.
 *
 * @example
 * ```ts
 * import { HttpAuthResolveUserResultPayloadSchema } from "@cpex/core";
 * HttpAuthResolveUserResultPayloadSchema.parse({ email: "alice@example.com" });
 * ```
 */
export const HttpAuthResolveUserResultPayloadSchema: Schema<Record<string, unknown>> = jsonObject();

/**
 * Result of an `http_pre_request` hook: `modified_payload` is a header map.
 *
 * @example
 * ```ts
 * import type { HttpPreRequestResult } from "@cpex/core";
 * const r: HttpPreRequestResult = { modified_payload: { "x-tenant": "acme" } };
 * ```
 */
export type HttpPreRequestResult = PluginResult<HttpHeaderPayload>;

/**
 * Result of an `http_post_request` hook: `modified_payload` is a header map.
 *
 * @example
 * ```ts
 * import type { HttpPostRequestResult } from "@cpex/core";
 * const r: HttpPostRequestResult = { modified_payload: { "x-trace": "t1" }, metadata: {} };
 * ```
 */
export type HttpPostRequestResult = PluginResult<HttpHeaderPayload>;

/**
 * Result of an `http_auth_resolve_user` hook: `modified_payload` is the resolved user.
 *
 * @example
 * ```ts
 * import type { HttpAuthResolveUserResult } from "@cpex/core";
 * const r: HttpAuthResolveUserResult = {
 *   continue_processing: false,
 *   modified_payload: { email: "alice@example.com", is_admin: false },
 * };
 * ```
 */
export type HttpAuthResolveUserResult = PluginResult<Record<string, unknown>>;

/**
 * Result of an `http_auth_check_permission` hook: `modified_payload` is the decision.
 *
 * @example
 * ```ts
 * import type { HttpAuthCheckPermissionResult } from "@cpex/core";
 * const r: HttpAuthCheckPermissionResult = {
 *   continue_processing: false,
 *   modified_payload: { granted: true },
 * };
 * ```
 */
export type HttpAuthCheckPermissionResult = PluginResult<HttpAuthCheckPermissionResultPayload>;
