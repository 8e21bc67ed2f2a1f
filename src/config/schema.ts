/**
 * The config schema (spec §2): the top-level {@linkcode Config} and each plugin's
 * {@linkcode PluginConfig}, validated with zod. Validation fills every default (the parsed
 * objects are complete, nulls included, like the reference's model dump), normalises values
 * (legacy modes, numeric-string priorities, condition sets, content types, capabilities) and
 * reports every problem at once as a {@linkcode ConfigError} whose issues name the path
 * (`plugins[2].mode`) and what is allowed there.
 *
 * Differences from the reference, on purpose:
 * - `plugin_settings` is a validated section and is honoured by the manager (Q18); besides the
 *   upstream keys it accepts `execution_pool`, `default_hook_policy` and `max_payload_size`.
 * - Each plugin may set `timeout` (seconds, > 0), overriding the manager's timeout.
 * - `name` must be non-blank; booleans are not accepted as integers.
 * - Ports may be 0 (pick a free port).
 *
 * @module
 */
import { explicitKeys, markExplicitKeys } from "./explicit_keys.ts";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import type { PluginCondition, PluginConfig } from "../types.ts";
import {
  booleanField,
  choiceField,
  expectedMessage,
  integerField,
  numberField,
  stringField,
  typeName,
} from "./scalars.ts";
import {
  grpcClientSchema,
  type GrpcServerConfig,
  grpcServerSchema,
  mcpClientSchema,
  type McpServerConfig,
  mcpServerSchema,
  unixSocketClientSchema,
  type UnixSocketServerConfig,
  unixSocketServerSchema,
} from "./transport_schema.ts";
import { checkSandboxKeys, dropUnsetSandboxKeys, sandboxShape } from "../sandbox/schema.ts";
import { circuitBreakerSchema, healthCheckSchema } from "./resilience_schema.ts";

export type { GrpcServerConfig, McpServerConfig, UnixSocketServerConfig };

/**
 * The `plugin_settings` section. Every field is optional (absent = not set here), so the
 * manager can apply its precedence: PLUGINS_* env, then this section, then its defaults.
 *
 * @example
 * ```ts
 * import type { PluginSettings } from "@cpex/core";
 * const s: PluginSettings = { plugin_timeout: 5, fail_on_plugin_error: true };
 * ```
 */
export interface PluginSettings {
  /** Default plugin timeout in seconds (> 0). */
  plugin_timeout?: number;
  /** Fail `initialize()` when a plugin cannot be loaded. */
  fail_on_plugin_error?: boolean;
  /** Accepted for compatibility; unused. */
  parallel_execution_within_band?: boolean;
  /** Accepted for compatibility; unused. */
  enable_plugin_api?: boolean;
  /** Accepted for compatibility; unused (seconds). */
  plugin_health_check_interval?: number;
  /** Bound on concurrently running CONCURRENT/FIRE_AND_FORGET plugins (0 = unbounded). */
  execution_pool?: number;
  /** Whether plugins may modify payloads of hooks without a policy. */
  default_hook_policy?: "allow" | "deny";
  /** Largest accepted payload (characters). */
  max_payload_size?: number;
  /** Hook recording (issue 17; the reference ignores `plugin_settings`). */
  record?: RecordSettings;
}

/**
 * `plugin_settings.record`: append each hook invocation to a JSONL file (issue 17).
 *
 * @example
 * ```ts
 * import type { RecordSettings } from "@cpex/core";
 * const r: RecordSettings = { path: "hooks.jsonl", sample_rate: 0.1, redact: { paths: ["args.pin"] } };
 * ```
 */
export interface RecordSettings {
  /** The file (relative paths: from the working directory). */
  path: string;
  /** Fraction of invocations recorded (1). */
  sample_rate?: number;
  /** Rotate before the file grows past this many bytes (64 MiB). */
  max_bytes?: number;
  /** Rotated files kept (3). */
  max_files?: number;
  /** Redaction (emails and card numbers by default); `false` turns it off. */
  redact?: false | { paths?: string[]; patterns?: string[] };
}

/**
 * A validated config file.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@cpex/core";
 * const config = parseConfig({ plugins: [{ name: "p", kind: "x.Y" }] });
 * console.log(config.plugins[0].mode); // "sequential"
 * ```
 */
