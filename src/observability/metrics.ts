/**
 * The manager's metrics (issue 15 item 1): per (plugin, hook) call counts by outcome,
 * violations by code, fail-open counts and latency histograms, aggregated in place and exported
 * through the OpenTelemetry metrics API.
 *
 * The hot path only bumps numbers in series objects made once per (plugin, hook): counters are
 * exported as observable counters read at collection time, so a plugin call allocates nothing and
 * crosses into no SDK for them. Latencies are also recorded on OpenTelemetry histograms (the API
 * has no asynchronous histogram) with attribute objects precomputed per series. The same series
 * are what a Prometheus exposition reads ({@linkcode CpexMetrics.pluginSeries}), so a plugin
 * server can own one `CpexMetrics` and serve `/metrics` from it without an SDK.
 *
 * @module
 */
import {
  type BatchObservableResult,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics as otelMetrics,
  type Observable,
} from "@opentelemetry/api";

/**
 * What became of one plugin call: `allowed`, `modified` (its payload or extensions change was
 * accepted), `blocked`, `error`, `timeout`, `skipped` (a condition did not match, or the plugin
 * is disabled by `on_error: disable`) or `cancelled` (a CONCURRENT sibling blocked or failed
 * first).
 *
 * @example
 * ```ts
 * import type { PluginOutcome } from "@cpex/core";
 * const o: PluginOutcome = "blocked";
 * ```
 */
export type PluginOutcome =
  | "allowed"
  | "modified"
  | "blocked"
  | "error"
  | "timeout"
  | "skipped"
  | "cancelled";

/**
 * Every {@linkcode PluginOutcome}, in the order of {@linkcode PluginSeries.calls}.
 *
 * @example
 * ```ts
 * import { PLUGIN_OUTCOMES } from "@cpex/core";
 * console.log(PLUGIN_OUTCOMES.indexOf("blocked")); // 2
 * ```
 */
export const PLUGIN_OUTCOMES: readonly PluginOutcome[] = Object.freeze([
  "allowed",
  "modified",
  "blocked",
  "error",
  "timeout",
  "skipped",
  "cancelled",
]);

/**
 * Index of each outcome in {@linkcode PluginSeries.calls} (what the hot path counts with).
 *
 * @example
 * ```ts
 * import { Outcome, PLUGIN_OUTCOMES } from "@cpex/core";
 * console.log(PLUGIN_OUTCOMES[Outcome.Blocked]); // "blocked"
 * ```
 */
export const Outcome: {
  readonly Allowed: 0;
  readonly Modified: 1;
  readonly Blocked: 2;
  readonly Error: 3;
  readonly Timeout: 4;
  readonly Skipped: 5;
  readonly Cancelled: 6;
} = Object.freeze({
  Allowed: 0,
  Modified: 1,
  Blocked: 2,
  Error: 3,
  Timeout: 4,
  Skipped: 5,
  Cancelled: 6,
});

/**
 * One value of {@linkcode Outcome}.
 *
 * @example
 * ```ts
 * import { Outcome } from "@cpex/core";
 * const o: Outcome = Outcome.Allowed;
 * ```
 */
export type Outcome = typeof Outcome[keyof typeof Outcome];

/**
 * Upper bounds (seconds) of the latency histogram buckets: 50 µs (an in-process guard) to 30 s
 * (the default plugin timeout).
 *
 * @example
 * ```ts
 * import { DURATION_BUCKETS } from "@cpex/core";
 * console.log(DURATION_BUCKETS.at(-1)); // 30
 * ```
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
]);

/**
 * The attributes of one metric point (string values only: bounded, never payload data).
 *
 * @example
 * ```ts
 * import type { MetricAttributes } from "@cpex/core";
 * const a: MetricAttributes = { plugin: "guard", hook: "tool_pre_invoke" };
 * ```
 */
export type MetricAttributes = Readonly<Record<string, string>>;

