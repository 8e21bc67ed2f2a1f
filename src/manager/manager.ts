/**
 * The plugin manager: loads a config, instantiates and registers plugins, and dispatches
 * hooks through the executor.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PluginContext, type PluginContextTable } from "../context.ts";
import { PluginError } from "../errors.ts";
import { checkPayload, type HookRegistry, hookRegistry } from "../hooks/registry.ts";
import type { PayloadOf, ResultPayloadOf } from "../hooks/map.ts";
import type { ObservabilityProvider } from "../observability.ts";
import {
  type CpexMetrics,
  defaultMetrics,
  type ReplicaStatusSource,
} from "../observability/metrics.ts";
import type { Plugin } from "../plugin.ts";
import { type Config, parseConfig } from "../config/schema.ts";
import { loadConfig } from "../config/load.ts";
import { readSettings } from "../config/settings.ts";
import type {
  DefaultHookPolicy,
  GlobalContext,
  HookPayloadPolicy,
  PluginConfig,
} from "../types.ts";
import { type InvokeOptions, MAX_PAYLOAD_SIZE, PluginExecutor } from "./executor.ts";
import { loadPlugin, type PluginClass } from "./loader.ts";
import { PluginRegistry } from "./registry.ts";
import { resolveSpecifier, splitModuleKind } from "./specifier.ts";
import { manifestPathFor, readManifest, withDefaultConfig } from "../config/manifest.ts";
import { copyPluginConfig } from "../config/explicit_keys.ts";
import type { HookResult } from "./result.ts";
import { HookRecorder } from "../record/recorder.ts";
import { type ShadowDiff, ShadowRunner } from "./shadow.ts";
import { PluginSet } from "./plugin_set.ts";
import { ConfigWatcher } from "./config_watcher.ts";

/**
 * Where the manager reports problems that do not fail a call (plugins skipped at load,
 * failing shutdowns) and what `initialize()` loaded. Defaults to stderr (`console.warn` and
 * `console.error`; never stdout, which an MCP STDIO server owns).
 *
 * @example
 * ```ts
 * import type { ManagerLogger } from "@cpex/core";
 * const quiet: ManagerLogger = { warn: () => {}, info: () => {} };
 * ```
 */
export interface ManagerLogger {
  /** Reports a non-fatal problem. */
  warn(message: string): void;
  /** Reports progress ("2 of 2 plugins loaded from ..."); falls back to `warn` when absent. */
  info?(message: string): void;
}

/**
 * Options of a {@linkcode PluginManager}. Explicit options win over PLUGINS_* environment
 * variables, which win over the config file's `plugin_settings`.
 *
 * @example
 * ```ts
 * import type { PluginManagerOptions } from "@cpex/core";
 * const o: PluginManagerOptions = { timeout: 5, defaultHookPolicy: "deny" };
 * ```
 */
export interface PluginManagerOptions {
  /** Default per-plugin timeout in seconds (30). */
  timeout?: number;
  /** Programmatic kind -> plugin class map, consulted before module specifiers. */
  pluginKinds?: Record<string, PluginClass>;
  /** Per-hook payload policies. */
  hookPolicies?: Record<string, HookPayloadPolicy>;
  /** Policy for hooks without one (`allow`, or PLUGINS_DEFAULT_HOOK_POLICY). */
  defaultHookPolicy?: DefaultHookPolicy;
  /** Span receiver. */
  observability?: ObservabilityProvider | null;
  /**
   * Where plugin calls are counted and timed (issue 15): the process-wide
   * {@linkcode defaultMetrics} by default (exported through the global OpenTelemetry meter
   * provider), or `null` to record nothing.
   */
  metrics?: CpexMetrics | null;
  /** Parallel calls per invocation for CONCURRENT and FIRE_AND_FORGET (10; 0 = unbounded). */
  executionPool?: number;
  /**
   * Fail `initialize()` when one plugin cannot be loaded (default true, unlike the reference's
   * false: issue 12). False skips it with a warning.
   */
  failOnPluginError?: boolean;
  /** Payload size limit in characters (1,000,000). */
  maxPayloadSize?: number;
  /** Hook schemas (the shared default registry). */
  hookRegistry?: HookRegistry;
  /** Where warnings go. */
  logger?: ManagerLogger;
  /**
   * Records hook invocations (issue 17); wins over the config's `plugin_settings.record`, and
   * `null` turns that off. `shutdown()` flushes it (and closes the one the config created).
   */
  recorder?: HookRecorder | null;
  /** Called with each shadow plugin diff (issue 17), besides the metric and the log line. */
  onShadowDiff?: (diff: ShadowDiff) => void;
  /**
   * Watch the config file (when the manager was made from a path) and `reload()` it when it
   * changes (issue 14 item 4), from `initialize()` until `shutdown()`. Uses `Deno.watchFs` on
   * the file's directory (so editors' and Kubernetes ConfigMaps' rename-into-place updates are
   * seen): needs `--allow-read` of that directory. Results go to the logger. Default false.
   */
  watch?: boolean;
}

