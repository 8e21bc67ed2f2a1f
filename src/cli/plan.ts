/**
 * The effective plan of a config, computed from the config alone: for each hook, the plugins in
 * the order the manager runs them (phases sequential → transform → audit → concurrent →
 * fire_and_forget; priority within a phase, ties in file order), with the conditions that apply
 * to that hook, the effective timeout and where each plugin runs. Nothing is loaded or
 * connected, and no transport module is imported.
 *
 * @module
 */
import { describePermissions } from "../sandbox/permissions.ts";
import type { Config } from "../config/schema.ts";
import { explicitKeys } from "../config/explicit_keys.ts";
import type { HookRegistry } from "../hooks/registry.ts";
import type { PluginCondition, PluginConfig, PluginMode } from "../types.ts";

/** Phase order of the executor. */
export const PHASES: readonly PluginMode[] = [
  "sequential",
  "transform",
  "audit",
  "concurrent",
  "fire_and_forget",
];

/** The manager's default plugin timeout in seconds. */
export const DEFAULT_TIMEOUT = 30;

/**
 * Where a plugin runs: in-process (its `kind`), or external with its transport's address.
 */
export type PlanTransport =
  | {
    type: "in-process";
    kind: string;
    /** Set for a sandboxed plugin (issue 16): `worker` or `process`. */
    isolation?: "worker" | "process";
    /** The sandbox's permissions as `read=/a net` (or `none`). */
    permissions?: string;
    /** The sandbox pool size. */
    workers?: number;
    /** The heap limit of a `process` sandbox (MiB). */
    memory_mb?: number;
    /** Leaked stuck threads a `worker` sandbox may have (when set in the config). */
    max_stuck?: number;
  }
  | { type: "unix_socket"; path: string }
  | { type: "grpc"; target: string | null; uds: string | null; tls: boolean }
  | {
    type: "mcp";
    proto: string;
    url: string | null;
    uds: string | null;
    cmd: string[] | null;
    script: string | null;
    tls: boolean;
  };

/** Where an effective timeout comes from. */
export type TimeoutSource = "plugin" | "env" | "plugin_settings" | "default";

/**
 * One plugin in one hook's plan.
 */
export interface PlanEntry {
  /** Position in the hook's execution order (1-based). */
  order: number;
  /** Plugin name. */
  name: string;
  /** Mode (never `disabled`: disabled plugins are not loaded). */
  mode: PluginMode;
  /** Present (true) for a shadow plugin: it runs beside the chain, without effect (issue 17). */
  shadow?: true;
  /** Priority (lower runs first within its phase). */
  priority: number;
  /** What happens when the plugin fails. */
  on_error: string;
  /** Effective timeout in seconds. */
  timeout: number;
  /** Where the timeout comes from. */
  timeout_source: TimeoutSource;
  /**
   * The conditions that apply to this hook (any one must match; within one, every field), or
   * null when the plugin always runs for this hook.
   */
  conditions: Record<string, string[]>[] | null;
  /** Where the plugin runs. */
  transport: PlanTransport;
  /**
   * For external mcp/grpc plugins: the settings the YAML entry leaves unset, which the plugin
   * server's own config supplies when the gateway connects.
   */
  server_may_override: string[];
}

/**
 * One hook's plan.
 */
export interface HookPlanView {
  /** The hook name. */
  hook: string;
  /** Whether @cpex/core defines the hook (else it is a custom hook the host must register). */
  builtin: boolean;
  /** The plugins in execution order. */
  plugins: PlanEntry[];
}

/**
 * The effective plan of a whole config.
 */
export interface ConfigPlan {
  /** The config file. */
  file: string;
  /** Number of plugin entries. */
  plugin_count: number;
  /** Each hook (in order of first appearance in the file) with its plugins. */
  hooks: HookPlanView[];
  /** Plugins with `mode: disabled` (never loaded). */
  disabled: string[];
  /** External plugins without hooks in the YAML: their hooks come from the plugin server. */
  hooks_from_server: string[];
  /** Enabled plugins that are registered for no hook at all. */
  without_hooks: string[];
  /** The plugin-server blocks present in the file (where `serve` listens by default). */
  servers: Record<string, unknown>;
  /** The file's `plugin_settings`. */
  plugin_settings: Record<string, unknown>;
  /** Things that are valid but probably not what was meant. */
  warnings: string[];
}

