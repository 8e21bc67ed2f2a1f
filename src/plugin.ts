/**
 * The `Plugin` base class, the `@hook` decorator and hook method discovery.
 *
 * @module
 */
import { PluginError } from "./errors.ts";
import type { PluginContext } from "./context.ts";
import { parsePluginConfig } from "./config/schema.ts";
import type {
  Extensions,
  OnError,
  PluginCondition,
  PluginConfig,
  PluginConfigInput,
  PluginMode,
  PluginResult,
} from "./types.ts";

/**
 * The third argument of every hook call.
 *
 * @example
 * ```ts
 * import { Plugin, type HookCallOptions, type PluginContext } from "@cpex/core";
 * class Slow extends Plugin {
 *   async tool_pre_invoke(_p: unknown, _c: PluginContext, { signal }: HookCallOptions) {
 *     await new Promise((r) => setTimeout(r, 10));
 *     signal.throwIfAborted(); // stop work once the manager stopped waiting
 *     return {};
 *   }
 * }
 * ```
 */
export interface HookCallOptions {
  /** Aborted when the plugin's timeout expires or the hook call is cancelled. */
  readonly signal: AbortSignal;
  /** The extensions the caller passed, filtered by the plugin's capabilities (or null). */
  readonly extensions: Extensions | null;
  /**
   * When the manager stops waiting, as a `performance.now()` time (absent when unknown, e.g.
   * a hand-built options object in a unit test). Lets a plugin size its own timeouts.
   */
  readonly deadline?: number;
  /**
   * The W3C trace context headers (`traceparent`, `tracestate`) of the plugin's span, when the
   * call is traced (absent otherwise): a plugin that calls another service forwards them so
   * that service's spans join the trace, as external plugins do (issue 15).
   */
  readonly traceContext?: Readonly<Record<string, string>>;
}

/**
 * A hook method: `(payload, context, options) => result`. It may be async or not.
 *
 * @example
 * ```ts
 * import type { HookHandler } from "@cpex/core";
 * const allow: HookHandler = () => ({});
 * ```
 */
// deno-lint-ignore no-explicit-any
export type HookHandler<P = any, R = unknown> = (
  payload: P,
  context: PluginContext,
  options: HookCallOptions,
) => PluginResult<R> | Promise<PluginResult<R>>;

const HOOK_NAMES: unique symbol = Symbol.for("cpex.hook_names");

/**
 * Marks a method as the handler of one or more hooks, for methods whose name is not the hook
 * name (custom hooks, dotted names, one method serving several hooks).
 *
 * @example
 * ```ts
 * import { hook, Plugin, type PluginResult } from "@cpex/core";
 * class Mailer extends Plugin {
 *   @hook("email_pre_send")
 *   checkEmail(payload: { recipient: string }): PluginResult {
 *     return payload.recipient.includes("@") ? {} : { continue_processing: false };
 *   }
 * }
 * ```
 */
export function hook(
  ...names: Array<string | readonly string[]>
): <T>(method: T, context: ClassMethodDecoratorContext) => T {
  const flat = names.flat();
  return <T>(method: T, _context: ClassMethodDecoratorContext): T => {
    (method as Record<symbol, unknown>)[HOOK_NAMES] = flat;
    return method;
  };
}

/**
 * Base class of every plugin. Subclasses implement hooks as methods named after the hook
 * (`tool_pre_invoke`) or decorated with {@linkcode hook}; they may override `initialize()` and
 * `shutdown()`, and may override `handleHook()` to receive every hook generically (external
 * plugin proxies do).
 *
 * @example
 * ```ts
 * import { Plugin, type PluginResult, type ToolPreInvokePayload } from "@cpex/core";
 *
 * export class MaxArgLength extends Plugin {
 *   tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
 *     const max = Number(this.config.config?.max_length ?? 100);
 *     for (const [key, value] of Object.entries(payload.args ?? {})) {
 *       if (String(value).length > max) {
 *         return {
 *           continue_processing: false,
 *           violation: { reason: "Argument too long", description: key, code: "ARG_TOO_LONG" },
 *         };
 *       }
 *     }
 *     return {};
 *   }
 * }
 * const plugin = new MaxArgLength({ name: "max", kind: "inline", hooks: ["tool_pre_invoke"] });
 * console.log(plugin.name, plugin.mode); // "max" "sequential"
 * ```
 */
export abstract class Plugin {
  #config: PluginConfig;

  /** Validates the config (filling defaults) and keeps a copy. */
  constructor(config: PluginConfigInput | PluginConfig) {
    this.#config = parsePluginConfig(config);
  }

  /** The plugin's validated configuration. */
  get config(): PluginConfig {
    return this.#config;
  }

  /** Replaces the configuration (external plugin proxies merge the remote config here). */
  protected set config(config: PluginConfig) {
    this.#config = config;
  }

  /** The plugin's unique name. */
  get name(): string {
    return this.#config.name;
  }

  /** Lower runs first. */
  get priority(): number {
    return this.#config.priority;
  }

  /** The plugin's mode. */
  get mode(): PluginMode {
    return this.#config.mode;
  }

  /** What happens when the plugin fails. */
  get onError(): OnError {
    return this.#config.on_error;
  }

  /** Hook names the plugin is registered for. */
  get hooks(): string[] {
    return this.#config.hooks;
  }

  /** Free-form tags. */
  get tags(): string[] {
    return this.#config.tags;
  }

  /** Condition objects (OR across, AND within). */
  get conditions(): PluginCondition[] {
    return this.#config.conditions;
  }

  /** Called once before the plugin is registered. */
  initialize(): Promise<void> {
    return Promise.resolve();
  }

  /** Called once when the manager shuts down (in reverse registration order). */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Optional generic handler: when a subclass defines it, it receives every hook the plugin is
   * registered for, and method discovery is skipped.
   */
  handleHook?(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult>;
}

/**
 * Finds the handler of `hookName` on `plugin`: `handleHook` if defined, else a method named
 * after the hook, else the alphabetically first public method decorated with that hook name.
 * Throws {@linkcode PluginError} when there is none.
 */
export function findHookHandler(plugin: Plugin, hookName: string): HookHandler {
  if (typeof plugin.handleHook === "function") {
    const generic = plugin.handleHook.bind(plugin);
    return (payload, context, options) => generic(hookName, payload, context, options);
  }
  const self = plugin as unknown as Record<string, unknown>;
  const direct = self[hookName];
  if (typeof direct === "function") return direct.bind(plugin) as HookHandler;
  for (const name of publicMethodNames(plugin)) {
    const method = self[name] as Record<symbol, unknown>;
    const names = method[HOOK_NAMES];
    if (Array.isArray(names) && names.includes(hookName)) {
      return (method as unknown as HookHandler).bind(plugin);
    }
  }
  throw new PluginError({
    message: `Plugin '${plugin.name}' has no hook: '${hookName}'. ` +
      `Method must either be named '${hookName}' or decorated with @hook('${hookName}')`,
    plugin_name: plugin.name,
  });
}

function publicMethodNames(plugin: Plugin): string[] {
  const names = new Set<string>();
  let proto = Object.getPrototypeOf(plugin);
  while (proto && proto !== Plugin.prototype && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === "constructor" || name.startsWith("_")) continue;
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (desc && typeof desc.value === "function") names.add(name);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return [...names].sort();
}
