/**
 * Runtime settings from `PLUGINS_*` environment variables (spec §2.9).
 *
 * {@linkcode readSettings} returns an object whose properties are read from the environment
 * lazily, on first access (then cached in that object): a malformed variable only fails the
 * code that reads that setting — `PLUGINS_SERVER_PORT=abc` never breaks a gateway that only
 * reads `pluginTimeout`. A malformed value throws a {@linkcode ConfigError} labelled
 * `environment` naming the variable and what is allowed. Variables the process may not read
 * (no `--allow-env`) count as unset.
 *
 * Deliberate differences from the reference: no `.env` file is read (pass variables through the
 * environment, e.g. `deno run --env-file`), and an empty value means "unset" for every
 * variable, not only the ones the reference marks. Call `readSettings()` again to see changed
 * variables (there is no process-wide cache to clear).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { readEnv } from "./env.ts";
import { describeValue, toBoolean, toInteger, toNumber } from "./scalars.ts";

/**
 * The typed `PLUGINS_*` settings. Each property names its variable in its doc.
 *
 * @example
 * ```ts
 * import { readSettings } from "@cpex/core";
 * const s = readSettings();
 * console.log(s.pluginTimeout, s.executionPool); // 30 10 by default
 * ```
 */
export interface PluginsSettings {
  /** PLUGINS_ENABLED (false): truthy iff trimmed lower-case value is 1, true, yes or on. */
  readonly enabled: boolean;
  /** PLUGINS_CONFIG_FILE (`plugins/config.yaml`). */
  readonly configFile: string;
  /** PLUGINS_PLUGIN_TIMEOUT (30): seconds, > 0. */
  readonly pluginTimeout: number;
  /** PLUGINS_FAIL_ON_PLUGIN_ERROR (true here; false in the reference: issue 12, fail closed). */
  readonly failOnPluginError: boolean;
  /** PLUGINS_EXECUTION_POOL (10): 0 = unbounded. */
  readonly executionPool: number;
  /** PLUGINS_DEFAULT_HOOK_POLICY (`allow`). */
  readonly defaultHookPolicy: "allow" | "deny";
  /** PLUGINS_SSRF_PROTECTION_ENABLED (true). */
  readonly ssrfProtectionEnabled: boolean;
  /** PLUGINS_LOG_LEVEL (`INFO`). */
  readonly logLevel: string;
  /** PLUGINS_SKIP_SSL_VERIFY (false). */
  readonly skipSslVerify: boolean;
  /** PLUGINS_HTTPX_MAX_CONNECTIONS (200). */
  readonly httpxMaxConnections: number;
  /** PLUGINS_HTTPX_MAX_KEEPALIVE_CONNECTIONS (100). */
  readonly httpxMaxKeepaliveConnections: number;
  /** PLUGINS_HTTPX_KEEPALIVE_EXPIRY (30.0 s). */
  readonly httpxKeepaliveExpiry: number;
  /** PLUGINS_HTTPX_CONNECT_TIMEOUT (5.0 s). */
  readonly httpxConnectTimeout: number;
  /** PLUGINS_HTTPX_READ_TIMEOUT (120.0 s). */
  readonly httpxReadTimeout: number;
  /** PLUGINS_HTTPX_WRITE_TIMEOUT (30.0 s). */
  readonly httpxWriteTimeout: number;
  /** PLUGINS_HTTPX_POOL_TIMEOUT (10.0 s). */
  readonly httpxPoolTimeout: number;
  /** PLUGINS_CLI_COMPLETION (false). */
  readonly cliCompletion: boolean;
  /** PLUGINS_CLI_MARKUP_MODE (null): markdown, rich or disabled. */
  readonly cliMarkupMode: "markdown" | "rich" | "disabled" | null;
  /** PLUGINS_CLIENT_MTLS_CERTFILE (null). */
  readonly clientMtlsCertfile: string | null;
  /** PLUGINS_CLIENT_MTLS_KEYFILE (null). */
  readonly clientMtlsKeyfile: string | null;
  /** PLUGINS_CLIENT_MTLS_CA_BUNDLE (null). */
  readonly clientMtlsCaBundle: string | null;
  /** PLUGINS_CLIENT_MTLS_KEYFILE_PASSWORD (null). */
  readonly clientMtlsKeyfilePassword: string | null;
  /** PLUGINS_CLIENT_MTLS_VERIFY (null). */
  readonly clientMtlsVerify: boolean | null;
  /** PLUGINS_CLIENT_MTLS_CHECK_HOSTNAME (null). */
  readonly clientMtlsCheckHostname: boolean | null;
  /** PLUGINS_SERVER_SSL_KEYFILE (null). */
  readonly serverSslKeyfile: string | null;
  /** PLUGINS_SERVER_SSL_CERTFILE (null). */
  readonly serverSslCertfile: string | null;
  /** PLUGINS_SERVER_SSL_CA_CERTS (null). */
  readonly serverSslCaCerts: string | null;
  /** PLUGINS_SERVER_SSL_KEYFILE_PASSWORD (null). */
  readonly serverSslKeyfilePassword: string | null;
  /** PLUGINS_SERVER_SSL_CERT_REQS (null): 0 none, 1 optional, 2 required. */
  readonly serverSslCertReqs: number | null;
  /** PLUGINS_SERVER_HOST (null). */
  readonly serverHost: string | null;
  /** PLUGINS_SERVER_PORT (null). */
  readonly serverPort: number | null;
  /** PLUGINS_SERVER_UDS (null). */
  readonly serverUds: string | null;
  /** PLUGINS_SERVER_SSL_ENABLED (null). */
  readonly serverSslEnabled: boolean | null;
  /** PLUGINS_CONFIG_PATH (null): config of an external plugin server. */
  readonly configPath: string | null;
  /** PLUGINS_TRANSPORT (null): transport of an external plugin server. */
  readonly transport: string | null;
  /** PLUGINS_GRPC_CLIENT_MTLS_CERTFILE (null). */
  readonly grpcClientMtlsCertfile: string | null;
  /** PLUGINS_GRPC_CLIENT_MTLS_KEYFILE (null). */
  readonly grpcClientMtlsKeyfile: string | null;
  /** PLUGINS_GRPC_CLIENT_MTLS_CA_BUNDLE (null). */
  readonly grpcClientMtlsCaBundle: string | null;
  /** PLUGINS_GRPC_CLIENT_MTLS_KEYFILE_PASSWORD (null). */
  readonly grpcClientMtlsKeyfilePassword: string | null;
  /** PLUGINS_GRPC_CLIENT_MTLS_VERIFY (null). */
  readonly grpcClientMtlsVerify: boolean | null;
  /** PLUGINS_GRPC_SERVER_SSL_KEYFILE (null). */
  readonly grpcServerSslKeyfile: string | null;
  /** PLUGINS_GRPC_SERVER_SSL_CERTFILE (null). */
  readonly grpcServerSslCertfile: string | null;
  /** PLUGINS_GRPC_SERVER_SSL_CA_CERTS (null). */
  readonly grpcServerSslCaCerts: string | null;
  /** PLUGINS_GRPC_SERVER_SSL_KEYFILE_PASSWORD (null). */
  readonly grpcServerSslKeyfilePassword: string | null;
  /** PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH (null): none, optional or require. */
  readonly grpcServerSslClientAuth: string | null;
  /** PLUGINS_GRPC_SERVER_HOST (null). */
  readonly grpcServerHost: string | null;
  /** PLUGINS_GRPC_SERVER_PORT (null). */
  readonly grpcServerPort: number | null;
  /** PLUGINS_GRPC_SERVER_UDS (null). */
  readonly grpcServerUds: string | null;
  /** PLUGINS_GRPC_SERVER_SSL_ENABLED (null). */
  readonly grpcServerSslEnabled: boolean | null;
  /** PLUGINS_UNIX_SOCKET_PATH, else UNIX_SOCKET_PATH (null). */
  readonly unixSocketPath: string | null;
  /**
   * The value the environment sets for `key`, or `undefined` when its variable is unset or
   * empty — unlike the property, which falls back to the default. Use it to let a config
   * file's `plugin_settings` apply between the environment and the defaults:
   * `settings.envValue("pluginTimeout") ?? config.plugin_settings.plugin_timeout ?? 30`.
   * Throws like the property does for a malformed value.
   */
  envValue<K extends SettingKey>(key: K): PluginsSettings[K] | undefined;
}

