/**
 * Shadow plugins (issue 17 item 3): a plugin with `shadow: true` runs on live traffic without
 * effect. After the live chain has answered, each shadow plugin for the hook runs on the same
 * input (off the caller's path), through its own registry and executor so its conditions,
 * mode, timeout and `on_error` apply as if it were enforced. Its would-be decision is compared
 * with the live one; a difference is counted (`cpex.shadow.diffs` {plugin, hook, kind}) and
 * logged with the request id. Kinds: `block` (it would block a call the chain allowed),
 * `modify` (it would leave another payload than the chain did) and `error` (it failed).
 *
 * @module
 */
import type { CpexMetrics } from "../observability/metrics.ts";
import type { Plugin } from "../plugin.ts";
import type { GlobalContext, PluginConfig } from "../types.ts";
import { type ExecutorOptions, PluginExecutor } from "./executor.ts";
import { PluginRegistry } from "./registry.ts";
import type { HookResult } from "./result.ts";

/**
 * One difference between a shadow plugin's would-be decision and the live decision.
 *
 * @example
 * ```ts
 * import type { ShadowDiff } from "@cpex/core";
 * const d: ShadowDiff = {
 *   plugin: "NewGuard",
 *   hook: "tool_pre_invoke",
 *   kind: "block",
 *   requestId: "r1",
 *   code: "DENY",
 * };
 * ```
 */
export interface ShadowDiff {
  /** The shadow plugin. */
  plugin: string;
  /** The hook. */
  hook: string;
  /** `block`, `modify` or `error`. */
  kind: "block" | "modify" | "error";
  /** The request id of the call. */
  requestId: string;
  /** The would-be violation code (block) or error message (error), else null. */
  code: string | null;
}

interface Shadow {
  name: string;
  plugin: Plugin;
  registry: PluginRegistry;
  executor: PluginExecutor;
}

/**
 * The shadow plugins of one manager. Internal: the manager owns it.
 */
export class ShadowRunner {
  readonly #shadows: Shadow[] = [];
  readonly #pending = new Set<Promise<void>>();
  readonly #settings: ExecutorOptions;
  readonly #targetOf: ConstructorParameters<typeof PluginRegistry>[0];
  /** Where diffs are counted, if anywhere. */
  metrics: CpexMetrics | null;
  /** Called with each diff (logging). */
  readonly onDiff: (diff: ShadowDiff) => void;

  /** Creates the runner; `settings` configure each shadow's executor (timeouts, checks). */
  constructor(
    targetOf: ConstructorParameters<typeof PluginRegistry>[0],
    settings: ExecutorOptions,
    metrics: CpexMetrics | null,
    onDiff: (diff: ShadowDiff) => void,
  ) {
    this.#targetOf = targetOf;
    this.#settings = settings;
    this.metrics = metrics;
    this.onDiff = onDiff;
  }

  /** Number of shadow plugins. */
  get size(): number {
    return this.#shadows.length;
  }

  /** True when some shadow plugin handles `hook`. */
  handles(hook: string): boolean {
    for (const s of this.#shadows) if (s.registry.hasHooksFor(hook)) return true;
    return false;
  }

  /** Adds an initialized plugin as a shadow under its trusted config. */
  add(plugin: Plugin, trusted: PluginConfig, timeout: number): void {
    if (this.#shadows.some((s) => s.name === trusted.name)) {
      throw new Error(`Plugin ${trusted.name} already registered`);
    }
    const registry = new PluginRegistry(this.#targetOf);
    registry.register(plugin, trusted);
    // Its own executor without metrics: a shadow never shows in the live call counts.
    const executor = new PluginExecutor({ ...this.#settings, timeout, metrics: null });
    this.#shadows.push({ name: trusted.name, plugin, registry, executor });
  }

  /**
   * Runs the shadows of `hook` on `payload` (frozen) and `global` (a fresh copy taken before the
   * live chain ran, owned by the runner) in the background and compares with `live` (null when the chain threw).
   */
  run(hook: string, payload: unknown, global: GlobalContext, live: HookResult | null): void {
    let i = 0;
    for (const s of this.#shadows) {
      const plan = s.registry.plan(hook);
      if (!plan || plan.all.length === 0) continue;
      const task = this.#compare(s, hook, payload, global, live, i++).catch(() => {});
      this.#pending.add(task);
      task.finally(() => this.#pending.delete(task));
    }
  }

  async #compare(
    s: Shadow,
    hook: string,
    payload: unknown,
    global: GlobalContext,
    live: HookResult | null,
    i: number,
  ): Promise<void> {
    const requestId = String(global?.request_id ?? "");
    let diff: ShadowDiff | null = null;
    try {
      // One copy per shadow: a shadow's state changes never reach another.
      const context = i === 0 ? global : structuredClone(global);
      const [would] = await s.executor.execute(s.registry.plan(hook), payload, context);
      if (!would.continue_processing) {
        if (live === null || live.continue_processing) {
          diff = {
            plugin: s.name,
            hook,
            kind: "block",
            requestId,
            code: would.violation ? String(would.violation.code) : null,
          };
        }
      } else if (would.modified_payload !== null && live !== null && live.continue_processing) {
        const liveOut = live.modified_payload ?? payload;
        if (JSON.stringify(would.modified_payload) !== JSON.stringify(liveOut)) {
          diff = { plugin: s.name, hook, kind: "modify", requestId, code: null };
        }
      }
    } catch (error) {
      diff = {
        plugin: s.name,
        hook,
        kind: "error",
        requestId,
        code: error instanceof Error ? error.message : String(error),
      };
    }
    if (diff === null) return;
    this.metrics?.shadowDiff(diff.plugin, diff.hook, diff.kind);
    this.onDiff(diff);
  }

  /** Resolves when every shadow run started so far has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  /** Waits for running shadows, then shuts every shadow plugin down and forgets them. */
  async close(warn: (message: string) => void): Promise<void> {
    await this.idle();
    for (const s of this.#shadows.splice(0).reverse()) {
      s.executor.close();
      try {
        await s.plugin.shutdown();
      } catch (error) {
        warn(
          `Error shutting down plugin ${s.name}: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
  }
}
