/**
 * One immutable-by-reference plugin set of a manager (issue 14 item 4): its registry, shadow
 * plugins, executor (runtime-disabled set, deadline timer, plan metrics) and load order, plus a
 * count of the calls running on it. A call captures the manager's current set once at its
 * start; `reload()` builds a new set beside the old one, swaps the reference, waits for the old
 * set's calls (and their fire-and-forget tasks) to drain, then shuts its plugins down.
 *
 * @module
 */
import type { PluginContextTable } from "../context.ts";
import type { PluginExecutor } from "./executor.ts";
import type { PluginRegistry } from "./registry.ts";
import type { HookResult } from "./result.ts";
import type { ShadowRunner } from "./shadow.ts";

/** A registry, its shadows and executor, and the calls in flight on them. Internal. */
export class PluginSet {
  /** Registered (live) plugins and their per-hook plans. */
  readonly registry: PluginRegistry;
  /** Shadow plugins (issue 17). */
  readonly shadows: ShadowRunner;
  /** Runs this set's plans; per set, so a reload starts with nothing disabled at runtime. */
  readonly executor: PluginExecutor;
  /** Registration order (shutdown runs it backwards). */
  order: string[] = [];
  #active = 0;
  #drained: (() => void) | null = null;
  // Bound once: tracking a call allocates no closure.
  readonly #done = (out: [HookResult, PluginContextTable | null]): void => {
    const tasks = out[0].background_tasks;
    // Fire-and-forget plugins still run after the caller has its answer: they hold the set.
    if (tasks.length) Promise.allSettled(tasks).then(this.#release);
    else this.#release();
  };
  readonly #release = (): void => {
    if (--this.#active === 0 && this.#drained !== null) this.#drained();
  };

  /** A set over the given parts. */
  constructor(registry: PluginRegistry, shadows: ShadowRunner, executor: PluginExecutor) {
    this.registry = registry;
    this.shadows = shadows;
    this.executor = executor;
  }

  /** Calls (and their background tasks) still running on this set. */
  get active(): number {
    return this.#active;
  }

  /** Counts `call` as running on this set until it settles; returns it unchanged. */
  track(
    call: Promise<[HookResult, PluginContextTable | null]>,
  ): Promise<[HookResult, PluginContextTable | null]> {
    this.#active++;
    call.then(this.#done, this.#release);
    return call;
  }

  /** Counts a single-plugin call (`invokeHookForPlugin`) until it settles. */
  trackOne<T>(call: Promise<T>): Promise<T> {
    this.#active++;
    call.then(this.#release, this.#release);
    return call;
  }

  /** Resolves once no call runs on this set (new calls must no longer reach it). */
  drain(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drained = () => {
        this.#drained = null;
        resolve();
      };
    });
  }
}
