/**
 * Transport blocks built from `PLUGINS_*` variables (the reference's `from_env()` builders):
 * client TLS for MCP and gRPC, and the MCP, gRPC and Unix socket server settings. Each returns
 * null when none of its variables is set, and validates what it builds with the same schema
 * as the YAML section; problems are reported as a {@linkcode ConfigError} labelled
 * `environment` whose paths are the variable names.
 *
 * @module
 */
import type { z } from "zod";
import { ConfigError } from "../errors.ts";
import type { TlsConfig } from "../types.ts";
import { type PluginsSettings, readSettings } from "./settings.ts";
import {
  grpcClientTlsSchema,
  type GrpcServerConfig,
  grpcServerSchema,
  mcpClientTlsSchema,
  type McpServerConfig,
  mcpServerSchema,
} from "./transport_schema.ts";

/** field -> [variable, value]; null values are left out. */
type Sources = Record<string, [string, unknown]>;

function build<T>(schema: z.ZodType<T>, sources: Sources): T {
  const input: Record<string, unknown> = {};
  for (const [field, [, value]] of Object.entries(sources)) {
    if (value !== null && value !== undefined) input[field] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    "environment",
    result.error.issues.map((i) => {
      const field = String(i.path[0] ?? "");
      const nested = i.path.length > 1 ? String(i.path[1]) : undefined;
      const source = (nested ? sources[`${field}.${nested}`] : undefined) ?? sources[field];
      return { path: source?.[0] ?? field, message: i.message };
    }),
  );
}

function anySet(sources: Sources): boolean {
  return Object.values(sources).some(([, v]) => v !== null && v !== undefined);
}

/**
 * MCP client TLS from PLUGINS_CLIENT_MTLS_* (null when none is set).
 */
export function mcpClientTlsFromEnv(settings: PluginsSettings = readSettings()): TlsConfig | null {
  const sources: Sources = {
    certfile: ["PLUGINS_CLIENT_MTLS_CERTFILE", settings.clientMtlsCertfile],
    keyfile: ["PLUGINS_CLIENT_MTLS_KEYFILE", settings.clientMtlsKeyfile],
    ca_bundle: ["PLUGINS_CLIENT_MTLS_CA_BUNDLE", settings.clientMtlsCaBundle],
    keyfile_password: ["PLUGINS_CLIENT_MTLS_KEYFILE_PASSWORD", settings.clientMtlsKeyfilePassword],
    verify: ["PLUGINS_CLIENT_MTLS_VERIFY", settings.clientMtlsVerify],
    check_hostname: ["PLUGINS_CLIENT_MTLS_CHECK_HOSTNAME", settings.clientMtlsCheckHostname],
  };
  return anySet(sources) ? build(mcpClientTlsSchema, sources) : null;
}

/**
 * gRPC client TLS from PLUGINS_GRPC_CLIENT_MTLS_* (null when none is set).
 */
export function grpcClientTlsFromEnv(settings: PluginsSettings = readSettings()): TlsConfig | null {
  const sources: Sources = {
    certfile: ["PLUGINS_GRPC_CLIENT_MTLS_CERTFILE", settings.grpcClientMtlsCertfile],
    keyfile: ["PLUGINS_GRPC_CLIENT_MTLS_KEYFILE", settings.grpcClientMtlsKeyfile],
    ca_bundle: ["PLUGINS_GRPC_CLIENT_MTLS_CA_BUNDLE", settings.grpcClientMtlsCaBundle],
    keyfile_password: [
      "PLUGINS_GRPC_CLIENT_MTLS_KEYFILE_PASSWORD",
      settings.grpcClientMtlsKeyfilePassword,
    ],
    verify: ["PLUGINS_GRPC_CLIENT_MTLS_VERIFY", settings.grpcClientMtlsVerify],
  };
  return anySet(sources) ? build(grpcClientTlsSchema, sources) : null;
}

/**
 * MCP server settings from PLUGINS_SERVER_HOST/PORT/UDS, with TLS from PLUGINS_SERVER_SSL_*
 * only when PLUGINS_SERVER_SSL_ENABLED is true (null when nothing is set).
 */
export function mcpServerConfigFromEnv(
  settings: PluginsSettings = readSettings(),
): McpServerConfig | null {
  const base: Sources = {
    host: ["PLUGINS_SERVER_HOST", settings.serverHost],
    port: ["PLUGINS_SERVER_PORT", settings.serverPort],
    uds: ["PLUGINS_SERVER_UDS", settings.serverUds],
  };
  const tls: Sources = settings.serverSslEnabled
    ? {
      "tls.keyfile": ["PLUGINS_SERVER_SSL_KEYFILE", settings.serverSslKeyfile],
      "tls.certfile": ["PLUGINS_SERVER_SSL_CERTFILE", settings.serverSslCertfile],
      "tls.ca_bundle": ["PLUGINS_SERVER_SSL_CA_CERTS", settings.serverSslCaCerts],
      "tls.keyfile_password": [
        "PLUGINS_SERVER_SSL_KEYFILE_PASSWORD",
        settings.serverSslKeyfilePassword,
      ],
      "tls.ssl_cert_reqs": ["PLUGINS_SERVER_SSL_CERT_REQS", settings.serverSslCertReqs],
    }
    : {};
  if (!anySet(base) && !settings.serverSslEnabled) return null;
  return build(mcpServerSchema, withTls(base, tls, "PLUGINS_SERVER_SSL_ENABLED"));
}

/**
 * gRPC server settings from PLUGINS_GRPC_SERVER_HOST/PORT/UDS, with TLS from
 * PLUGINS_GRPC_SERVER_SSL_* only when PLUGINS_GRPC_SERVER_SSL_ENABLED is true.
 */
export function grpcServerConfigFromEnv(
  settings: PluginsSettings = readSettings(),
): GrpcServerConfig | null {
  const base: Sources = {
    host: ["PLUGINS_GRPC_SERVER_HOST", settings.grpcServerHost],
    port: ["PLUGINS_GRPC_SERVER_PORT", settings.grpcServerPort],
    uds: ["PLUGINS_GRPC_SERVER_UDS", settings.grpcServerUds],
  };
  const tls: Sources = settings.grpcServerSslEnabled
    ? {
      "tls.keyfile": ["PLUGINS_GRPC_SERVER_SSL_KEYFILE", settings.grpcServerSslKeyfile],
      "tls.certfile": ["PLUGINS_GRPC_SERVER_SSL_CERTFILE", settings.grpcServerSslCertfile],
      "tls.ca_bundle": ["PLUGINS_GRPC_SERVER_SSL_CA_CERTS", settings.grpcServerSslCaCerts],
      "tls.keyfile_password": [
        "PLUGINS_GRPC_SERVER_SSL_KEYFILE_PASSWORD",
        settings.grpcServerSslKeyfilePassword,
      ],
      "tls.client_auth": ["PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH", settings.grpcServerSslClientAuth],
    }
    : {};
  if (!anySet(base) && !settings.grpcServerSslEnabled) return null;
  return build(grpcServerSchema, withTls(base, tls, "PLUGINS_GRPC_SERVER_SSL_ENABLED"));
}

/** Nests `tls.*` sources under a `tls` input object while keeping the variable names. */
function withTls(base: Sources, tls: Sources, enabledVar: string): Sources {
  if (Object.keys(tls).length === 0) return base;
  const tlsInput: Record<string, unknown> = {};
  for (const [key, [, value]] of Object.entries(tls)) {
    if (value !== null && value !== undefined) tlsInput[key.slice(4)] = value;
  }
  return { ...base, tls: [enabledVar, tlsInput], ...tls };
}