export interface Config {
  /** The plugins, in file order. */
  plugins: PluginConfig[];
  /** Extra plugin directories (kept for compatibility). */
  plugin_dirs: string[];
  /** MCP plugin server settings, or null. */
  server_settings: McpServerConfig | null;
  /** gRPC plugin server settings, or null. */
  grpc_server_settings: GrpcServerConfig | null;
  /** Unix socket plugin server settings, or null. */
  unix_socket_server_settings: UnixSocketServerConfig | null;
  /** Runtime settings from the file (`{}` when absent). */
  plugin_settings: PluginSettings;
}

/** Options of {@linkcode parsePluginConfig}. */
export interface ParsePluginConfigOptions {
  /** Require `kind` (as in a config file). When false a missing kind becomes `"inline"`. */
  requireKind?: boolean;
  /**
   * Allow `config` on an `external` plugin (used when merging the remote plugin server's
   * config into the local entry, like the reference's `ignore_config_external`).
   */
  ignoreConfigExternal?: boolean;
}

/** The plugin modes accepted in a config. */
export const PLUGIN_MODES = [
  "sequential",
  "transform",
  "audit",
  "concurrent",
  "fire_and_forget",
  "disabled",
] as const;

/** Legacy mode names and what they become. */
export const LEGACY_MODES: Readonly<Record<string, (typeof PLUGIN_MODES)[number]>> = {
  enforce: "sequential",
  permissive: "transform",
  enforce_ignore_error: "sequential",
};

/** The `on_error` values. */
export const ON_ERROR_VALUES = ["fail", "ignore", "disable"] as const;

/** The capability names a plugin may declare. */
export const KNOWN_CAPABILITIES: readonly string[] = [
  "read_subject",
  "read_roles",
  "read_teams",
  "read_claims",
  "read_permissions",
  "read_agent",
  "read_headers",
  "write_headers",
  "read_labels",
  "append_labels",
  "read_delegation",
  "append_delegation",
];

/** Kind used when a programmatic plugin config omits `kind`. */
export const DEFAULT_KIND = "inline";

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Legacy mode migration, applied to a mapping before validation. */
function migrateLegacyMode(input: unknown): unknown {
  if (!isMapping(input) || typeof input.mode !== "string") return input;
  const target = Object.hasOwn(LEGACY_MODES, input.mode) ? LEGACY_MODES[input.mode] : undefined;
  if (target === undefined) return input;
  const out: Record<string, unknown> = { ...input, mode: target };
  if (input.mode === "enforce_ignore_error" && input.on_error === undefined) {
    out.on_error = "ignore";
  }
  return out;
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}

/** A condition field: a list (set) of strings; duplicates removed; empty ≡ null. */
const conditionSet = (normalise: (s: string) => string = (s) => s) =>
  z.array(stringField()).nullable().default(null).transform((v): string[] | null =>
    v === null || v.length === 0 ? null : dedupe(v.map(normalise))
  );

/**
 * Normalises a content type for condition matching: the part before `;`, trimmed, lower-case.
 */
export function normaliseContentType(contentType: string): string {
  return contentType.split(";", 1)[0].trim().toLowerCase();
}

const conditionSchema: z.ZodType<Required<PluginCondition>> = z.object({
  server_ids: conditionSet(),
  tenant_ids: conditionSet(),
  tools: conditionSet(),
  prompts: conditionSet(),
  resources: conditionSet(),
  agents: conditionSet(),
  user_patterns: conditionSet(),
  content_types: conditionSet(normaliseContentType),
});

const appliedEntry = (nameKey: string) =>
  z.looseObject({ [nameKey]: stringField(), result: booleanField().default(false) });

const appliedToSchema = z.looseObject({
  tools: z.array(appliedEntry("tool_name")).nullable().optional(),
  prompts: z.array(appliedEntry("prompt_name")).nullable().optional(),
  resources: z.array(appliedEntry("resource_uri")).nullable().optional(),
});

const capabilitiesField = z.unknown().transform((value, ctx): string[] => {
  const list = value instanceof Set ? [...value] : value;
  if (!Array.isArray(list)) return []; // the reference turns non-collections into an empty set
  const known = [...KNOWN_CAPABILITIES].sort();
  const out = new Set<string>();
  for (const cap of list) {
    if (typeof cap === "string" && KNOWN_CAPABILITIES.includes(cap)) out.add(cap);
    else {
      ctx.addIssue({
        code: "custom",
        message: `Unknown capability: '${String(cap)}'. Known: [${
          known.map((k) => `'${k}'`).join(", ")
        }]`,
      });
    }
  }
  return [...out].sort();
});

const EXTERNAL_CONFIG_MESSAGE = (name: string) =>
  `Cannot have ${name} plugin defined as 'external' with 'config' set. ` +
  `'config' section settings can only be set on the plugin server.`;