/** The names of the settings (every property of {@linkcode PluginsSettings} but `envValue`). */
export type SettingKey = Exclude<keyof PluginsSettings, "envValue">;

/** Parses a raw (non-empty) value or returns a description of what is allowed. */
type Parser = (raw: string) => { value: unknown } | { expected: string };

interface Setting {
  vars: string[];
  parse: Parser;
  fallback: unknown;
}

const text: Parser = (raw) => ({ value: raw });
const bool: Parser = (raw) => {
  const value = toBoolean(raw);
  return value === undefined
    ? { expected: "a boolean (true/false, 1/0, yes/no, on/off)" }
    : { value };
};
const int = (min: number, max = Number.MAX_SAFE_INTEGER): Parser => (raw) => {
  const value = toInteger(raw);
  return value === undefined || value < min || value > max
    ? { expected: `an integer between ${min} and ${max}` }
    : { value };
};
const seconds = (positive: boolean): Parser => (raw) => {
  const value = toNumber(raw);
  return value === undefined || value < 0 || (positive && value === 0)
    ? { expected: positive ? "a number of seconds greater than 0" : "a number ≥ 0" }
    : { value };
};
const choice = (values: string[]): Parser => (raw) => {
  const value = raw.trim().toLowerCase();
  return values.includes(value) ? { value } : { expected: `one of ${values.join(", ")}` };
};

