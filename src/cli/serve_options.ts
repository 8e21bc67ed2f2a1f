/**
 * Turns the `serve` command line (and PLUGINS_CONFIG_PATH / PLUGINS_TRANSPORT) into the config
 * source and the {@linkcode ServeOptions} of `ExternalPluginServer.serve()`. Only what the
 * command line sets is passed on: everything else is left to the transport, which applies the
 * reference's precedence (YAML settings block, else PLUGINS_* variables, else defaults).
 *
 * Pure apart from reading two environment variables (permission-aware) and checking that the
 * TLS files exist; imports no transport.
 *
 * @module
 */
import { readEnv } from "../config/env.ts";
import { grpcServerTlsSchema, mcpServerTlsSchema } from "../config/transport_schema.ts";
import type { TlsConfig } from "../types.ts";
import { type CommandSpec, type ParsedArgs, UsageError } from "./args.ts";
import { type LogFormat, type LogLevel, resolveLogLevel } from "../external/server_log.ts";

/**
 * The options of `serve`.
 */
export const SERVE_SPEC: CommandSpec = {
  name: "serve",
  options: {
    config: { type: "string", short: "c" },
    transport: { type: "string", short: "t" },
    path: { type: "string" },
    host: { type: "string", short: "H" },
    port: { type: "string", short: "p" },
    uds: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "tls-ca": { type: "string" },
    "client-auth": { type: "string" },
    "allow-partial": { type: "boolean" },
    "log-level": { type: "string" },
    "log-format": { type: "string" },
    "metrics-port": { type: "string" },
    "metrics-host": { type: "string" },
  },
  positionals: { min: 0, max: 0 },
};

/** The transport names `serve` accepts (`http` and `streamablehttp` are aliases of `mcp`). */
export const SERVE_TRANSPORTS = ["unix", "grpc", "mcp", "http", "streamablehttp", "stdio"] as const;

/**
 * One of {@linkcode SERVE_TRANSPORTS}.
 */
export type ServeTransport = typeof SERVE_TRANSPORTS[number];

/** The reference's default config path of a plugin server (relative to the working dir). */
const DEFAULT_CONFIG_PATH = "./resources/plugins/config.yaml";

const CLIENT_AUTH = ["none", "optional", "require"] as const;
const SSL_CERT_REQS: Record<typeof CLIENT_AUTH[number], number> = {
  none: 0,
  optional: 1,
  require: 2,
};

/**
 * What `serve` will do: the config file, the transport, and the options for `serve()`.
 */
export interface ServePlan {
  /** The config file to load. */
  readonly config: string;
  /** The transport (as given; `mcp` aliases kept). */
  readonly transport: ServeTransport;
  /**
   * Serve even when a plugin of the config did not load or none did (`--allow-partial`);
   * otherwise `serve` refuses before `READY` (issue 12).
   */
  readonly allowPartial: boolean;
  /** `--log-level` (else PLUGINS_LOG_LEVEL, else `info`) and `--log-format` (`text`, `json`). */
  readonly log: { level: LogLevel; format: LogFormat };
  /** The options for `ExternalPluginServer.serve()`. */
  readonly options: {
    transport: ServeTransport;
    path?: string;
    host?: string;
    port?: number;
    uds?: string;
    tls?: TlsConfig;
    metricsPort?: number;
    metricsHost?: string;
  };
}

const TCP_OPTIONS = ["host", "port", "uds", "tls-cert", "tls-key", "tls-ca", "client-auth"];

/** `--log-level` and `--log-format`, checked (issue 12). */
function logOptions(options: ParsedArgs["options"]): ServePlan["log"] {
  let level: LogLevel;
  try {
    level = resolveLogLevel(options["log-level"] as string | undefined);
  } catch (error) {
    fail(`--log-level: ${(error as Error).message}`);
  }
  const format = (options["log-format"] as string | undefined) ?? "text";
  if (format !== "text" && format !== "json") {
    fail(`--log-format must be text or json, got '${format}'`);
  }
  return { level, format };
}

/** `--metrics-port` and `--metrics-host` (issue 15): the optional `/metrics` listener. */
function metricsOptions(
  options: ParsedArgs["options"],
): { metricsPort?: number; metricsHost?: string } {
  const out: { metricsPort?: number; metricsHost?: string } = {};
  if (options["metrics-port"] !== undefined) {
    const raw = options["metrics-port"] as string;
    const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(port) || port > 65535) {
      fail(`--metrics-port must be an integer in 0..65535, got '${raw}'`);
    }
    out.metricsPort = port;
  }
  if (options["metrics-host"] !== undefined) {
    const host = (options["metrics-host"] as string).trim();
    if (host === "") fail("--metrics-host must not be empty");
    if (out.metricsPort === undefined) fail("--metrics-host needs --metrics-port");
    out.metricsHost = host;
  }
  return out;
}

function isTransport(name: string): name is ServeTransport {
  return (SERVE_TRANSPORTS as readonly string[]).includes(name);
}

function fail(message: string): never {
  throw new UsageError(message, "serve");
}