/**
 * Options of one {@linkcode PluginManager.reload}.
 *
 * @example
 * ```ts
 * import type { ReloadOptions } from "@cpex/core";
 * const o: ReloadOptions = { failOnPluginError: true };
 * ```
 */
export interface ReloadOptions {
  /**
   * Overrides the manager's and the new config's `fail_on_plugin_error` for this reload (`cpex
   * serve` sets it unless `--allow-partial`, so a reload never serves a partial set).
   */
  failOnPluginError?: boolean;
}

/**
 * Settings resolved from the options, the environment and a config's `plugin_settings`.
 */
interface ResolvedSettings {
  timeout: number;
  executionPool: number;
  defaultHookPolicy: DefaultHookPolicy;
  maxPayloadSize: number;
  failOnError: boolean;
}

/**
 * Options of {@linkcode PluginManager.invokeHookForPlugin}.
 *
 * @example
 * ```ts
 * import type { InvokeForPluginOptions } from "@cpex/core";
 * const o: InvokeForPluginOptions = { payloadAsJson: true };
 * ```
 */
export interface InvokeForPluginOptions {
  /** Throw on a block instead of returning it. */
  violationsAsExceptions?: boolean;
  /** The payload is JSON text or a plain object to validate with the hook's schema. */
  payloadAsJson?: boolean;
}

const consoleLogger: ManagerLogger = {
  warn: (m) => console.warn(m),
  info: (m) => console.error(m),
};

/**
 * The executor of `manager` (its timeout, policies and runtime-disabled set). Internal: not
 * part of the public API.
 */
export let executorOf: (manager: PluginManager) => PluginExecutor;

/**
 * Runs plugins at hook points. Each instance is independent: its own config, registry and
 * executor (no process-wide state).
 *
 * @example
 * ```ts
 * import { Plugin, PluginManager, type ToolPreInvokePayload } from "@cpex/core";
 *
 * class NoDelete extends Plugin {
 *   tool_pre_invoke(payload: ToolPreInvokePayload) {
 *     return payload.name === "delete_all"
 *       ? {
 *         continue_processing: false,
 *         violation: { reason: "forbidden", description: "no", code: "DENY" },
 *       }
 *       : {};
 *   }
 * }
 *
 * const manager = new PluginManager();
 * await manager.initialize();
 * await manager.registerPlugin(
 *   new NoDelete({ name: "no-delete", kind: "inline", hooks: ["tool_pre_invoke"] }),
 * );
 * const [result] = await manager.invokeHook(
 *   "tool_pre_invoke",
 *   { name: "delete_all", args: {} },
 *   { request_id: "r1" },
 * );
 * console.log(result.continue_processing); // false
 * await manager.shutdown();
 * ```
 */
