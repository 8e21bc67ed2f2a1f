/**
 * The metric series of one hook plan, resolved once per plan (issue 15 item 1), so recording a
 * plugin call is a map lookup and a few number increments: no attribute objects are made on the
 * hot path.
 *
 * @module
 */
import {
  type CpexMetrics,
  type HookSeries,
  Outcome,
  type PluginSeries,
} from "../observability/metrics.ts";
import type { PluginConfig } from "../types.ts";
import type { HookPlan, HookRef } from "./registry.ts";

/** The transport of an external plugin (the loader's precedence), else null. */
function transportOf(config: PluginConfig): string | null {
  if (config.kind !== "external") return null;
  if (config.grpc) return "grpc";
  if (config.unix_socket) return "unix_socket";
  if (config.mcp) return "mcp";
  return null;
}

/** The series of every ref of a plan and of its hook. */
export class PlanMetrics {
  /** The hook's series. */
  readonly hook: HookSeries;
  readonly #series = new Map<HookRef, PluginSeries>();

  /** Resolves the series of `plan` in `metrics`. */
  constructor(readonly metrics: CpexMetrics, plan: HookPlan) {
    this.hook = metrics.hook(plan.hookName);
    for (const hookRef of plan.all) {
      const ref = hookRef.ref;
      this.#series.set(
        hookRef,
        metrics.plugin(ref.name, plan.hookName, ref.mode, transportOf(ref.config)),
      );
    }
  }

  /** The series of `hookRef` (a ref of the plan). */
  of(hookRef: HookRef): PluginSeries {
    return this.#series.get(hookRef)!;
  }

  /** A call that ran and returned a valid result: its outcome and latency (ns). */
  ran(hookRef: HookRef, outcome: Outcome, ns: number): void {
    const series = this.of(hookRef);
    series.calls[outcome]++;
    this.metrics.duration(series, ns / 1e9);
  }

  /** A blocking call's violation code. */
  violation(hookRef: HookRef, code: string): void {
    this.metrics.violation(this.of(hookRef), code);
  }

  /** A failed call; `absorbed` when `on_error` let the chain go on (fail-open). */
  failed(hookRef: HookRef, timedOut: boolean, absorbed: boolean, ns: number): void {
    const series = this.of(hookRef);
    this.metrics.failure(series, timedOut, absorbed);
    this.metrics.duration(series, ns / 1e9);
  }

  /** A ref skipped by a condition or `on_error: disable`. */
  skipped(hookRef: HookRef): void {
    this.of(hookRef).calls[Outcome.Skipped]++;
  }

  /** A call the executor stopped waiting for, or never started, after a sibling's halt. */
  cancelled(hookRef: HookRef): void {
    this.of(hookRef).calls[Outcome.Cancelled]++;
  }
}

/**
 * The series of one plugin called directly (`invokeHookForPlugin`, and so every call a plugin
 * server answers): what a server records for the plugins it hosts (issue 15 item 2).
 */
export class DirectMetrics {
  /** Binds `series` of `metrics`. */
  constructor(readonly metrics: CpexMetrics, readonly series: PluginSeries) {}

  /** A call that returned a valid result: its outcome and latency (seconds). */
  ran(outcome: Outcome, seconds: number): void {
    this.series.calls[outcome]++;
    this.metrics.duration(this.series, seconds);
  }

  /** A failed call; `absorbed` when `on_error` answered with an empty result (fail-open). */
  failed(timedOut: boolean, absorbed: boolean, seconds: number): void {
    this.metrics.failure(this.series, timedOut, absorbed);
    this.metrics.duration(this.series, seconds);
  }
}

/** The plan metrics of each plan, made on first use (plans are rebuilt on registry changes). */
export class PlanMetricsCache {
  #metrics: CpexMetrics | null;
  #plans = new WeakMap<HookPlan, PlanMetrics>();
  #direct = new WeakMap<HookRef, DirectMetrics>();

  /** A cache over `metrics` (null: nothing is recorded). */
  constructor(metrics: CpexMetrics | null) {
    this.#metrics = metrics;
  }

  /** The metrics recorded to, or null. */
  get metrics(): CpexMetrics | null {
    return this.#metrics;
  }

  /** Replaces the metrics (the cached series are dropped). */
  set metrics(metrics: CpexMetrics | null) {
    this.#metrics = metrics;
    this.#plans = new WeakMap();
    this.#direct = new WeakMap();
  }

  /** The series of `hookRef` called directly, or null without metrics. */
  direct(hookRef: HookRef): DirectMetrics | null {
    const metrics = this.#metrics;
    if (metrics === null) return null;
    let found = this.#direct.get(hookRef);
    if (!found) {
      const ref = hookRef.ref;
      found = new DirectMetrics(
        metrics,
        metrics.plugin(ref.name, hookRef.hookName, ref.mode, transportOf(ref.config)),
      );
      this.#direct.set(hookRef, found);
    }
    return found;
  }

  /** The series of `plan`, or null without metrics. */
  of(plan: HookPlan): PlanMetrics | null {
    const metrics = this.#metrics;
    if (metrics === null) return null;
    let found = this.#plans.get(plan);
    if (!found) this.#plans.set(plan, found = new PlanMetrics(metrics, plan));
    return found;
  }
}
