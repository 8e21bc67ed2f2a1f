/**
 * Schemas of the transport blocks of a config (spec §2.4, §2.5): the TLS blocks, an external
 * plugin's `mcp`, `grpc` and `unix_socket` client sections, and the `server_settings`,
 * `grpc_server_settings` and `unix_socket_server_settings` sections used by plugin servers.
 * Every block fills its defaults, so a parsed block is complete (nulls included) like the
 * reference's model dump.
 *
 * @module
 */
import { z } from "zod";
import type {
  GrpcClientConfig,
  McpClientConfig,
  TlsConfig,
  UnixSocketClientConfig,
} from "../types.ts";
import { checkSocketPath, expandHome, isExecutable, pathKind } from "./fs_checks.ts";
import { booleanField, choiceField, integerField, numberField, stringField } from "./scalars.ts";
import { checkGrpcTarget, checkUrl } from "./url.ts";

/**
 * The `server_settings` section: where the MCP plugin server listens.
 *
 * @example
 * ```ts
 * import type { McpServerConfig } from "@cpex/core";
 * const s: McpServerConfig = { host: "127.0.0.1", port: 8000, uds: null, tls: null };
 * ```
 */
export interface McpServerConfig {
  /** Host to bind (default `127.0.0.1`). */
  host: string;
  /** Port (default 8000; 0 picks a free port). */
  port: number;
  /** Unix socket path instead of TCP (canonicalised), or null. */
  uds: string | null;
  /** Server TLS (`certfile`, `keyfile`, `ca_bundle`, `keyfile_password`, `ssl_cert_reqs`). */
  tls: TlsConfig | null;
}

/**
 * The `grpc_server_settings` section: where the gRPC plugin server listens.
 *
 * @example
 * ```ts
 * import type { GrpcServerConfig } from "@cpex/core";
 * const s: GrpcServerConfig = { host: "127.0.0.1", port: 50051, uds: null, tls: null };
 * ```
 */
export interface GrpcServerConfig {
  /** Host to bind (default `127.0.0.1`). */
  host: string;
  /** Port (default 50051; 0 picks a free port). */
  port: number;
  /** Unix socket path instead of TCP (canonicalised), or null. */
  uds: string | null;
  /** Server TLS (`certfile`, `keyfile`, `ca_bundle`, `keyfile_password`, `client_auth`). */
  tls: TlsConfig | null;
}

/**
 * The `unix_socket_server_settings` section.
 *
 * @example
 * ```ts
 * import type { UnixSocketServerConfig } from "@cpex/core";
 * const s: UnixSocketServerConfig = { path: "/tmp/mcpgateway-plugins.sock" };
 * ```
 */
export interface UnixSocketServerConfig {
  /** Socket path (default `/tmp/mcpgateway-plugins.sock`). */
  path: string;
}

/** Default socket path of the Unix socket plugin server. */
export const DEFAULT_UNIX_SOCKET_PATH = "/tmp/mcpgateway-plugins.sock";

const present = (v: string | null | undefined): v is string =>
  v !== null && v !== undefined && v !== "";

/** A TLS file path: `~` expanded, and it must be an existing file where we may look. */
const tlsPath = stringField({ nonBlank: true }).transform((raw, ctx): string => {
  const path = expandHome(raw);
  const kind = pathKind(path);
  if (kind === "missing") ctx.addIssue({ code: "custom", message: `file not found: ${path}` });
  else if (kind === "dir" || kind === "other") {
    ctx.addIssue({ code: "custom", message: `not a regular file: ${path}` });
  }
  return path;
});

const tlsBaseShape = {
  certfile: tlsPath.nullable().default(null),
  keyfile: tlsPath.nullable().default(null),
  ca_bundle: tlsPath.nullable().default(null),
  keyfile_password: stringField().nullable().default(null),
};