/** Distinct violation codes kept per series; later codes count as `other` (bounded cardinality). */
export const MAX_VIOLATION_CODES = 32;
/** Longest violation code kept as an attribute value, in UTF-16 units. */
const MAX_CODE_LENGTH = 64;

/**
 * A histogram over {@linkcode DURATION_BUCKETS}: per-bucket (not cumulative) counts, the last
 * one for values above every bound, and the sum and count.
 *
 * @example
 * ```ts
 * import { LocalHistogram } from "@cpex/core";
 * const h = new LocalHistogram();
 * h.observe(0.002);
 * console.log(h.count, h.sum); // 1 0.002
 * ```
 */
export class LocalHistogram {
  /** Count per bucket; index `DURATION_BUCKETS.length` is the +Inf bucket. */
  readonly counts: Float64Array = new Float64Array(DURATION_BUCKETS.length + 1);
  /** Sum of the observed values. */
  sum = 0;
  /** Number of observed values. */
  count = 0;

  /** Adds one value (seconds). */
  observe(value: number): void {
    let i = 0;
    const bounds = DURATION_BUCKETS;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** The violation count of one code of a series. */
export interface ViolationCount {
  /** Attributes `{plugin, hook, code}`. */
  readonly attributes: MetricAttributes;
  /** Violations seen with the code. */
  count: number;
}

/**
 * The aggregates of one (plugin, hook, mode): what `cpex.plugin.*` (and, for an external plugin,
 * `cpex.remote.*`) report for it.
 *
 * @example
 * ```ts
 * import { CpexMetrics, PLUGIN_OUTCOMES } from "@cpex/core";
 * const m = new CpexMetrics();
 * const s = m.plugin("guard", "tool_pre_invoke", "sequential", null);
 * console.log(s.calls[PLUGIN_OUTCOMES.indexOf("blocked")]); // 0
 * ```
 */
export class PluginSeries {
  /** Calls per outcome, indexed like {@linkcode PLUGIN_OUTCOMES}. */
  readonly calls: Float64Array = new Float64Array(PLUGIN_OUTCOMES.length);
  /** `{plugin, hook, mode, outcome}` per outcome, made once. */
  readonly callAttributes: readonly MetricAttributes[];
  /** `{plugin, hook}`. */
  readonly attributes: MetricAttributes;
  /** Errors and timeouts absorbed by `on_error: ignore` / `disable`. */
  failOpen = 0;
  /** Violations by code. */
  readonly violations: Map<string, ViolationCount> = new Map();
  #codes = 0;
  /** Latency of the calls that ran (seconds). */
  readonly duration: LocalHistogram = new LocalHistogram();
  /** `{plugin, transport}` for an external plugin, else null. */
  readonly remoteAttributes: MetricAttributes | null;
  /** `{plugin, transport, kind}` for `kind` error and timeout (external plugins only). */
  readonly remoteErrorAttributes: readonly MetricAttributes[];
  /** Remote errors: [error, timeout]. */
  readonly remoteErrors: Float64Array = new Float64Array(2);

  /** Creates the series of `plugin` at `hook` in `mode`; `transport` for an external plugin. */
  constructor(
    readonly plugin: string,
    readonly hook: string,
    readonly mode: string,
    readonly transport: string | null,
  ) {
    this.attributes = Object.freeze({ plugin, hook });
    this.callAttributes = Object.freeze(
      PLUGIN_OUTCOMES.map((outcome) => Object.freeze({ plugin, hook, mode, outcome })),
    );
    this.remoteAttributes = transport === null ? null : Object.freeze({ plugin, transport });
    this.remoteErrorAttributes = transport === null ? [] : Object.freeze(
      ["error", "timeout"].map((kind) => Object.freeze({ plugin, transport, kind })),
    );
  }

  /** The count of `code` (truncated; past {@linkcode MAX_VIOLATION_CODES} codes: `other`). */
  violation(code: string): ViolationCount {
    let entry = this.violations.get(code);
    if (entry) return entry;
    let key = code.length > MAX_CODE_LENGTH ? code.slice(0, MAX_CODE_LENGTH) : code;
    if (!this.violations.has(key) && this.#codes >= MAX_VIOLATION_CODES) key = "other";
    entry = this.violations.get(key);
    if (!entry) {
      entry = { attributes: Object.freeze({ ...this.attributes, code: key }), count: 0 };
      this.violations.set(key, entry);
      this.#codes++;
    }
    // The raw code maps to its entry too, so a repeated long code costs one lookup.
    if (code !== key && this.violations.size < MAX_VIOLATION_CODES * 2) {
      this.violations.set(code, entry);
    }
    return entry;
  }
}

/**
 * The aggregate of one hook: `cpex.hook.duration` for the whole chain.
 *
 * @example
 * ```ts
 * import { CpexMetrics } from "@cpex/core";
 * console.log(new CpexMetrics().hook("tool_pre_invoke").duration.count); // 0
 * ```
 */
export class HookSeries {
  /** `{hook}`. */
  readonly attributes: MetricAttributes;
  /** Latency of whole invocations (seconds). */
  readonly duration: LocalHistogram = new LocalHistogram();

  /** Creates the series of `hook`. */
  constructor(readonly hook: string) {
    this.attributes = Object.freeze({ hook });
  }
}

/**
 * A plugin that reports its replicas (an external plugin, `RemotePlugin.replicaStatus()`), as
 * the `cpex.remote.circuit_state`, `cpex.remote.replicas` and `cpex.remote.healthy_replicas`
 * gauges read it at collection time.
 *
 * @example
 * ```ts
 * import type { ReplicaStatusSource } from "@cpex/core";
 * const source: ReplicaStatusSource = {
 *   name: "guard",
 *   replicaStatus: () => [{ target: "10.0.0.11:50051", healthy: true, circuit: "closed" }],
 * };
 * ```
 */
export interface ReplicaStatusSource {
  /** The plugin's name (the `plugin` attribute). */
  readonly name: string;
  /** Each replica: where it is (the `replica` attribute), its health, its breaker state. */
  replicaStatus(): readonly {
    readonly target: string;
    readonly healthy: boolean;
    readonly circuit: "closed" | "open" | "half_open";
  }[];
  /**
   * Counts since the last call, then zeroed: delivered calls re-sent to another replica after
   * a connection loss, and calls failed fast with `CIRCUIT_OPEN`.
   */
  takeCounts?(): { resent: number; circuit_open: number };
}

/** `cpex.remote.circuit_state` values: ordered by how much of the replica is cut off. */
const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * An OpenTelemetry `MeterProvider` (`@opentelemetry/api`), as any SDK's is; typed structurally so
 * the public API does not expose the OpenTelemetry types.
 *
 * @example
 * ```ts
 * import type { OtelMeterProvider } from "@cpex/core";
 * import { metrics } from "@opentelemetry/api";
 * const p: OtelMeterProvider = metrics.getMeterProvider();
 * ```
 */
export interface OtelMeterProvider {
  /** Returns a meter (an OpenTelemetry `Meter`). */
  getMeter(name: string, version?: string, options?: object): unknown;
}

/**
 * Options of a {@linkcode CpexMetrics}.
 *
 * @example
 * ```ts
 * import type { CpexMetricsOptions } from "@cpex/core";
 * const o: CpexMetricsOptions = {};
 * ```
 */
export interface CpexMetricsOptions {
  /** Where the instruments are created (default: the global one, e.g. Deno's `OTEL_DENO`). */
  meterProvider?: OtelMeterProvider;
  /**
   * Export the latency histograms through OpenTelemetry (true). The API has no asynchronous
   * histogram, so each plugin call records one synchronously, which an SDK makes cost about
   * 0.5 µs; false keeps them only in the local series (for a Prometheus exposition).
   */
  histograms?: boolean;
}

/**
 * The metrics of one process (or one plugin server): the series the manager records to, and
 * their OpenTelemetry instruments (meter `@cpex/core`):
 *
 * - `cpex.plugin.calls` counter {plugin, hook, mode, outcome}
 * - `cpex.plugin.violations` counter {plugin, hook, code}
 * - `cpex.plugin.fail_open` counter {plugin, hook}
 * - `cpex.plugin.duration` histogram, seconds {plugin, hook}
 * - `cpex.hook.duration` histogram, seconds {hook}
 * - `cpex.remote.duration` histogram, seconds {plugin, transport}, and
 *   `cpex.remote.errors` counter {plugin, transport, kind} for external plugins.
 * - `cpex.remote.circuit_state` gauge {plugin, replica}: 0 closed, 1 half-open, 2 open;
 *   `cpex.remote.replicas` and `cpex.remote.healthy_replicas` gauges {plugin}: the replicas of
 *   external plugins of initialized managers ({@linkcode CpexMetrics.watchReplicas});
 *   `cpex.remote.resends` and `cpex.remote.circuit_open` counters {plugin}: delivered calls
 *   re-sent to another replica after a connection loss, calls failed fast (no replica).
 * - `cpex.record.dropped` counter: hook recordings dropped (queue full, write error; issue 17)
 * - `cpex.shadow.diffs` counter {plugin, hook, kind}: shadow plugin decisions that differ from
 *   the live one (issue 17)
 *
 * Managers use the process-wide {@linkcode defaultMetrics} unless given their own.
 *
 * @example
 * ```ts
 * import { CpexMetrics, PluginManager } from "@cpex/core";
 * const metrics = new CpexMetrics();
 * const manager = new PluginManager(null, { metrics });
 * await manager.initialize();
 * console.log(metrics.pluginSeries().length); // 0
 * await manager.shutdown();
 * ```
 */
export class CpexMetrics {
  readonly #plugins = new Map<string, PluginSeries>();
  readonly #hooks = new Map<string, HookSeries>();
  readonly #pluginDuration: Histogram;
  readonly #hookDuration: Histogram;
  readonly #remoteDuration: Histogram;
  readonly #shadowDiffs = new Map<string, { count: number; attributes: MetricAttributes }>();
  readonly #replicaSources = new Set<() => Iterable<ReplicaStatusSource>>();
  /** Per plugin name, so the counts survive a reload's new plugin instances. */
  readonly #remoteCounts = new Map<
    string,
    { resent: number; circuit_open: number; attributes: MetricAttributes }
  >();
  /** Hook recordings dropped so far (issue 17). */
  recordDropped = 0;

  /** Creates the instruments on the given (else the global) meter provider. */
  constructor(options: CpexMetricsOptions = {}) {
    const provider = (options.meterProvider ?? otelMetrics.getMeterProvider()) as MeterProvider;
    const meter: Meter = provider.getMeter("@cpex/core");
    const histogramMeter = options.histograms === false ? createNoopMeter() : meter;
    const histogram = (name: string, description: string): Histogram =>
      histogramMeter.createHistogram(name, {
        description,
        unit: "s",
        advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
      });
    this.#pluginDuration = histogram("cpex.plugin.duration", "Duration of one plugin call");
    this.#hookDuration = histogram("cpex.hook.duration", "Duration of a whole hook chain");
    this.#remoteDuration = histogram(
      "cpex.remote.duration",
      "Duration of one call of an external plugin, as the gateway sees it",
    );
    const calls = meter.createObservableCounter("cpex.plugin.calls", {
      description: "Plugin calls by outcome",
    });
    const violations = meter.createObservableCounter("cpex.plugin.violations", {
      description: "Violations reported by blocking plugins, by code",
    });
    const failOpen = meter.createObservableCounter("cpex.plugin.fail_open", {
      description: "Plugin errors and timeouts absorbed by on_error ignore or disable",
    });
    const remoteErrors = meter.createObservableCounter("cpex.remote.errors", {
      description: "Failed calls of external plugins, by kind (error, timeout)",
    });
    const recordDropped = meter.createObservableCounter("cpex.record.dropped", {
      description: "Hook recordings dropped instead of slowing or failing calls",
    });
    const shadowDiffs = meter.createObservableCounter("cpex.shadow.diffs", {
      description: "Shadow plugin decisions that differ from the live decision, by kind",
    });
    const circuitState = meter.createObservableGauge("cpex.remote.circuit_state", {
      description: "Circuit breaker of each replica of an external plugin: " +
        "0 closed, 1 half-open, 2 open",
    });
    const replicaCount = meter.createObservableGauge("cpex.remote.replicas", {
      description: "Replicas of an external plugin",
    });
    const healthyReplicas = meter.createObservableGauge("cpex.remote.healthy_replicas", {
      description: "Replicas of an external plugin its health checks keep in",
    });
    const resends = meter.createObservableCounter("cpex.remote.resends", {
      description: "Delivered calls re-sent to another replica after a connection loss",
    });
    const circuitOpen = meter.createObservableCounter("cpex.remote.circuit_open", {
      description: "Calls of an external plugin failed fast: no replica could take them",
    });
    const observables: Observable[] = [
      calls,
      violations,
      failOpen,
      remoteErrors,
      recordDropped,
      shadowDiffs,
      circuitState,
      replicaCount,
      healthyReplicas,
      resends,
      circuitOpen,
    ];
    meter.addBatchObservableCallback((result: BatchObservableResult) => {
      // Read at collection time: calls pay nothing for these gauges.
      for (const sources of this.#replicaSources) {
        for (const source of sources()) {
          const plugin = source.name;
          let healthy = 0;
          const replicas = source.replicaStatus();
          for (const r of replicas) {
            if (r.healthy) healthy++;
            result.observe(circuitState, CIRCUIT_VALUE[r.circuit], { plugin, replica: r.target });
          }
          result.observe(replicaCount, replicas.length, { plugin });
          result.observe(healthyReplicas, healthy, { plugin });
          this.#addRemoteCounts(source);
        }
      }
      for (const c of this.#remoteCounts.values()) {
        result.observe(resends, c.resent, c.attributes);
        result.observe(circuitOpen, c.circuit_open, c.attributes);
      }
      if (this.recordDropped > 0) result.observe(recordDropped, this.recordDropped);
      for (const d of this.#shadowDiffs.values()) {
        result.observe(shadowDiffs, d.count, d.attributes);
      }
      for (const s of this.#plugins.values()) {
        for (let i = 0; i < s.calls.length; i++) {
          if (s.calls[i] > 0) result.observe(calls, s.calls[i], s.callAttributes[i]);
        }
        if (s.failOpen > 0) result.observe(failOpen, s.failOpen, s.attributes);
        const seen = new Set<ViolationCount>();
        for (const v of s.violations.values()) {
          if (seen.has(v)) continue;
          seen.add(v);
          result.observe(violations, v.count, v.attributes);
        }
        for (let i = 0; i < s.remoteErrors.length; i++) {
          if (s.remoteErrors[i] > 0) {
            result.observe(remoteErrors, s.remoteErrors[i], s.remoteErrorAttributes[i]);
          }
        }
      }
    }, observables);
  }

  /**
   * Reports the replicas `sources()` yields (read at each collection) through the
   * `cpex.remote.circuit_state`, `cpex.remote.replicas` and `cpex.remote.healthy_replicas`
   * gauges, until the returned function is called. A manager watches its external plugins
   * from `initialize()` to `shutdown()`.
   *
   * @example
   * ```ts
   * import { CpexMetrics } from "@cpex/core";
   * const metrics = new CpexMetrics();
   * const unwatch = metrics.watchReplicas(() => []);
   * unwatch();
   * ```
   */
  watchReplicas(sources: () => Iterable<ReplicaStatusSource>): () => void {
    // A wrapper per call: the same function watched twice is two watches.
    const entry = () => sources();
    this.#replicaSources.add(entry);
    return () => {
      // The counts since the last collection are kept, then the plugins are forgotten.
      for (const source of sources()) this.#addRemoteCounts(source);
      this.#replicaSources.delete(entry);
    };
  }

  /** Moves a source's counts into the per-plugin totals. */
  #addRemoteCounts(source: ReplicaStatusSource): void {
    const taken = source.takeCounts?.();
    if (!taken) return;
    const plugin = source.name;
    let totals = this.#remoteCounts.get(plugin);
    if (!totals) {
      totals = { resent: 0, circuit_open: 0, attributes: Object.freeze({ plugin }) };
      this.#remoteCounts.set(plugin, totals);
    }
    totals.resent += taken.resent;
    totals.circuit_open += taken.circuit_open;
  }

  /** The series of `plugin` at `hook` in `mode` (`transport` for an external plugin). */
  plugin(plugin: string, hook: string, mode: string, transport: string | null): PluginSeries {
    const key = `${plugin}\u0000${hook}\u0000${mode}\u0000${transport ?? ""}`;
    let series = this.#plugins.get(key);
    if (!series) this.#plugins.set(key, series = new PluginSeries(plugin, hook, mode, transport));
    return series;
  }

  /** The series of `hook`. */
  hook(hook: string): HookSeries {
    let series = this.#hooks.get(hook);
    if (!series) this.#hooks.set(hook, series = new HookSeries(hook));
    return series;
  }

  /** Every plugin series, in creation order (for an exposition such as Prometheus text). */
  pluginSeries(): PluginSeries[] {
    return [...this.#plugins.values()];
  }

  /** Every hook series, in creation order. */
  hookSeries(): HookSeries[] {
    return [...this.#hooks.values()];
  }

  /** Records a call of `series` with `outcome`. */
  count(series: PluginSeries, outcome: Outcome): void {
    series.calls[outcome]++;
  }

  /** Records the latency (seconds) of a call of `series` that ran. */
  duration(series: PluginSeries, seconds: number): void {
    series.duration.observe(seconds);
    this.#pluginDuration.record(seconds, series.attributes);
    if (series.remoteAttributes !== null) {
      this.#remoteDuration.record(seconds, series.remoteAttributes);
    }
  }

  /** Records a failed call (`timedOut`: a timeout) and whether `on_error` absorbed it. */
  failure(series: PluginSeries, timedOut: boolean, absorbed: boolean): void {
    series.calls[timedOut ? Outcome.Timeout : Outcome.Error]++;
    if (absorbed) series.failOpen++;
    if (series.remoteAttributes !== null) series.remoteErrors[timedOut ? 1 : 0]++;
  }

  /** Records a violation with `code` reported by a blocking call of `series`. */
  violation(series: PluginSeries, code: string): void {
    series.violation(code).count++;
  }

  /** Counts one shadow plugin decision that differs from the live one (issue 17). */
  shadowDiff(plugin: string, hook: string, kind: string): void {
    const key = `${plugin}\u0000${hook}\u0000${kind}`;
    let entry = this.#shadowDiffs.get(key);
    if (!entry) {
      entry = { count: 0, attributes: Object.freeze({ plugin, hook, kind }) };
      this.#shadowDiffs.set(key, entry);
    }
    entry.count++;
  }

  /** The shadow diff count of (`plugin`, `hook`, `kind`), 0 when none. */
  shadowDiffCount(plugin: string, hook: string, kind: string): number {
    return this.#shadowDiffs.get(`${plugin}\u0000${hook}\u0000${kind}`)?.count ?? 0;
  }

  /** Records the latency (seconds) of a whole chain of `series`. */
  chain(series: HookSeries, seconds: number): void {
    series.duration.observe(seconds);
    this.#hookDuration.record(seconds, series.attributes);
  }
}

let shared: CpexMetrics | null = null;

/**
 * The process-wide {@linkcode CpexMetrics} that managers record to by default, created on first
 * use on the global meter provider (install an SDK, or run Deno with `OTEL_DENO=true`, before
 * the first manager is created).
 *
 * @example
 * ```ts
 * import { defaultMetrics } from "@cpex/core";
 * console.log(defaultMetrics() === defaultMetrics()); // true
 * ```
 */
export function defaultMetrics(): CpexMetrics {
  return shared ??= new CpexMetrics();
}
