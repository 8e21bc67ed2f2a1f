/**
 * The registry of loaded plugins and, per hook, the precomputed execution plan (refs sorted by
 * priority and bucketed by mode, conditions compiled).
 *
 * @module
 */
import { findHookHandler, type HookHandler, type Plugin } from "../plugin.ts";
import type { OnError, PluginConfig, PluginMode } from "../types.ts";
import { compileConditions, type ConditionMatcher, type ConditionTarget } from "./conditions.ts";
import { configKeys, type RecordIdentity, truncateText } from "./records.ts";

/**
 * A registered plugin with its trusted configuration (the manager's copy, never the plugin's).
 *
 * @example
 * ```ts
 * import type { PluginRef } from "./registry.ts";
 * function label(ref: PluginRef): string {
 *   return `${ref.name}@${ref.priority}`;
 * }
 * ```
 */
export interface PluginRef {
  /** Unique id of this registration (32 lower-case hex digits). */
  readonly uuid: string;
  /** The plugin instance. */
  readonly plugin: Plugin;
  /** The trusted configuration. */
  readonly config: PluginConfig;
  /** Plugin name. */
  readonly name: string;
  /** Priority (lower runs first). */
  readonly priority: number;
  /** Mode. */
  readonly mode: PluginMode;
  /** What to do when the plugin fails. */
  readonly onError: OnError;
  /** Per-plugin timeout in seconds, or null to use the manager's. */
  readonly timeout: number | null;
  /** Capabilities that gate the extensions the plugin sees. */
  readonly capabilities: ReadonlySet<string>;
  /** Identity fields copied into every execution record. */
  readonly identity: RecordIdentity;
}

/**
 * One plugin's handler for one hook.
 *
 * @example
 * ```ts
 * import type { HookRef } from "./registry.ts";
 * const names = (refs: HookRef[]) => refs.map((r) => r.ref.name);
 * ```
 */
export interface HookRef {
  /** The plugin. */
  readonly ref: PluginRef;
  /** The hook name. */
  readonly hookName: string;
  /** The discovered hook method, bound to the plugin. */
  readonly handler: HookHandler;
  /** Compiled conditions; null when the plugin always runs. */
  readonly matcher: ConditionMatcher | null;
}

/**
 * Everything the executor needs for one hook, computed once per registry change.
 *
 * @example
 * ```ts
 * import type { HookPlan } from "./registry.ts";
 * const count = (plan: HookPlan) => plan.all.length;
 * ```
 */
export interface HookPlan {
  /** The hook name. */
  readonly hookName: string;
  /** Every ref, sorted by priority (stable). */
  readonly all: readonly HookRef[];
  /** SEQUENTIAL refs in priority order. */
  readonly sequential: readonly HookRef[];
  /** TRANSFORM refs in priority order. */
  readonly transform: readonly HookRef[];
  /** AUDIT refs in priority order. */
  readonly audit: readonly HookRef[];
  /** CONCURRENT refs in priority order. */
  readonly concurrent: readonly HookRef[];
  /** FIRE_AND_FORGET refs in priority order. */
  readonly fireAndForget: readonly HookRef[];
}

const EMPTY: readonly HookRef[] = Object.freeze([]);