export class PluginManager {
  readonly #source: string | URL | Config | null;
  readonly #options: PluginManagerOptions;
  readonly #hooks: HookRegistry;
  // The current plugin set: each call reads it once (issue 14 item 4); `reload()` swaps it.
  #set: PluginSet;
  #config: Config | null = null;
  #initialized = false;
  #lock: Promise<unknown> = Promise.resolve();
  #recorder: HookRecorder | null = null;
  #ownsRecorder = false;
  #watcher: ConfigWatcher | null = null;
  /** Stops reporting the external plugins' replicas to the metrics (set while initialized). */
  #unwatchReplicas: (() => void) | null = null;

  /**
   * Creates a manager for a config file path (loaded by `initialize()`), a parsed
   * {@linkcode Config}, or nothing (plugins registered programmatically).
   */
  constructor(config?: string | URL | Config | null, options: PluginManagerOptions = {}) {
    this.#source = config ?? null;
    if (config && typeof config === "object" && !(config instanceof URL)) this.#config = config;
    this.#options = options;
    this.#hooks = options.hookRegistry ?? hookRegistry;
    const metrics = options.metrics === undefined ? defaultMetrics() : options.metrics;
    this.#set = this.#newSet(options.observability ?? null, metrics);
    this.#recorder = options.recorder ?? null;
    this.#applySettings(this.#set.executor, this.#resolveSettings(this.#config));
  }