const PORT = int(0, 65535);
const COUNT = int(0);

const s = (vars: string | string[], parse: Parser, fallback: unknown = null): Setting => ({
  vars: typeof vars === "string" ? [vars] : vars,
  parse,
  fallback,
});

const SETTINGS: Record<Exclude<SettingKey, "enabled">, Setting> = {
  configFile: s("PLUGINS_CONFIG_FILE", text, "plugins/config.yaml"),
  pluginTimeout: s("PLUGINS_PLUGIN_TIMEOUT", seconds(true), 30),
  failOnPluginError: s("PLUGINS_FAIL_ON_PLUGIN_ERROR", bool, true),
  executionPool: s("PLUGINS_EXECUTION_POOL", COUNT, 10),
  defaultHookPolicy: s("PLUGINS_DEFAULT_HOOK_POLICY", choice(["allow", "deny"]), "allow"),
  ssrfProtectionEnabled: s("PLUGINS_SSRF_PROTECTION_ENABLED", bool, true),
  logLevel: s("PLUGINS_LOG_LEVEL", text, "INFO"),
  skipSslVerify: s("PLUGINS_SKIP_SSL_VERIFY", bool, false),
  httpxMaxConnections: s("PLUGINS_HTTPX_MAX_CONNECTIONS", COUNT, 200),
  httpxMaxKeepaliveConnections: s("PLUGINS_HTTPX_MAX_KEEPALIVE_CONNECTIONS", COUNT, 100),
  httpxKeepaliveExpiry: s("PLUGINS_HTTPX_KEEPALIVE_EXPIRY", seconds(false), 30.0),
  httpxConnectTimeout: s("PLUGINS_HTTPX_CONNECT_TIMEOUT", seconds(false), 5.0),
  httpxReadTimeout: s("PLUGINS_HTTPX_READ_TIMEOUT", seconds(false), 120.0),
  httpxWriteTimeout: s("PLUGINS_HTTPX_WRITE_TIMEOUT", seconds(false), 30.0),
  httpxPoolTimeout: s("PLUGINS_HTTPX_POOL_TIMEOUT", seconds(false), 10.0),
  cliCompletion: s("PLUGINS_CLI_COMPLETION", bool, false),
  cliMarkupMode: s("PLUGINS_CLI_MARKUP_MODE", choice(["markdown", "rich", "disabled"])),
  clientMtlsCertfile: s("PLUGINS_CLIENT_MTLS_CERTFILE", text),
  clientMtlsKeyfile: s("PLUGINS_CLIENT_MTLS_KEYFILE", text),
  clientMtlsCaBundle: s("PLUGINS_CLIENT_MTLS_CA_BUNDLE", text),
  clientMtlsKeyfilePassword: s("PLUGINS_CLIENT_MTLS_KEYFILE_PASSWORD", text),
  clientMtlsVerify: s("PLUGINS_CLIENT_MTLS_VERIFY", bool),
  clientMtlsCheckHostname: s("PLUGINS_CLIENT_MTLS_CHECK_HOSTNAME", bool),
  serverSslKeyfile: s("PLUGINS_SERVER_SSL_KEYFILE", text),
  serverSslCertfile: s("PLUGINS_SERVER_SSL_CERTFILE", text),
  serverSslCaCerts: s("PLUGINS_SERVER_SSL_CA_CERTS", text),
  serverSslKeyfilePassword: s("PLUGINS_SERVER_SSL_KEYFILE_PASSWORD", text),
  serverSslCertReqs: s("PLUGINS_SERVER_SSL_CERT_REQS", int(0, 2)),
  serverHost: s("PLUGINS_SERVER_HOST", text),
  serverPort: s("PLUGINS_SERVER_PORT", PORT),
  serverUds: s("PLUGINS_SERVER_UDS", text),
  serverSslEnabled: s("PLUGINS_SERVER_SSL_ENABLED", bool),
  configPath: s("PLUGINS_CONFIG_PATH", text),
  transport: s("PLUGINS_TRANSPORT", text),
  grpcClientMtlsCertfile: s("PLUGINS_GRPC_CLIENT_MTLS_CERTFILE", text),
  grpcClientMtlsKeyfile: s("PLUGINS_GRPC_CLIENT_MTLS_KEYFILE", text),
  grpcClientMtlsCaBundle: s("PLUGINS_GRPC_CLIENT_MTLS_CA_BUNDLE", text),
  grpcClientMtlsKeyfilePassword: s("PLUGINS_GRPC_CLIENT_MTLS_KEYFILE_PASSWORD", text),
  grpcClientMtlsVerify: s("PLUGINS_GRPC_CLIENT_MTLS_VERIFY", bool),
  grpcServerSslKeyfile: s("PLUGINS_GRPC_SERVER_SSL_KEYFILE", text),
  grpcServerSslCertfile: s("PLUGINS_GRPC_SERVER_SSL_CERTFILE", text),
  grpcServerSslCaCerts: s("PLUGINS_GRPC_SERVER_SSL_CA_CERTS", text),
  grpcServerSslKeyfilePassword: s("PLUGINS_GRPC_SERVER_SSL_KEYFILE_PASSWORD", text),
  grpcServerSslClientAuth: s("PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH", text),
  grpcServerHost: s("PLUGINS_GRPC_SERVER_HOST", text),
  grpcServerPort: s("PLUGINS_GRPC_SERVER_PORT", PORT),
  grpcServerUds: s("PLUGINS_GRPC_SERVER_UDS", text),
  grpcServerSslEnabled: s("PLUGINS_GRPC_SERVER_SSL_ENABLED", bool),
  unixSocketPath: s(["PLUGINS_UNIX_SOCKET_PATH", "UNIX_SOCKET_PATH"], text),
};