function newUuid(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * Holds registered plugins and serves cached per-hook plans.
 *
 * @example
 * ```ts
 * import { PluginRegistry } from "./registry.ts";
 * const registry = new PluginRegistry(() => null);
 * console.log(registry.pluginCount); // 0
 * ```
 */
export class PluginRegistry {
  readonly #targetOf: (hookName: string) => ConditionTarget | null;
  readonly #plugins = new Map<string, PluginRef>();
  readonly #hooks = new Map<string, HookRef[]>();
  readonly #plans = new Map<string, HookPlan>();

  /** `targetOf` maps a hook name to the payload field its conditions match. */
  constructor(targetOf: (hookName: string) => ConditionTarget | null) {
    this.#targetOf = targetOf;
  }

  /**
   * Registers a plugin under its trusted config. All its hook handlers are resolved first, so a
   * plugin with a missing handler is not half-registered.
   */
  register(plugin: Plugin, trusted: PluginConfig = plugin.config): PluginRef {
    if (this.#plugins.has(trusted.name)) {
      throw new Error(`Plugin ${trusted.name} already registered`);
    }
    const uuid = newUuid();
    const ref: PluginRef = {
      uuid,
      plugin,
      config: trusted,
      name: trusted.name,
      priority: trusted.priority,
      mode: trusted.mode,
      onError: trusted.on_error,
      timeout: trusted.timeout ?? null,
      capabilities: new Set(trusted.capabilities),
      identity: {
        plugin_id: uuid,
        plugin_name: trusted.name,
        plugin_kind: truncateText(trusted.kind) ?? "",
        mode: trusted.mode,
        config_keys: Object.freeze(configKeys(trusted.config)) as string[],
      },
    };
    // A hook listed twice is registered once (the reference runs it twice in most modes and
    // once in fire_and_forget: issue 11 item 5; `check` warns).
    const hookRefs: HookRef[] = [...new Set(trusted.hooks)].map((hookName) => ({
      ref,
      hookName,
      handler: findHookHandler(plugin, hookName),
      matcher: compileConditions(trusted.conditions, this.#targetOf(hookName)),
    }));
    this.#plugins.set(ref.name, ref);
    for (const hookRef of hookRefs) {
      let list = this.#hooks.get(hookRef.hookName);
      if (!list) this.#hooks.set(hookRef.hookName, list = []);
      list.push(hookRef);
      this.#plans.delete(hookRef.hookName);
    }
    return ref;
  }

  /** Removes a plugin; unknown names are ignored. */
  unregister(name: string): void {
    const ref = this.#plugins.get(name);
    if (!ref) return;
    this.#plugins.delete(name);
    for (const [hookName, list] of this.#hooks) {
      const kept = list.filter((h) => h.ref !== ref);
      if (kept.length !== list.length) {
        if (kept.length) this.#hooks.set(hookName, kept);
        else this.#hooks.delete(hookName);
        this.#plans.delete(hookName);
      }
    }
  }

  /** The plugin registered as `name`. */
  get(name: string): PluginRef | undefined {
    return this.#plugins.get(name);
  }

  /** Every registered plugin, in registration order. */
  all(): PluginRef[] {
    return [...this.#plugins.values()];
  }

  /** Number of registered plugins. */
  get pluginCount(): number {
    return this.#plugins.size;
  }

  /** True when some plugin handles `hookName`. */
  hasHooksFor(hookName: string): boolean {
    return this.#hooks.has(hookName);
  }

  /** The cached plan of `hookName`, or null when no plugin handles it. */
  plan(hookName: string): HookPlan | null {
    const cached = this.#plans.get(hookName);
    if (cached) return cached;
    const list = this.#hooks.get(hookName);
    if (!list) return null;
    // Array.prototype.sort is stable: ties keep registration (= config file) order.
    const all = [...list].sort((a, b) => a.ref.priority - b.ref.priority);
    const pick = (mode: PluginMode) => {
      const refs = all.filter((h) => h.ref.mode === mode);
      return refs.length ? refs : EMPTY;
    };
    const plan: HookPlan = {
      hookName,
      all,
      sequential: pick("sequential"),
      transform: pick("transform"),
      audit: pick("audit"),
      concurrent: pick("concurrent"),
      fireAndForget: pick("fire_and_forget"),
    };
    this.#plans.set(hookName, plan);
    return plan;
  }

  /** The hook ref of plugin `name` for `hookName`. */
  hookRef(name: string, hookName: string): HookRef | undefined {
    return this.#hooks.get(hookName)?.find((h) => h.ref.name === name);
  }

  /** Forgets every plugin. */
  clear(): void {
    this.#plugins.clear();
    this.#hooks.clear();
    this.#plans.clear();
  }
}