/**
 * Settings from the environment that change the plan.
 */
export interface PlanEnvironment {
  /** PLUGINS_PLUGIN_TIMEOUT, when set. */
  pluginTimeout?: number;
}

const ALWAYS_FIELDS = ["server_ids", "tenant_ids", "user_patterns", "content_types"] as const;
const TARGET_FIELDS = ["tools", "prompts", "resources", "agents"] as const;
const OVERRIDABLE = ["hooks", "mode", "priority", "on_error", "conditions", "timeout"];

/** The fields of `condition` the manager checks for a hook with `targetField`. */
function effectiveCondition(
  condition: PluginCondition,
  targetField: string | null,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const record = condition as Record<string, string[] | null | undefined>;
  for (const field of [...ALWAYS_FIELDS, ...TARGET_FIELDS]) {
    const list = record[field];
    if (!Array.isArray(list) || list.length === 0) continue;
    if ((TARGET_FIELDS as readonly string[]).includes(field) && field !== targetField) continue;
    out[field] = [...list];
  }
  return out;
}

/** Mirrors `compileConditions`: null when some condition constrains nothing for this hook. */
function effectiveConditions(
  conditions: readonly PluginCondition[],
  hook: string,
  hooks: HookRegistry,
): Record<string, string[]>[] | null {
  if (conditions.length === 0) return null;
  const target = hooks.conditionTarget(hook)?.field ?? null;
  const out = conditions.map((c) => effectiveCondition(c, target));
  return out.some((c) => Object.keys(c).length === 0) ? null : out;
}

function transportOf(plugin: PluginConfig): PlanTransport {
  if (plugin.kind !== "external") {
    const isolation = plugin.isolation;
    if (isolation !== "worker" && isolation !== "process") {
      return { type: "in-process", kind: plugin.kind };
    }
    return {
      type: "in-process",
      kind: plugin.kind,
      isolation,
      permissions: describePermissions(plugin.permissions),
      workers: plugin.workers ?? 1,
      ...(plugin.memory_mb ? { memory_mb: plugin.memory_mb } : {}),
      ...(plugin.max_stuck ? { max_stuck: plugin.max_stuck } : {}),
    };
  }
  // The loader's precedence when several blocks are present.
  if (plugin.grpc) {
    return {
      type: "grpc",
      target: plugin.grpc.target ?? plugin.grpc.targets?.join(",") ?? null,
      uds: plugin.grpc.uds ?? null,
      tls: Boolean(plugin.grpc.tls),
    };
  }
  if (plugin.unix_socket) {
    const unix = plugin.unix_socket;
    return { type: "unix_socket", path: unix.path ?? unix.paths?.join(",") ?? "" };
  }
  const mcp = plugin.mcp!;
  return {
    type: "mcp",
    proto: mcp.proto,
    url: mcp.url ?? mcp.urls?.join(",") ?? null,
    uds: mcp.uds ?? null,
    cmd: mcp.cmd ?? null,
    script: mcp.script ?? null,
    tls: Boolean(mcp.tls),
  };
}

function timeoutOf(
  plugin: PluginConfig,
  config: Config,
  env: PlanEnvironment,
): [number, TimeoutSource] {
  if (typeof plugin.timeout === "number") return [plugin.timeout, "plugin"];
  if (env.pluginTimeout !== undefined) return [env.pluginTimeout, "env"];
  const file = config.plugin_settings.plugin_timeout;
  if (file !== undefined) return [file, "plugin_settings"];
  return [DEFAULT_TIMEOUT, "default"];
}

function serverMayOverride(plugin: PluginConfig): string[] {
  if (plugin.kind !== "external" || plugin.unix_socket) return []; // unix merges nothing
  const keys = explicitKeys(plugin);
  if (!keys) return [];
  return OVERRIDABLE.filter((k) => !keys.has(k));
}

/**
 * Computes the effective plan of `config` (already validated).
 *
 * @param config The parsed config.
 * @param file How the plan names the file.
 * @param registry The hook registry that says which hooks are known and what conditions target.
 * @param env Environment settings that apply (PLUGINS_PLUGIN_TIMEOUT).
 */
