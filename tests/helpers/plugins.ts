/**
 * Small plugin classes and helpers shared by the manager test suites. Every plugin here is a
 * real {@linkcode Plugin} subclass run by a real {@linkcode PluginManager}; nothing of the manager
 * is mocked. Hanging helpers honour the hook's `AbortSignal` so the sanitizers stay quiet.
 *
 * @module
 */
import {
  type ExecutionRecord,
  type GlobalContext,
  type HookCallOptions,
  Plugin,
  type PluginConfig,
  type PluginConfigInput,
  type PluginContext,
  PluginManager,
  type PluginManagerOptions,
  type PluginResult,
  type PluginViolation,
} from "../../mod.ts";

/**
 * What a {@linkcode ScriptedPlugin} does when one of its hooks is called.
 *
 * @example
 * ```ts
 * const allow: Behavior = () => ({});
 * ```
 */
export type Behavior = (
  // deno-lint-ignore no-explicit-any
  payload: any,
  context: PluginContext,
  options: HookCallOptions,
  hookName: string,
) => PluginResult | Promise<PluginResult>;

/**
 * One recorded hook call of a {@linkcode ScriptedPlugin}.
 *
 * @example
 * ```ts
 * const seen = (c: HookCall) => c.payload;
 * ```
 */
export interface HookCall {
  hookName: string;
  payload: unknown;
  context: PluginContext;
  signal: AbortSignal;
}

/**
 * A plugin whose every hook runs `behavior` (via the generic `handleHook`), recording each call
 * and, when given, appending its name to a shared `log`.
 *
 * @example
 * ```ts
 * const p = new ScriptedPlugin({ name: "p", kind: "inline", hooks: ["tool_pre_invoke"] });
 * ```
 */
export class ScriptedPlugin extends Plugin {
  /** Every call, in order. */
  readonly calls: HookCall[] = [];
  readonly #behavior: Behavior;
  readonly #log: string[] | undefined;

  /** Creates the plugin; `behavior` defaults to "allow". */
  constructor(
    config: PluginConfigInput | PluginConfig,
    behavior: Behavior = () => ({}),
    log?: string[],
  ) {
    super({ kind: "inline", ...config });
    this.#behavior = behavior;
    this.#log = log;
  }

  /** Number of calls so far. */
  get callCount(): number {
    return this.calls.length;
  }