  /** An empty plugin set with its own executor and shadow runner. */
  #newSet(observability: ObservabilityProvider | null, metrics: CpexMetrics | null): PluginSet {
    const hooks = this.#hooks;
    const settings = {
      hookPolicies: this.#options.hookPolicies,
      validatePayload: (hook: string, value: unknown) => validateModified(hooks, hook, value),
      isCrossType: (hook: string) => hooks.isCrossType(hook),
      checkInput: (hook: string, value: unknown) => checkPayload(hooks, hook, value),
    };
    const executor = new PluginExecutor({ ...settings, observability, metrics });
    const shadows = new ShadowRunner(
      (name) => hooks.conditionTarget(name),
      settings,
      metrics,
      (diff) => this.#reportShadow(diff),
    );
    return new PluginSet(
      new PluginRegistry((name) => hooks.conditionTarget(name)),
      shadows,
      executor,
    );
  }

  #reportShadow(diff: ShadowDiff): void {
    const logger = this.#options.logger ?? consoleLogger;
    const what = diff.code === null ? "" : `: ${diff.code}`;
    logger.warn(
      `shadow plugin ${diff.plugin} ${diff.kind} diff at ${diff.hook} (request ${diff.requestId})${what}`,
    );
    this.#options.onShadowDiff?.(diff);
  }

  /**
   * Resolves runtime settings: explicit option, else PLUGINS_* env, else the config's
   * `plugin_settings` (honoured, unlike the reference: Q18), else the default.
   */
  #resolveSettings(config: Config | null): ResolvedSettings {
    const o = this.#options;
    const env = readSettings();
    const file = config?.plugin_settings ?? {};
    return {
      timeout: o.timeout ?? env.envValue("pluginTimeout") ?? file.plugin_timeout ?? 30,
      executionPool: o.executionPool ?? env.envValue("executionPool") ??
        file.execution_pool ?? 10,
      defaultHookPolicy: o.defaultHookPolicy ?? env.envValue("defaultHookPolicy") ??
        file.default_hook_policy ?? "allow",
      maxPayloadSize: o.maxPayloadSize ?? file.max_payload_size ?? MAX_PAYLOAD_SIZE,
      // Fail closed by default (issue 12): a security plugin that cannot load must not vanish.
      failOnError: o.failOnPluginError ?? env.envValue("failOnPluginError") ??
        file.fail_on_plugin_error ?? true,
    };
  }

  #applySettings(executor: PluginExecutor, settings: ResolvedSettings): void {
    executor.timeout = settings.timeout;
    executor.executionPool = settings.executionPool;
    executor.defaultHookPolicy = settings.defaultHookPolicy;
    executor.maxPayloadSize = settings.maxPayloadSize;
  }

  /** The loaded config, or null before `initialize()` (for a path) or without one. */
  get config(): Config | null {
    return this.#config;
  }

  /** True between `initialize()` and `shutdown()`. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /** Number of registered plugins. */
  get pluginCount(): number {
    return this.#set.registry.pluginCount;
  }

  /** The hook registry this manager validates payloads and results with, end to end. */
  get hookRegistry(): HookRegistry {
    return this.#hooks;
  }

  static {
    // The mutable executor stays inside the package (issue 10 item 6): white-box tests reach
    // it through `executorOf`, which mod.ts does not export.
    executorOf = (manager) => manager.#set.executor;
  }

  /** The span receiver. */
  get observability(): ObservabilityProvider | null {
    return this.#set.executor.observability;
  }

  /** Replaces the span receiver. */
  set observability(provider: ObservabilityProvider | null) {
    this.#set.executor.observability = provider;
  }

  /** Where plugin calls are counted and timed, or null. */
  get metrics(): CpexMetrics | null {
    return this.#set.executor.metrics;
  }

  /**
   * Loads the config (when given as a path), then loads, initializes and registers every
   * plugin that is not `disabled`, in file order. Concurrent and repeated calls load once.
   * With the `watch` option, starts watching the config file.
   */
  initialize(): Promise<void> {
    return this.#serial(async () => {
      if (this.#initialized) return;
      if (this.#set.registry.pluginCount) await this.#closeSet(this.#set);
      let base: URL | undefined;
      const path = this.#path();
      if (path !== null) {
        this.#config = await loadConfig(path);
        base = toFileUrl(path);
      }
      const settings = this.#resolveSettings(this.#config);
      this.#applySettings(this.#set.executor, settings);
      const config = this.#config;
      const record = config?.plugin_settings?.record;
      if (record && this.#options.recorder === undefined && this.#recorder === null) {
        this.#recorder = new HookRecorder({
          path: record.path,
          sampleRate: record.sample_rate,
          maxBytes: record.max_bytes,
          maxFiles: record.max_files,
          redact: record.redact,
          metrics: this.#set.executor.metrics,
        });
        this.#ownsRecorder = true;
      }
      // Watching starts first: a missing read permission fails before any plugin is started.
      if (this.#options.watch && path !== null && this.#watcher === null) {
        this.#watcher = new ConfigWatcher(path, () => this.#reloadFromWatch(path));
      }
      try {
        if (config) await this.#populate(this.#set, config, base, settings.failOnError, path);
      } catch (error) {
        this.#watcher?.close();
        this.#watcher = null;
        throw error;
      }
      this.#initialized = true;
      // The current set is read at each collection: a reload's plugins are reported at once.
      this.#unwatchReplicas ??= this.#set.executor.metrics?.watchReplicas(() =>
        this.#replicaSources()
      ) ?? null;
    });
  }

  /** The config path the manager was made from, or null (a parsed config or none). */
  #path(): string | URL | null {
    const source = this.#source;
    return typeof source === "string" || source instanceof URL ? source : null;
  }

  /**
   * Loads every enabled plugin of `config` into `set`. With `failOnError`, the first failure
   * shuts down what was loaded and throws naming the plugin; otherwise it is skipped.
   */
  async #populate(
    set: PluginSet,
    config: Config,
    base: URL | undefined,
    failOnError: boolean,
    path: string | URL | null,
  ): Promise<void> {
    const logger = this.#options.logger ?? consoleLogger;
    const enabled = config.plugins.filter((p) => p.mode !== "disabled");
    const from = path === null ? "" : ` from ${path}`;
    let loaded = 0;
    for (const pluginConfig of enabled) {
      try {
        await this.#load(set, pluginConfig, base);
        loaded++;
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        if (failOnError) {
          await this.#closeSet(set);
          report(
            logger,
            `0 of ${enabled.length} plugins loaded${from}: ${pluginConfig.name} failed`,
          );
          throw new Error(`Plugin initialization failed: ${pluginConfig.name} - ${detail}`, {
            cause: error,
          });
        }
        logger.warn(
          `Skipping plugin ${pluginConfig.name} because fail_on_plugin_error is disabled: ${detail}`,
        );
      }
    }
    report(logger, `${loaded} of ${enabled.length} plugins loaded${from}`);
  }

  async #load(set: PluginSet, entry: PluginConfig, base: URL | undefined): Promise<void> {
    const config = await this.#withManifest(entry, base);
    const plugin = await loadPlugin(config, {
      base,
      kinds: this.#options.pluginKinds,
      hookRegistry: this.#hooks,
    });
    await initializeOrRelease(plugin);
    // External plugins merge the remote server's settings into their own config at
    // initialize(); in-process plugins are trusted with the file's entry only.
    const trusted = config.kind === "external" ? structuredClone(plugin.config) : config;
    try {
      if (entry.shadow === true) {
        // Issue 17: runs beside the live chain, never in it.
        if (set.registry.get(trusted.name)) {
          throw new Error(`Plugin ${trusted.name} already registered`);
        }
        set.shadows.add(plugin, trusted, set.executor.timeout);
        return;
      }
      set.registry.register(plugin, trusted);
    } catch (error) {
      await plugin.shutdown().catch(() => {});
      throw error;
    }
    set.order.push(trusted.name);
  }

  /**
   * Replaces the whole plugin set with the one `config` describes (issue 14 item 4): a config
   * file path or URL (read now), a parsed {@linkcode Config}, or nothing for the path the
   * manager was made from. The new set is loaded and initialized beside the current one, then
   * swapped in at once: calls already running finish on the old set, calls started after the
   * swap see only the new one. Resolves after the old set's calls (and fire-and-forget tasks)
   * have finished and its plugins are shut down.
   *
   * Every plugin is rebuilt, also one whose entry did not change (no state is carried over),
   * plugins registered with `registerPlugin()` are dropped with the old set, and plugins
   * disabled by `on_error: disable` start enabled. The new config's `plugin_settings` apply to
   * the new set (a `record` block is read only by `initialize()`). Reloads (and
   * `initialize()`/`shutdown()`) run one at a time.
   *
   * A reload that fails (unreadable or invalid YAML, a plugin that will not load or initialize
   * under `fail_on_plugin_error: true`) shuts down what it started, keeps the old set serving,
   * and rejects with an error saying why.
   *
   * @example
   * ```ts
   * import { parseConfig, Plugin, PluginManager } from "@cpex/core";
   *
   * class Deny extends Plugin {
   *   tool_pre_invoke() {
   *     return { continue_processing: false, violation: { reason: "r", description: "d", code: "NO" } };
   *   }
   * }
   * const manager = new PluginManager(null, { pluginKinds: { deny: Deny } });
   * await manager.initialize();
   * await manager.reload(parseConfig({
   *   plugins: [{ name: "deny", kind: "deny", hooks: ["tool_pre_invoke"] }],
   * }));
   * console.log(manager.pluginCount); // 1
   * await manager.shutdown();
   * ```
   */
  reload(config?: string | URL | Config, options: ReloadOptions = {}): Promise<void> {
    return this.#serial(async () => {
      if (!this.#initialized) throw new Error("reload() needs an initialized manager");
      const source = config ?? this.#path();
      if (source === null) throw new Error("reload() needs a config: the manager has no path");
      let parsed: Config;
      let base: URL | undefined;
      let path: string | URL | null = null;
      if (typeof source === "string" || source instanceof URL) {
        parsed = await loadConfig(source);
        base = toFileUrl(source);
        path = source;
      } else parsed = parseConfig(source);
      const old = this.#set;
      const next = this.#newSet(old.executor.observability, old.executor.metrics);
      const settings = this.#resolveSettings(parsed);
      this.#applySettings(next.executor, settings);
      const failOnError = options.failOnPluginError ?? settings.failOnError;
      try {
        await this.#populate(next, parsed, base, failOnError, path);
      } catch (error) {
        next.executor.close();
        throw error;
      }
      // The swap: one reference. Calls that read the old set keep it until they settle.
      this.#set = next;
      this.#config = parsed;
      await old.drain();
      await this.#closeSet(old);
      old.executor.close();
    });
  }

  /** A reload started by the config watcher: logged, never thrown. */
  async #reloadFromWatch(path: string | URL): Promise<void> {
    const logger = this.#options.logger ?? consoleLogger;
    if (!this.#initialized) return;
    try {
      await this.reload(path);
      report(logger, `reloaded ${path}: ${this.pluginCount} plugins`);
    } catch (error) {
      logger.warn(
        `reload of ${path} failed, keeping the previous plugins: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }

  /**
   * The entry with the `default_config` of the `plugin-manifest.yaml` beside its module (when
   * there is one, readable) under its `config` (issue 12).
   */
  async #withManifest(entry: PluginConfig, base: URL | undefined): Promise<PluginConfig> {
    if (entry.kind === "external" || this.#options.pluginKinds?.[entry.kind]) return entry;
    const parts = splitModuleKind(entry.kind);
    const path = parts && manifestPathFor(resolveSpecifier(parts.specifier, base));
    if (!path) return entry;
    const merged = withDefaultConfig(entry.config, await readManifest(path));
    if (merged === entry.config) return entry;
    const copy = copyPluginConfig(entry);
    copy.config = merged;
    return copy;
  }

  /**
   * Registers an already constructed plugin (calling its `initialize()` first). Its own config
   * is the trusted one unless `trusted` is given.
   */
  registerPlugin(plugin: Plugin, trusted?: PluginConfig): Promise<void> {
    return this.#serial(async () => {
      const config = trusted ?? plugin.config;
      const set = this.#set;
      if (set.registry.get(config.name)) {
        throw new Error(`Plugin ${config.name} already registered`);
      }
      await initializeOrRelease(plugin);
      set.registry.register(plugin, config);
      set.order.push(config.name);
    });
  }

  /** Unregisters a plugin and calls its `shutdown()`; unknown names are ignored. */
  unregisterPlugin(name: string): Promise<void> {
    return this.#serial(async () => {
      const set = this.#set;
      const ref = set.registry.get(name);
      if (!ref) return;
      set.registry.unregister(name);
      set.order = set.order.filter((n) => n !== name);
      await ref.plugin.shutdown();
    });
  }

  /** The registered plugins that report replicas (external plugins). */
  *#replicaSources(): Iterable<ReplicaStatusSource> {
    for (const ref of this.#set.registry.all()) {
      const plugin = ref.plugin as Plugin & Partial<ReplicaStatusSource>;
      if (typeof plugin.replicaStatus === "function") {
        yield plugin as Plugin & ReplicaStatusSource;
      }
    }
  }

  /** The plugin registered as `name`, or null. */
  getPlugin(name: string): Plugin | null {
    return this.#set.registry.get(name)?.plugin ?? null;
  }

  /** True when some plugin handles `hookName`. */
  hasHooksFor(hookName: string): boolean {
    return this.#set.registry.hasHooksFor(hookName);
  }

  /**
   * Runs every plugin registered for `hookName`. For built-in hooks the payload type is
   * checked at compile time. Returns the aggregated result and the context table to pass
   * back (as `localContexts`) to the matching post hook; the table is null when no plugin
   * handles the hook.
   *
   * Payloads are deep-frozen: plugins change them only by returning `modified_payload`.
   *
   * When plugins handle the hook and it is registered (built-in or custom), the payload is
   * validated once against the hook's schema first; one that does not match (a string, `args`
   * that is not an object, a numeric tool name) is rejected with `HookValidationError`, as the
   * wire transports reject it (issue 12). Plugins still receive the payload as given.
   */
  invokeHook<H extends string>(
    hookName: H,
    payload: PayloadOf<H>,
    globalContext: GlobalContext,
    options?: InvokeOptions,
  ): Promise<[HookResult<ResultPayloadOf<H>>, PluginContextTable | null]> {
    // The set is read once: a reload swapping it mid-call does not change this call's plugins.
    const set = this.#set;
    const recorder = this.#recorder !== null && this.#recorder.sample() ? this.#recorder : null;
    if (recorder === null && (set.shadows.size === 0 || !set.shadows.handles(hookName))) {
      const plan = set.registry.plan(hookName);
      const call = set.executor.execute(plan, payload, globalContext, options);
      return (plan === null ? call : set.track(call)) as Promise<
        [HookResult<ResultPayloadOf<H>>, PluginContextTable | null]
      >;
    }
    return set.track(this.#invokeTapped(
      set,
      hookName,
      payload,
      globalContext,
      options,
      recorder,
    )) as Promise<[HookResult<ResultPayloadOf<H>>, PluginContextTable | null]>;
  }

  /**
   * `invokeHook` with the recorder and shadow plugins attached (issue 17): the global context
   * is copied before the chain can change it, and both get the outcome after the caller's
   * result is settled; neither can fail the call.
   */
  async #invokeTapped(
    set: PluginSet,
    hookName: string,
    payload: unknown,
    globalContext: GlobalContext,
    options: InvokeOptions | undefined,
    recorder: HookRecorder | null,
  ): Promise<[HookResult, PluginContextTable | null]> {
    const plan = set.registry.plan(hookName);
    // A JSON snapshot is the cheapest copy of a small context (structuredClone costs ~3x).
    let before: string | GlobalContext = globalContext;
    let input = payload;
    try {
      before = JSON.stringify(globalContext);
      // Without plugins the executor does not freeze the payload; the caller may reuse it.
      if (recorder && (!plan || plan.all.length === 0)) input = structuredClone(payload);
    } catch { /* not JSON data: recorded (and dropped by the writer) as is */ }
    const wall = Date.now();
    const started = performance.now();
    let out: [HookResult, PluginContextTable | null];
    try {
      out = await set.executor.execute(plan, payload, globalContext, options);
    } catch (error) {
      recorder?.add(hookName, input, before, wall, performance.now() - started, {
        result: null,
        error,
      });
      if (set.shadows.size) set.shadows.run(hookName, payload, snapshotOf(before), null);
      throw error;
    }
    recorder?.add(hookName, input, before, wall, performance.now() - started, {
      result: out[0],
    });
    if (set.shadows.size) set.shadows.run(hookName, input, snapshotOf(before), out[0]);
    return out;
  }

  /**
   * Runs one plugin's hook directly, bypassing conditions, runtime disabling, policies,
   * global-state merging and records. `context` may be a {@linkcode GlobalContext}.
   */
  async invokeHookForPlugin<H extends string>(
    name: string,
    hookName: H,
    payload: PayloadOf<H> | string | Record<string, unknown>,
    context: PluginContext | GlobalContext,
    options: InvokeForPluginOptions = {},
  ): Promise<HookResult<ResultPayloadOf<H>>> {
    const set = this.#set;
    const hookRef = set.registry.hookRef(name, hookName);
    if (!hookRef) {
      throw new PluginError({
        message:
          `Unable to find ${hookName} for plugin ${name}.  Make sure the plugin is registered.`,
        plugin_name: name,
      });
    }
    let input: unknown = payload;
    if (options.payloadAsJson) {
      if (typeof payload !== "string" && (typeof payload !== "object" || payload === null)) {
        throw new TypeError(
          `When payloadAsJson is true, payload must be a string or an object, got ${typeof payload}`,
        );
      }
      input = this.#hooks.parsePayload(hookName, payload as string | object);
    } else if (typeof payload !== "object" || payload === null) {
      throw new TypeError(
        `When payloadAsJson is false, payload must be an object, got ${
          payload === null ? "null" : typeof payload
        }`,
      );
    }
    const pluginContext = context instanceof PluginContext ? context : new PluginContext(context);
    return await set.trackOne(set.executor.executeOne(
      hookRef,
      input,
      pluginContext,
      options.violationsAsExceptions,
    )) as HookResult<ResultPayloadOf<H>>;
  }

  /** Re-enables plugins disabled by `on_error: disable`. */
  resetRuntimeDisabled(): Promise<void> {
    return this.#set.executor.resetRuntimeDisabled();
  }

  /**
   * Calls every plugin's `shutdown()` in reverse registration order (failures are reported,
   * not thrown) and forgets them. Idempotent; `initialize()` may be called again.
   */
  shutdown(): Promise<void> {
    // Stopped at once (not in turn): a reload it started may be queued behind this shutdown.
    this.#watcher?.close();
    this.#watcher = null;
    return this.#serial(async () => {
      this.#unwatchReplicas?.();
      this.#unwatchReplicas = null;
      this.#set.executor.close();
      if (this.#recorder) {
        if (this.#ownsRecorder) {
          await this.#recorder.close();
          this.#recorder = null;
          this.#ownsRecorder = false;
        } else await this.#recorder.flush();
      }
      if (!this.#initialized && this.#set.registry.pluginCount === 0) return;
      await this.#closeSet(this.#set);
      this.#initialized = false;
    });
  }

  /** Shuts down every plugin of `set` (shadows first, then in reverse order) and empties it. */
  async #closeSet(set: PluginSet): Promise<void> {
    const logger = this.#options.logger ?? consoleLogger;
    await set.shadows.close((m) => logger.warn(m));
    for (const name of [...set.order].reverse()) {
      const ref = set.registry.get(name);
      if (!ref) continue;
      try {
        await ref.plugin.shutdown();
      } catch (error) {
        logger.warn(
          `Error shutting down plugin ${name}: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
    set.registry.clear();
    set.order = [];
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

/** The context a JSON snapshot was taken of (a fresh object per call). */
function snapshotOf(before: string | GlobalContext): GlobalContext {
  return typeof before === "string" ? JSON.parse(before) : before;
}

function report(logger: ManagerLogger, message: string): void {
  if (logger.info) logger.info(message);
  else logger.warn(message);
}

/** Initializes a plugin; on failure shuts it down (closing what it opened) and rethrows. */
async function initializeOrRelease(plugin: Plugin): Promise<void> {
  try {
    await plugin.initialize();
  } catch (error) {
    await plugin.shutdown().catch(() => {});
    throw error;
  }
}

function toFileUrl(source: string | URL): URL {
  if (source instanceof URL) return source;
  if (source.startsWith("file:")) return new URL(source);
  // node:url escapes `#`, `%` and spaces in the path (a hand-built file:// URL did not).
  return pathToFileURL(resolve(source));
}

function validateModified(hooks: HookRegistry, hookName: string, value: unknown): unknown {
  const schema = hooks.getResultPayloadSchema(hookName);
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.length ? issue.path.join(".") : "(payload)";
  throw new TypeError(
    `modified_payload for ${hookName} is invalid at ${path}: ${issue?.message ?? "invalid"}`,
  );
}

let sharedManager: PluginManager | null | undefined;

/**
 * The settings-driven manager: null unless PLUGINS_ENABLED is true; otherwise one lazily
 * created manager for PLUGINS_CONFIG_FILE with PLUGINS_PLUGIN_TIMEOUT (later calls return the
 * same instance and ignore their options). The caller initializes it.
 *
 * @example
 * ```ts
 * import { getPluginManager } from "@cpex/core";
 * const manager = getPluginManager();
 * if (manager) await manager.initialize();
 * ```
 */
export function getPluginManager(options: PluginManagerOptions = {}): PluginManager | null {
  const settings = readSettings();
  if (!settings.enabled) return null;
  if (!sharedManager) sharedManager = new PluginManager(settings.configFile, options);
  return sharedManager;
}

/**
 * Forgets the manager of {@linkcode getPluginManager} (for tests and reconfiguration).
 *
 * @example
 * ```ts
 * import { resetPluginManager } from "@cpex/core";
 * resetPluginManager();
 * ```
 */
export function resetPluginManager(): void {
  sharedManager = undefined;
}