function buildPluginSchema(options: ParsePluginConfigOptions): z.ZodType<PluginConfig> {
  const kindField = stringField({ nonBlank: true });
  const shape = z.object({
    name: stringField({ nonBlank: true }),
    description: stringField().nullable().default(null),
    author: stringField().nullable().default(null),
    kind: options.requireKind ? kindField : kindField.default(DEFAULT_KIND),
    namespace: stringField().nullable().default(null),
    version: stringField().nullable().default(null),
    hooks: z.array(stringField()).default([]),
    tags: z.array(stringField()).default([]),
    mode: choiceField(PLUGIN_MODES, {
      note: `legacy: ${Object.keys(LEGACY_MODES).join(", ")}`,
    }).default("sequential"),
    on_error: choiceField(ON_ERROR_VALUES).default("fail"),
    priority: integerField().default(100),
    max_content_size: integerField({ min: 0 }).default(10_000_000),
    conditions: z.array(conditionSchema).default([]),
    applied_to: appliedToSchema.nullable().default(null),
    capabilities: capabilitiesField.default([]),
    config: z.record(z.string(), z.unknown()).nullable().default(null),
    mcp: mcpClientSchema.nullable().default(null),
    grpc: grpcClientSchema.nullable().default(null),
    unix_socket: unixSocketClientSchema.nullable().default(null),
    health_check: healthCheckSchema.optional(),
    circuit_breaker: circuitBreakerSchema.optional(),
    retry_on_connection_loss: booleanField().optional(),
    timeout: numberField({ above: 0 }).nullable().optional(),
    shadow: booleanField().optional(),
    ...sandboxShape,
  }).superRefine((p, ctx) => {
    checkSandboxKeys(p, ctx);
    if (p.kind !== "external") {
      for (const key of ["health_check", "circuit_breaker", "retry_on_connection_loss"] as const) {
        if (p[key] !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "only allowed on external plugins",
          });
        }
      }
      return;
    }
    const transports = [p.mcp, p.grpc, p.unix_socket].filter((t) => t !== null).length;
    if (transports === 0) {
      ctx.addIssue({
        code: "custom",
        message: "an external plugin must have 'mcp', 'grpc', or 'unix_socket' section configured",
      });
    } else if (transports > 1) {
      ctx.addIssue({
        code: "custom",
        message: "an external plugin can only have one transport configured " +
          "(mcp, grpc, or unix_socket)",
      });
    }
    if (p.config !== null && !options.ignoreConfigExternal) {
      ctx.addIssue({ code: "custom", path: ["config"], message: EXTERNAL_CONFIG_MESSAGE(p.name) });
    }
  }).transform((p): PluginConfig => {
    if (p.timeout === undefined) delete p.timeout;
    if (p.shadow === undefined) delete p.shadow;
    if (p.health_check === undefined) delete p.health_check;
    if (p.circuit_breaker === undefined) delete p.circuit_breaker;
    if (p.retry_on_connection_loss === undefined) delete p.retry_on_connection_loss;
    dropUnsetSandboxKeys(p as Record<string, unknown>);
    return p as PluginConfig;
  });
  return z.preprocess(migrateLegacyMode, shape);
}

const pluginSchemas = new Map<string, z.ZodType<PluginConfig>>();

function pluginSchema(options: ParsePluginConfigOptions): z.ZodType<PluginConfig> {
  const key = `${Boolean(options.requireKind)}/${Boolean(options.ignoreConfigExternal)}`;
  let schema = pluginSchemas.get(key);
  if (!schema) {
    schema = buildPluginSchema(options);
    pluginSchemas.set(key, schema);
  }
  return schema;
}

/** Drops null values so that `key:` (YAML null) in plugin_settings means "not set". */
function dropNulls(input: unknown): unknown {
  if (!isMapping(input)) return input;
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null));
}

const pluginSettingsSchema: z.ZodType<PluginSettings> = z.preprocess(
  dropNulls,
  z.object({
    plugin_timeout: numberField({ above: 0 }).optional(),
    fail_on_plugin_error: booleanField().optional(),
    parallel_execution_within_band: booleanField().optional(),
    enable_plugin_api: booleanField().optional(),
    plugin_health_check_interval: numberField({ min: 0 }).optional(),
    execution_pool: integerField({ min: 0 }).optional(),
    default_hook_policy: choiceField(["allow", "deny"] as const).optional(),
    max_payload_size: integerField({ min: 1 }).optional(),
    record: z.object({
      path: stringField({ nonBlank: true }),
      sample_rate: numberField({ min: 0, max: 1 }).optional(),
      max_bytes: integerField({ min: 1 }).optional(),
      max_files: integerField({ min: 0 }).optional(),
      redact: z.union([
        z.literal(false),
        z.object({
          paths: z.array(stringField({ nonBlank: true })).optional(),
          patterns: z.array(stringField({ nonBlank: true })).optional(),
        }),
      ]).optional(),
    }).optional(),
  }),
);