export function buildPlan(
  config: Config,
  file: string,
  registry: HookRegistry,
  env: PlanEnvironment = {},
): ConfigPlan {
  const byHook = new Map<string, { plugin: PluginConfig; index: number }[]>();
  const disabled: string[] = [];
  const hooksFromServer: string[] = [];
  const withoutHooks: string[] = [];
  const warnings: string[] = [];
  // A duplicate name is an error of `check` (check_runtime.ts), not a plan warning.
  config.plugins.forEach((plugin, index) => {
    if (plugin.mode === "disabled") {
      disabled.push(plugin.name);
      return;
    }
    if (plugin.hooks.length === 0) {
      if (serverMayOverride(plugin).includes("hooks")) hooksFromServer.push(plugin.name);
      else withoutHooks.push(plugin.name);
    }
    const hookSet = new Set(plugin.hooks);
    if (hookSet.size !== plugin.hooks.length) {
      // Issue 11 item 5: the reference runs such a hook twice in most modes, once in
      // fire_and_forget; we register it once.
      const twice = [...hookSet].filter((h) =>
        plugin.hooks.indexOf(h) !== plugin.hooks.lastIndexOf(h)
      );
      warnings.push(
        `plugins[${index}].hooks lists ${twice.join(", ")} more than once; ` +
          `${plugin.name} runs once per call (the reference runs it once per listing)`,
      );
    }
    for (const hook of hookSet) {
      let list = byHook.get(hook);
      if (!list) byHook.set(hook, list = []);
      list.push({ plugin, index });
    }
    warnings.push(...conditionWarnings(plugin, index, registry));
  });
  const hooks: HookPlanView[] = [];
  for (const [hook, list] of byHook) {
    // Stable sort by priority, then phase order: what the executor runs.
    const sorted = [...list].sort((a, b) => a.plugin.priority - b.plugin.priority);
    const ordered = PHASES.flatMap((mode) => sorted.filter((e) => e.plugin.mode === mode));
    const builtin = registry.isRegistered(hook);
    if (!builtin) {
      warnings.push(
        `hook '${hook}' is not a built-in hook: the gateway must register it ` +
          `(used by ${list.map((e) => e.plugin.name).join(", ")})`,
      );
    }
    hooks.push({
      hook,
      builtin,
      plugins: ordered.map(({ plugin }, i) => {
        const [timeout, source] = timeoutOf(plugin, config, env);
        return {
          order: i + 1,
          name: plugin.name,
          mode: plugin.mode,
          priority: plugin.priority,
          on_error: plugin.on_error,
          timeout,
          timeout_source: source,
          conditions: effectiveConditions(plugin.conditions, hook, registry),
          transport: transportOf(plugin),
          server_may_override: serverMayOverride(plugin),
          ...(plugin.shadow === true ? { shadow: true as const } : {}),
        };
      }),
    });
  }
  const servers: Record<string, unknown> = {};
  if (config.server_settings) servers.server_settings = config.server_settings;
  if (config.grpc_server_settings) servers.grpc_server_settings = config.grpc_server_settings;
  if (config.unix_socket_server_settings) {
    servers.unix_socket_server_settings = config.unix_socket_server_settings;
  }
  return {
    file,
    plugin_count: config.plugins.length,
    hooks,
    disabled,
    hooks_from_server: hooksFromServer,
    without_hooks: withoutHooks,
    servers,
    plugin_settings: { ...config.plugin_settings },
    warnings,
  };
}

/** Condition fields that restrict none of the plugin's hooks (they are never checked). */
function conditionWarnings(plugin: PluginConfig, index: number, hooks: HookRegistry): string[] {
  const targets = new Set(plugin.hooks.map((h) => hooks.conditionTarget(h)?.field));
  const out: string[] = [];
  plugin.conditions.forEach((condition, i) => {
    const record = condition as Record<string, string[] | null | undefined>;
    for (const field of TARGET_FIELDS) {
      const list = record[field];
      if (!Array.isArray(list) || list.length === 0 || targets.has(field)) continue;
      if (plugin.hooks.length === 0) continue;
      out.push(
        `plugins[${index}].conditions[${i}].${field} applies to none of ${plugin.name}'s hooks ` +
          `(${plugin.hooks.join(", ")}) and is ignored`,
      );
    }
  });
  return out;
}