/** The value set by the environment, `undefined` when unset; throws when malformed. */
function readExplicit(setting: Setting): unknown {
  for (const name of setting.vars) {
    const raw = readEnv(name);
    if (raw === undefined || raw === "") continue;
    const parsed = setting.parse(raw);
    if ("value" in parsed) return parsed.value;
    throw new ConfigError("environment", [{
      path: name,
      message: `expected ${parsed.expected}; got ${describeValue(raw)}`,
    }]);
  }
  return undefined;
}

function readOne(setting: Setting): unknown {
  return readExplicit(setting) ?? setting.fallback;
}

/** PLUGINS_ENABLED: never throws; only 1/true/yes/on (trimmed, any case) enable. */
function readEnabled(): boolean {
  const raw = readEnv("PLUGINS_ENABLED");
  return raw !== undefined && ["1", "true", "yes", "on"].includes(raw.trim().toLowerCase());
}

function envValue(key: SettingKey): unknown {
  if (key === "enabled") {
    const raw = readEnv("PLUGINS_ENABLED");
    return raw === undefined || raw === "" ? undefined : readEnabled();
  }
  return readExplicit(SETTINGS[key]);
}

/**
 * Reads the `PLUGINS_*` settings. Properties are evaluated on first access; a malformed
 * variable throws a {@linkcode ConfigError} (file `environment`, path = the variable name) only
 * when its property is read.
 *
 * @example
 * ```ts
 * import { readSettings } from "@cpex/core";
 * const settings = readSettings();
 * if (settings.enabled) console.log(`loading ${settings.configFile}`);
 * ```
 */
export function readSettings(): PluginsSettings {
  const target = {} as Record<string, unknown>;
  const define = (key: string, read: () => unknown) => {
    Object.defineProperty(target, key, {
      enumerable: true,
      configurable: true,
      get() {
        const value = read();
        Object.defineProperty(target, key, { value, enumerable: true, writable: false });
        return value;
      },
    });
  };
  define("enabled", readEnabled);
  for (const [key, setting] of Object.entries(SETTINGS)) define(key, () => readOne(setting));
  Object.defineProperty(target, "envValue", { value: envValue, enumerable: false });
  return target as unknown as PluginsSettings;
}

/**
 * The variable names behind each setting (first one wins), for messages and documentation.
 */
export function settingVariables(key: SettingKey): string[] {
  return key === "enabled" ? ["PLUGINS_ENABLED"] : [...SETTINGS[key].vars];
}
