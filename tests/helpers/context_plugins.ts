/**
 * Test helpers for the manager suites (conditions, contexts, lifecycle, hooks, observability):
 * a plugin driven by a function, a span-recording observability provider, a warning collector,
 * and scoped environment variables. These are real implementations of the public extension
 * points, not mocks of the manager.
 *
 * @module
 */
import {
  type GlobalContext,
  type HookCallOptions,
  type ManagerLogger,
  type ObservabilityProvider,
  Plugin,
  type PluginConfigInput,
  type PluginContext,
  PluginManager,
  type PluginManagerOptions,
  type PluginResult,
  type SpanAttributes,
  type StartSpanOptions,
} from "../../mod.ts";

/**
 * What a {@linkcode FnPlugin} does on every hook.
 *
 * @example
 * ```ts
 * import type { HookFn } from "./context_plugins.ts";
 * const allow: HookFn = () => ({});
 * ```
 */
export type HookFn = (
  hookName: string,
  payload: unknown,
  context: PluginContext,
  options: HookCallOptions,
) => PluginResult | Promise<PluginResult>;

/**
 * One call seen by a {@linkcode FnPlugin}.
 *
 * @example
 * ```ts
 * import type { SeenCall } from "./context_plugins.ts";
 * const c: SeenCall = { plugin: "p", hook: "h", payload: {} };
 * ```
 */
export interface SeenCall {
  plugin: string;
  hook: string;
  payload: unknown;
}

/**
 * A plugin whose every hook runs `fn` (through `handleHook`) and is logged into `calls`.
 *
 * @example
 * ```ts
 * import { FnPlugin } from "./context_plugins.ts";
 * const p = new FnPlugin({ name: "p", kind: "inline", hooks: ["tool_pre_invoke"] });
 * console.log(p.calls.length); // 0
 * ```
 */
export class FnPlugin extends Plugin {
  /** Every call, in order. */
  readonly calls: SeenCall[];
  readonly #fn: HookFn;

  /** `calls` may be shared between plugins to observe the global order. */
  constructor(config: PluginConfigInput, fn: HookFn = () => ({}), calls: SeenCall[] = []) {
    super(config);
    this.#fn = fn;
    this.calls = calls;
  }

  /** Logs the call and delegates to `fn`. */
  override async handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    this.calls.push({ plugin: this.name, hook: hookName, payload });
    return await this.#fn(hookName, payload, context, options);
  }
}

/**
 * A started span as recorded by {@linkcode SpanRecorder}.
 *
 * @example
 * ```ts
 * import type { RecordedSpan } from "./context_plugins.ts";
 * const s: RecordedSpan = { id: "1", start: { traceId: "t", name: "n" }, ended: false };
 * ```
 */
export interface RecordedSpan {
  id: string;
  start: StartSpanOptions;
  ended: boolean;
  status?: "ok" | "error";
  endAttributes?: SpanAttributes;
}

/**
 * An {@linkcode ObservabilityProvider} that keeps every span in an array. It can be told to
 * throw from `startSpan` or `endSpan` to prove provider failures are swallowed.
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "./context_plugins.ts";
 * const r = new SpanRecorder();
 * r.endSpan(r.startSpan({ traceId: "t", name: "n" })!, "ok");
 * console.log(r.spans[0].ended); // true
 * ```
 */
export class SpanRecorder implements ObservabilityProvider {
  /** Spans in start order. */
  readonly spans: RecordedSpan[] = [];
  /** Throw from `startSpan`. */
  failStart = false;
  /** Throw from `endSpan` (after recording the end). */
  failEnd = false;
  /** Every `startSpan` call, including failed ones. */
  startCalls = 0;
  /** Every `endSpan` call, including failed ones. */
  endCalls = 0;
  /**
   * `start:<span name>` and `end:<span name>:<status>` in call order; tests may push their own
   * events to check what a span encloses.
   */
  readonly events: string[] = [];

  /** Records a span and returns its id. */
  startSpan(options: StartSpanOptions): string | null {
    this.startCalls++;
    if (this.failStart) throw new Error("startSpan exploded");
    const id = `span-${this.spans.length + 1}`;
    this.spans.push({ id, start: options, ended: false });
    this.events.push(`start:${options.name}`);
    return id;
  }

  /** Marks a span ended with its status and attributes. */
  endSpan(spanId: string, status?: "ok" | "error", attributes?: SpanAttributes): void {
    this.endCalls++;
    const span = this.spans.find((s) => s.id === spanId);
    if (span) {
      this.events.push(`end:${span.start.name}:${status}`);
      span.ended = true;
      span.status = status;
      span.endAttributes = attributes;
    }
    if (this.failEnd) throw new Error("endSpan exploded");
  }

  /** The spans whose name is `name`. */
  named(name: string): RecordedSpan[] {
    return this.spans.filter((s) => s.start.name === name);
  }
}

/**
 * A {@linkcode ManagerLogger} that collects warnings instead of printing them.
 *
 * @example
 * ```ts
 * import { WarningLog } from "./context_plugins.ts";
 * const log = new WarningLog();
 * log.warn("x");
 * console.log(log.messages); // ["x"]
 * ```
 */
export class WarningLog implements ManagerLogger {
  /** Collected warnings. */
  readonly messages: string[] = [];

  /** Collected progress reports ("N of M plugins loaded ..."). */
  readonly infos: string[] = [];

  /** Collects one warning. */
  warn(message: string): void {
    this.messages.push(message);
  }

  /** Collects one progress report. */
  info(message: string): void {
    this.infos.push(message);
  }
}

/**
 * Creates and initializes a manager (quiet logger unless given), registers `plugins`, runs
 * `fn`, and always shuts the manager down.
 *
 * @example
 * ```ts
 * import { withPlugins } from "./context_plugins.ts";
 * await withPlugins([], async (manager) => console.log(manager.pluginCount));
 * ```
 */
export async function withPlugins(
  plugins: Plugin[],
  fn: (manager: PluginManager) => Promise<void>,
  options: PluginManagerOptions = {},
): Promise<void> {
  const manager = new PluginManager(null, { logger: new WarningLog(), ...options });
  await manager.initialize();
  try {
    for (const plugin of plugins) await manager.registerPlugin(plugin);
    await fn(manager);
  } finally {
    await manager.shutdown();
  }
}

/**
 * Runs `fn` with environment variables set (`undefined` deletes one), restoring the previous
 * values afterwards.
 *
 * @example
 * ```ts
 * import { withEnv } from "./context_plugins.ts";
 * await withEnv({ PLUGINS_ENABLED: "true" }, () => Promise.resolve());
 * ```
 */
export async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(vars)) {
    saved.set(key, Deno.env.get(key));
    if (value === undefined) Deno.env.delete(key);
    else Deno.env.set(key, value);
  }
  try {
    return await fn();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
  }
}

/**
 * A minimal global context.
 *
 * @example
 * ```ts
 * import { gctx } from "./context_plugins.ts";
 * console.log(gctx({ tenant_id: "t" }).request_id); // "req-1"
 * ```
 */
export function gctx(extra: Partial<GlobalContext> = {}): GlobalContext {
  return { request_id: "req-1", ...extra };
}