function keyfileNeedsCertfile(
  tls: { certfile: string | null; keyfile: string | null },
  ctx: z.RefinementCtx,
): void {
  if (tls.keyfile !== null && tls.certfile === null) {
    ctx.addIssue({ code: "custom", path: ["keyfile"], message: "keyfile requires certfile" });
  }
}

/**
 * TLS of an MCP client (`mcp.tls`): base files + `verify` (true), `check_hostname` (true).
 */
export const mcpClientTlsSchema: z.ZodType<TlsConfig> = z.object({
  ...tlsBaseShape,
  verify: booleanField().default(true),
  check_hostname: booleanField().default(true),
}).superRefine(keyfileNeedsCertfile);

/**
 * TLS of the MCP server (`server_settings.tls`): base files + `ssl_cert_reqs` (0 none,
 * 1 optional, 2 required; default 2).
 */
export const mcpServerTlsSchema: z.ZodType<TlsConfig> = z.object({
  ...tlsBaseShape,
  ssl_cert_reqs: integerField({ min: 0, max: 2 }).default(2),
}).superRefine(keyfileNeedsCertfile);

/**
 * TLS of a gRPC client (`grpc.tls`): base files + `verify` (true).
 */
export const grpcClientTlsSchema: z.ZodType<TlsConfig> = z.object({
  ...tlsBaseShape,
  verify: booleanField().default(true),
}).superRefine(keyfileNeedsCertfile);

/**
 * TLS of the gRPC server (`grpc_server_settings.tls`): base files + `client_auth`
 * (`none` | `optional` | `require`, case-insensitive, stored lower-case; default `require`).
 */
export const grpcServerTlsSchema: z.ZodType<TlsConfig> = z.object({
  ...tlsBaseShape,
  client_auth: choiceField(["none", "optional", "require"], { foldCase: true }).default("require"),
}).superRefine(keyfileNeedsCertfile);

/** A Unix socket path field (`uds`): see `checkSocketPath`. */
const udsField = stringField().transform((raw, ctx): string => {
  const r = checkSocketPath(raw);
  if ("error" in r) {
    ctx.addIssue({ code: "custom", message: r.error });
    return z.NEVER;
  }
  if (r.warning) console.warn(`cpex config: ${r.warning}`);
  return r.path;
});

const urlField = stringField().transform((url, ctx): string => {
  if (url === "") return url;
  const problem = checkUrl(url);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
  return url;
});

const scriptField = stringField().transform((script, ctx): string => {
  if (!script.startsWith("/")) return script; // relative scripts are not checked
  const kind = pathKind(script);
  if (kind === "missing") {
    ctx.addIssue({ code: "custom", message: `script not found: ${script}` });
  } else if (kind === "dir" || kind === "other") {
    ctx.addIssue({ code: "custom", message: `script is not a file: ${script}` });
  } else if (kind === "file" && !/\.(py|sh)$/.test(script) && !isExecutable(script)) {
    ctx.addIssue({
      code: "custom",
      message: `script ${script} must be executable (or end in .py or .sh)`,
    });
  }
  return script;
});

const cmdField = z.array(stringField({ nonBlank: true })).superRefine((cmd, ctx) => {
  if (cmd.length === 0) ctx.addIssue({ code: "custom", message: "must be a non-empty list" });
});

const envField = z.record(z.string(), stringField()).superRefine((env, ctx) => {
  const keys = Object.keys(env);
  if (keys.length === 0) ctx.addIssue({ code: "custom", message: "must be a non-empty mapping" });
  for (const k of keys) {
    if (k.trim() === "") ctx.addIssue({ code: "custom", message: "keys must be non-blank" });
  }
});

const cwdField = stringField({ nonBlank: true }).transform((raw, ctx): string => {
  const path = expandHome(raw);
  const kind = pathKind(path);
  if (kind === "missing" || kind === "file" || kind === "other") {
    ctx.addIssue({ code: "custom", message: `directory not found: ${path}` });
    return z.NEVER;
  }
  if (kind === "unchecked") return path;
  return Deno.realPathSync(path);
});