function absolute(flag: string, path: string): string {
  if (!path.startsWith("/")) fail(`${flag} must be an absolute path, got '${path}'`);
  return path;
}

const TLS_FLAGS: Record<string, string> = {
  certfile: "--tls-cert",
  keyfile: "--tls-key",
  ca_bundle: "--tls-ca",
  client_auth: "--client-auth",
  ssl_cert_reqs: "--client-auth",
};

/** TLS from the four flags, validated with the transport's schema (files must exist). */
function tlsOptions(
  options: Readonly<Record<string, string | boolean>>,
  transport: "grpc" | "mcp",
): TlsConfig | undefined {
  const cert = options["tls-cert"] as string | undefined;
  const key = options["tls-key"] as string | undefined;
  const ca = options["tls-ca"] as string | undefined;
  const auth = options["client-auth"] as string | undefined;
  if (cert === undefined && key === undefined && ca === undefined && auth === undefined) {
    return undefined;
  }
  if (cert === undefined || key === undefined) {
    fail("TLS needs both --tls-cert and --tls-key");
  }
  if (options.uds !== undefined) fail("TLS cannot be combined with --uds");
  if (auth !== undefined && !(CLIENT_AUTH as readonly string[]).includes(auth)) {
    fail(`--client-auth must be one of ${CLIENT_AUTH.join(", ")}, got '${auth}'`);
  }
  const clientAuth = (auth ?? (ca !== undefined ? "require" : "none")) as typeof CLIENT_AUTH[
    number
  ];
  if (clientAuth !== "none" && ca === undefined) {
    fail(`--client-auth ${clientAuth} needs --tls-ca (the CA that signs client certificates)`);
  }
  const input = transport === "grpc"
    ? { certfile: cert, keyfile: key, ca_bundle: ca ?? null, client_auth: clientAuth }
    : {
      certfile: cert,
      keyfile: key,
      ca_bundle: ca ?? null,
      ssl_cert_reqs: SSL_CERT_REQS[clientAuth],
    };
  const schema = transport === "grpc" ? grpcServerTlsSchema : mcpServerTlsSchema;
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = TLS_FLAGS[String(issue.path[0] ?? "")] ?? "TLS";
    fail(`${flag}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Resolves the `serve` command line. The config is `--config`, else PLUGINS_CONFIG_PATH, else
 * `./resources/plugins/config.yaml`; the transport is `--transport`, else PLUGINS_TRANSPORT
 * (lower-cased).
 *
 * @throws {UsageError} for a missing or unknown transport, an option that does not apply to
 * the transport, a bad port, a relative socket path, or incomplete or invalid TLS flags.
 */
export function resolveServePlan(args: ParsedArgs): ServePlan {
  const options = args.options;
  const config = (options.config as string | undefined) ?? readEnv("PLUGINS_CONFIG_PATH") ??
    DEFAULT_CONFIG_PATH;
  const fromEnv = options.transport === undefined;
  const name = (options.transport as string | undefined) ??
    readEnv("PLUGINS_TRANSPORT")?.trim().toLowerCase();
  if (name === undefined || name === "") {
    fail(`missing --transport (or PLUGINS_TRANSPORT): one of ${SERVE_TRANSPORTS.join(", ")}`);
  }
  if (!isTransport(name)) {
    fail(
      `unknown transport '${name}'${fromEnv ? " (from PLUGINS_TRANSPORT)" : ""}: ` +
        `expected one of ${SERVE_TRANSPORTS.join(", ")}`,
    );
  }
  const allowPartial = options["allow-partial"] === true;
  const log = logOptions(options);
  const given = (flags: string[]) => flags.filter((f) => options[f] !== undefined);
  const serveOptions: ServePlan["options"] = { transport: name, ...metricsOptions(options) };
  if (name === "unix" || name === "stdio") {
    const wrong = given(name === "unix" ? TCP_OPTIONS : ["path", ...TCP_OPTIONS]);
    if (wrong.length) {
      fail(`--${wrong[0]} does not apply to --transport ${name}`);
    }
    if (options.path !== undefined) {
      serveOptions.path = absolute("--path", options.path as string);
    }
    return { config, transport: name, allowPartial, log, options: serveOptions };
  }
  if (options.path !== undefined) {
    fail(`--path does not apply to --transport ${name} (use --uds for a Unix socket)`);
  }
  if (options.uds !== undefined) {
    if (options.host !== undefined || options.port !== undefined) {
      fail("--uds cannot be combined with --host or --port");
    }
    serveOptions.uds = absolute("--uds", options.uds as string);
  }
  if (options.host !== undefined) {
    const host = (options.host as string).trim();
    if (host === "") fail("--host must not be empty");
    serveOptions.host = host;
  }
  if (options.port !== undefined) {
    const raw = options.port as string;
    const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(port) || port > 65535) {
      fail(`--port must be an integer in 0..65535, got '${raw}'`);
    }
    serveOptions.port = port;
  }
  const tls = tlsOptions(options, name === "grpc" ? "grpc" : "mcp");
  if (tls) serveOptions.tls = tls;
  return { config, transport: name, allowPartial, log, options: serveOptions };
}