  /** Records the call and runs the behaviour. */
  override handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    this.calls.push({ hookName, payload, context, signal: options.signal });
    this.#log?.push(this.name);
    try {
      return Promise.resolve(this.#behavior(payload, context, options, hookName));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/**
 * Allows everything; `tool_pre_invoke` and `tool_post_invoke` are plain methods (found by name).
 *
 * @example
 * ```ts
 * const p = new AllowPlugin({ name: "a", kind: "allow", hooks: ["tool_pre_invoke"] });
 * ```
 */
export class AllowPlugin extends Plugin {
  /** Calls seen. */
  calls = 0;
  /** Allows. */
  tool_pre_invoke(): PluginResult {
    this.calls++;
    return {};
  }
  /** Allows. */
  tool_post_invoke(): PluginResult {
    this.calls++;
    return {};
  }
}

/**
 * Blocks `tool_pre_invoke` with the violation code from `config.code` (default `DENY`).
 *
 * @example
 * ```ts
 * const p = new BlockPlugin({ name: "b", kind: "block", hooks: ["tool_pre_invoke"] });
 * ```
 */
export class BlockPlugin extends Plugin {
  /** Blocks. */
  tool_pre_invoke(): PluginResult {
    return block(String(this.config.config?.code ?? "DENY"));
  }
}

/**
 * Throws `Error(config.message ?? "boom")` from `tool_pre_invoke`.
 *
 * @example
 * ```ts
 * const p = new ThrowPlugin({ name: "t", kind: "throw", hooks: ["tool_pre_invoke"] });
 * ```
 */
export class ThrowPlugin extends Plugin {
  /** Throws. */
  tool_pre_invoke(): PluginResult {
    throw new Error(String(this.config.config?.message ?? "boom"));
  }
}

/**
 * Never answers `tool_pre_invoke` on its own; gives up when the hook's signal aborts.
 *
 * @example
 * ```ts
 * const p = new HangPlugin({ name: "h", kind: "hang", hooks: ["tool_pre_invoke"] });
 * ```
 */
export class HangPlugin extends Plugin {
  /** The reasons the signal was aborted with. */
  readonly abortReasons: unknown[] = [];
  /** Hangs until aborted. */
  tool_pre_invoke(
    _payload: unknown,
    _context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    options.signal.addEventListener("abort", () => this.abortReasons.push(options.signal.reason));
    return hang(options.signal);
  }
}

/**
 * Waits `ms` milliseconds; rejects with the signal's reason (and clears the timer) on abort.
 *
 * @example
 * ```ts
 * await sleep(1);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A hook body that only ends when `signal` aborts (rejecting with its reason); a 10 s safety
 * timer is cleared on abort.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const p = hang(ac.signal).catch(() => {});
 * ac.abort();
 * await p;
 * ```
 */
export async function hang(signal: AbortSignal, ms = 10_000): Promise<PluginResult> {
  await sleep(ms, signal);
  return {};
}

/**
 * A violation with the given code.
 *
 * @example
 * ```ts
 * console.log(violation("X").code); // "X"
 * ```
 */
export function violation(
  code = "DENY",
  reason = "denied",
  description = "blocked by a test plugin",
): PluginViolation {
  return { reason, description, code };
}

/**
 * A blocking result (`continue_processing: false`) with a violation of `code`.
 *
 * @example
 * ```ts
 * console.log(block().continue_processing); // false
 * ```
 */
export function block(code = "DENY", extra: PluginResult = {}): PluginResult {
  return { continue_processing: false, violation: violation(code), ...extra };
}

/**
 * A global context for request `requestId`.
 *
 * @example
 * ```ts
 * console.log(gctx().request_id); // "req-1"
 * ```
 */
export function gctx(requestId = "req-1", extra: Partial<GlobalContext> = {}): GlobalContext {
  return { request_id: requestId, ...extra };
}

/**
 * A fresh `tool_pre_invoke` payload.
 *
 * @example
 * ```ts
 * console.log(toolPayload().name); // "search"
 * ```
 */
export function toolPayload(
  args: Record<string, unknown> = { query: "deno" },
  name = "search",
): { name: string; args: Record<string, unknown> } {
  return { name, args };
}

/**
 * Creates, initializes and fills a manager: `config` may be a path, a Config object or omitted;
 * every plugin in `plugins` is registered in order.
 *
 * @example
 * ```ts
 * const manager = await makeManager([new AllowPlugin({ name: "a", kind: "allow", hooks: [] })]);
 * await manager.shutdown();
 * ```
 */
export async function makeManager(
  plugins: Plugin[] = [],
  options: PluginManagerOptions = {},
  config?: ConstructorParameters<typeof PluginManager>[0],
): Promise<PluginManager> {
  const manager = new PluginManager(config, { logger: { warn: () => {} }, ...options });
  await manager.initialize();
  for (const plugin of plugins) await manager.registerPlugin(plugin);
  return manager;
}

/**
 * Runs `fn` with a manager from {@linkcode makeManager} and shuts it down afterwards.
 *
 * @example
 * ```ts
 * await withManager([], {}, (m) => m.invokeHook("tool_pre_invoke", toolPayload(), gctx()));
 * ```
 */
export async function withManager<T>(
  plugins: Plugin[],
  options: PluginManagerOptions,
  fn: (manager: PluginManager) => Promise<T>,
): Promise<T> {
  const manager = await makeManager(plugins, options);
  try {
    return await fn(manager);
  } finally {
    await manager.shutdown();
  }
}

/**
 * The record of plugin `name` in `records` (throws when absent).
 *
 * @example
 * ```ts
 * recordOf([], "p"); // throws
 * ```
 */
export function recordOf(
  records: readonly ExecutionRecord[] | null | undefined,
  name: string,
): ExecutionRecord {
  const found = records?.find((r) => r.plugin_name === name);
  if (!found) throw new Error(`no execution record for plugin ${name}`);
  return found;
}

/**
 * Awaits `promise` expecting a rejection and returns the error (fails when it resolves).
 *
 * @example
 * ```ts
 * const e = await rejection(Promise.reject(new Error("x")));
 * ```
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, got a value");
}