const MCP_PROTOS = ["SSE", "STREAMABLEHTTP", "STDIO"] as const;

/**
 * The `mcp` section of an external plugin. Rules: STDIO needs exactly one of `script`/`cmd`
 * and takes no `url`, `uds` or `tls`; SSE and STREAMABLEHTTP need `url` and take no
 * `script`/`cmd`/`env`/`cwd`; `uds` is STREAMABLEHTTP only; `tls` never with `uds`.
 */
export const mcpClientSchema: z.ZodType<McpClientConfig> = z.object({
  proto: choiceField(MCP_PROTOS),
  url: urlField.nullable().default(null),
  urls: z.array(urlField).min(1).optional(),
  script: scriptField.nullable().default(null),
  cmd: cmdField.nullable().default(null),
  env: envField.nullable().default(null),
  cwd: cwdField.nullable().default(null),
  uds: udsField.nullable().default(null),
  tls: mcpClientTlsSchema.nullable().default(null),
  reconnect_attempts: integerField({ min: 0 }).default(3),
  reconnect_delay: numberField({ min: 0 }).default(0.1),
}).superRefine((m, ctx) => {
  const issue = (path: string[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  if (m.proto === "STDIO") {
    if (!present(m.script) && m.cmd === null) {
      issue([], "transport type set to STDIO but no script/cmd value");
    }
    if (present(m.script) && m.cmd !== null) {
      issue([], "must set either script or cmd for STDIO, not both");
    }
    if (present(m.url)) issue(["url"], "not allowed with STDIO (use script or cmd)");
    if (m.urls !== undefined) issue(["urls"], "only allowed with STREAMABLEHTTP");
    if (m.uds !== null) issue(["uds"], "only allowed with STREAMABLEHTTP");
    if (m.tls !== null) issue(["tls"], "only allowed with SSE or STREAMABLEHTTP");
    return;
  }
  if (m.urls !== undefined) {
    if (present(m.url)) issue(["urls"], "cannot have both 'url' and 'urls' configured");
    if (m.proto !== "STREAMABLEHTTP") issue(["urls"], "only allowed with STREAMABLEHTTP");
    if (m.uds !== null) issue(["urls"], "cannot be combined with uds");
  } else if (!present(m.url)) issue(["url"], `required: expected a URL for ${m.proto}`);
  for (const key of ["script", "cmd", "env", "cwd"] as const) {
    if (m[key] !== null) issue([key], "only allowed with STDIO");
  }
  if (m.uds !== null && m.proto !== "STREAMABLEHTTP") {
    issue(["uds"], "only allowed with STREAMABLEHTTP");
  }
  if (m.uds !== null && m.tls !== null) issue(["tls"], "cannot be combined with uds");
});

const grpcTargetField = stringField({ nonBlank: true }).superRefine((target, ctx) => {
  if (!target.includes(":")) {
    ctx.addIssue({
      code: "custom",
      message: `expected host:port; got ${JSON.stringify(target)}`,
    });
    return;
  }
  // The URL rules' address ranges (issue 9 item 11); the reference checks no gRPC target.
  const problem = checkGrpcTarget(target);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A replica of `grpc.targets`: `host:port`, or `unix:/path` for a server on a Unix socket. */
const grpcReplicaField = stringField({ nonBlank: true }).transform((target, ctx): string => {
  if (!target.startsWith("unix:")) {
    const checked = grpcTargetField.safeParse(target);
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        ctx.addIssue({ code: "custom", message: issue.message });
      }
    }
    return target;
  }
  const r = checkSocketPath(target.slice("unix:".length));
  if ("error" in r) {
    ctx.addIssue({ code: "custom", message: r.error });
    return z.NEVER;
  }
  if (r.warning) console.warn(`cpex config: ${r.warning}`);
  return `unix:${r.path}`;
});

/**
 * The `grpc` section of an external plugin: exactly one of `target` (`host:port`) and `uds`;
 * `tls` only with `target`.
 */
export const grpcClientSchema: z.ZodType<GrpcClientConfig> = z.object({
  target: grpcTargetField.nullable().default(null),
  targets: z.array(grpcReplicaField).min(1).optional(),
  uds: udsField.nullable().default(null),
  tls: grpcClientTlsSchema.nullable().default(null),
}).superRefine((g, ctx) => {
  if (g.targets !== undefined && (g.target !== null || g.uds !== null)) {
    ctx.addIssue({
      code: "custom",
      path: ["targets"],
      message: "cannot have 'targets' with 'target' or 'uds' configured",
    });
  } else if (g.target === null && g.uds === null && g.targets === undefined) {
    ctx.addIssue({ code: "custom", message: "must have either 'target' or 'uds' configured" });
  } else if (g.target !== null && g.uds !== null) {
    ctx.addIssue({ code: "custom", message: "cannot have both 'target' and 'uds' configured" });
  } else if (
    g.tls !== null && (g.uds !== null || g.targets?.some((t) => t.startsWith("unix:")))
  ) {
    ctx.addIssue({ code: "custom", path: ["tls"], message: "cannot be combined with uds" });
  }
});

const absolutePathField = stringField({ nonBlank: true }).superRefine((path, ctx) => {
  if (!path.startsWith("/")) {
    ctx.addIssue({
      code: "custom",
      message: `must be an absolute path (start with /); got ${JSON.stringify(path)}`,
    });
  }
});

/**
 * The `unix_socket` section of an external plugin: absolute `path`, reconnect settings and
 * the read `timeout` in seconds.
 */
export const unixSocketClientSchema: z.ZodType<UnixSocketClientConfig> = z.object({
  path: absolutePathField.optional(),
  paths: z.array(absolutePathField).min(1).optional(),
  reconnect_attempts: integerField({ min: 0 }).default(3),
  reconnect_delay: numberField({ min: 0 }).default(0.1),
  timeout: numberField({ above: 0 }).default(30),
}).superRefine((u, ctx) => {
  if (u.path === undefined && u.paths === undefined) {
    ctx.addIssue({ code: "custom", path: ["path"], message: "Field required" });
  } else if (u.path !== undefined && u.paths !== undefined) {
    ctx.addIssue({ code: "custom", message: "cannot have both 'path' and 'paths' configured" });
  }
});

function udsExcludesTls(s: { uds: string | null; tls: unknown }, ctx: z.RefinementCtx): void {
  if (s.uds !== null && s.tls !== null) {
    ctx.addIssue({ code: "custom", path: ["tls"], message: "cannot be combined with uds" });
  }
}

/**
 * The `server_settings` section (MCP plugin server).
 */
export const mcpServerSchema: z.ZodType<McpServerConfig> = z.object({
  host: stringField({ nonBlank: true }).default("127.0.0.1"),
  port: integerField({ min: 0, max: 65535 }).default(8000),
  uds: udsField.nullable().default(null),
  tls: mcpServerTlsSchema.nullable().default(null),
}).superRefine(udsExcludesTls);

/**
 * The `grpc_server_settings` section (gRPC plugin server).
 */
export const grpcServerSchema: z.ZodType<GrpcServerConfig> = z.object({
  host: stringField({ nonBlank: true }).default("127.0.0.1"),
  port: integerField({ min: 0, max: 65535 }).default(50051),
  uds: udsField.nullable().default(null),
  tls: grpcServerTlsSchema.nullable().default(null),
}).superRefine(udsExcludesTls);

/**
 * The `unix_socket_server_settings` section (Unix socket plugin server).
 */
export const unixSocketServerSchema: z.ZodType<UnixSocketServerConfig> = z.object({
  path: stringField({ nonBlank: true }).default(DEFAULT_UNIX_SOCKET_PATH),
});