const configSchema: z.ZodType<Config> = z.object({
  plugins: z.array(pluginSchema({ requireKind: true })).nullable().default([])
    .transform((v) => v ?? []),
  plugin_dirs: z.array(stringField()).nullable().default([]).transform((v) => v ?? []),
  server_settings: mcpServerSchema.nullable().default(null),
  grpc_server_settings: grpcServerSchema.nullable().default(null),
  unix_socket_server_settings: unixSocketServerSchema.nullable().default(null),
  plugin_settings: pluginSettingsSchema.nullable().default({}).transform((v) => v ?? {}),
});

/** Messages for zod's own issues (types of lists and mappings). */
const errorMap = (issue: { code?: string; expected?: string; input?: unknown }) =>
  issue.code === "invalid_type" && issue.expected
    ? expectedMessage(typeName(issue.expected), issue.input)
    : undefined;

/**
 * Renders an issue path the way messages name it: `plugins[2].mcp.url`.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) {
      out += out === "" ? key : `.${key}`;
    } else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function toIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  return error.issues.map((i) => ({
    path: formatPath([...prefix, ...i.path]),
    message: i.message,
  }));
}

function run<T>(schema: z.ZodType<T>, input: unknown, label: string): T {
  const result = schema.safeParse(input, { error: errorMap });
  if (!result.success) throw new ConfigError(label, toIssues(result.error));
  return result.data;
}

/**
 * Validates one plugin's config and fills its defaults. Used by the `Plugin` constructor and by
 * external plugin proxies; a config file's plugins go through {@linkcode parseConfig}.
 * Programmatic input may omit `kind` (it becomes `"inline"`) unless `options.requireKind`.
 *
 * @param input The plugin entry (a mapping).
 * @param label How errors name the source (default `plugin "<name>"`).
 * @throws {ConfigError} naming each bad field (`mode`, `mcp.url`, ...).
 *
 * @example
 * ```ts
 * import { parsePluginConfig } from "@cpex/core";
 * const cfg = parsePluginConfig({ name: "p", hooks: ["tool_pre_invoke"], mode: "enforce" });
 * console.log(cfg.mode, cfg.kind, cfg.priority); // "sequential" "inline" 100
 * ```
 */
export function parsePluginConfig(
  input: unknown,
  label?: string,
  options: ParsePluginConfigOptions = {},
): PluginConfig {
  const name = isMapping(input) && typeof input.name === "string" ? input.name : undefined;
  const config = run(
    pluginSchema(options),
    input,
    label ?? (name !== undefined ? `plugin ${JSON.stringify(name)}` : "<plugin config>"),
  );
  return markExplicitKeys(config, explicitKeys(input) ?? writtenKeys(input));
}

/** The keys an entry sets; a legacy `enforce_ignore_error` mode also sets `on_error`. */
function writtenKeys(input: unknown): string[] {
  if (!isMapping(input)) return [];
  const keys = Object.keys(input);
  if (input.mode === "enforce_ignore_error" && !keys.includes("on_error")) keys.push("on_error");
  return keys;
}

/**
 * Validates a whole config document (already parsed from YAML/JSON) and fills its defaults.
 * Unknown top-level and plugin keys are ignored; `plugins: null` means no plugins.
 *
 * @param input The document.
 * @param file Names the source in errors (a path, or `<object>`).
 * @throws {ConfigError} listing every problem with its path (`plugins[2].mode`).
 *
 * @example
 * ```ts
 * import { parseConfig } from "@cpex/core";
 * const config = parseConfig({
 *   plugins: [{ name: "deny", kind: "plugins.deny_filter.DenyListPlugin", priority: "5" }],
 * });
 * console.log(config.plugins[0].priority); // 5
 * ```
 */
export function parseConfig(input: unknown, file = "<object>"): Config {
  const config = run(configSchema, input, file);
  const raw = isMapping(input) && Array.isArray(input.plugins) ? input.plugins : [];
  config.plugins.forEach((plugin, i) => markExplicitKeys(plugin, writtenKeys(raw[i])));
  return config;
}
