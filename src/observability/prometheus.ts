/**
 * The Prometheus text exposition (format 0.0.4) of a {@linkcode CpexMetrics}: what a plugin
 * server's `/metrics` answers (issue 15 item 2), written from the in-place series without an
 * OpenTelemetry SDK. Names follow the OpenTelemetry → Prometheus conversion (`.` → `_`, unit
 * `_seconds`, counters `_total`), so dashboards work on both paths.
 *
 * @module
 */
import {
  type CpexMetrics,
  DURATION_BUCKETS,
  type LocalHistogram,
  type MetricAttributes,
  PLUGIN_OUTCOMES,
} from "./metrics.ts";

/**
 * The content type of {@linkcode writePrometheus}'s output.
 *
 * @example
 * ```ts
 * import { PROMETHEUS_CONTENT_TYPE } from "@cpex/core";
 * console.log(PROMETHEUS_CONTENT_TYPE); // "text/plain; version=0.0.4; charset=utf-8"
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A label value escaped for the text format: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** Renders `{k="v",...}` (labels in the order given), empty for no labels. */
function labels(attributes: MetricAttributes, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const key in attributes) parts.push(`${key}="${escapeLabel(attributes[key])}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A number in the text format (`+Inf`, `-Inf`, `NaN` spelled out). */
function num(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

/** Sums counters by their rendered labels (series of several modes share a label set). */
class CounterFamily {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  add(attributes: MetricAttributes, value: number): void {
    if (value <= 0) return;
    const key = labels(attributes);
    this.#values.set(key, (this.#values.get(key) ?? 0) + value);
  }
  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [key, value] of this.#values) out.push(`${this.name}${key} ${num(value)}`);
  }
}

interface MergedHistogram {
  attributes: MetricAttributes;
  counts: number[];
  sum: number;
  count: number;
}

/** Merges histograms by their labels and writes cumulative buckets. */
class HistogramFamily {
  readonly #values = new Map<string, MergedHistogram>();
  constructor(readonly name: string, readonly help: string) {}
  add(attributes: MetricAttributes, h: LocalHistogram): void {
    if (h.count === 0) return;
    const key = labels(attributes);
    let merged = this.#values.get(key);
    if (!merged) {
      merged = { attributes, counts: new Array(h.counts.length).fill(0), sum: 0, count: 0 };
      this.#values.set(key, merged);
    }
    for (let i = 0; i < h.counts.length; i++) merged.counts[i] += h.counts[i];
    merged.sum += h.sum;
    merged.count += h.count;
  }
  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const [key, h] of this.#values) {
      let cumulative = 0;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += h.counts[i];
        out.push(
          `${this.name}_bucket${
            labels(h.attributes, ["le", num(DURATION_BUCKETS[i])])
          } ${cumulative}`,
        );
      }
      out.push(`${this.name}_bucket${labels(h.attributes, ["le", "+Inf"])} ${h.count}`);
      out.push(`${this.name}_sum${key} ${num(h.sum)}`, `${this.name}_count${key} ${h.count}`);
    }
  }
}

/**
 * Writes `metrics` in the Prometheus text format: `cpex_plugin_calls_total`,
 * `cpex_plugin_violations_total`, `cpex_plugin_fail_open_total`, `cpex_remote_errors_total`,
 * and the histograms `cpex_plugin_duration_seconds`, `cpex_hook_duration_seconds` and
 * `cpex_remote_duration_seconds`. Series with no observation are left out.
 *
 * @example
 * ```ts
 * import { CpexMetrics, Outcome, writePrometheus } from "@cpex/core";
 * const metrics = new CpexMetrics();
 * metrics.count(metrics.plugin("guard", "tool_pre_invoke", "sequential", null), Outcome.Blocked);
 * console.log(writePrometheus(metrics).includes('outcome="blocked"} 1')); // true
 * ```
 */
export function writePrometheus(metrics: CpexMetrics): string {
  const calls = new CounterFamily("cpex_plugin_calls_total", "Plugin calls by outcome.");
  const violations = new CounterFamily(
    "cpex_plugin_violations_total",
    "Violations reported by blocking plugins, by code.",
  );
  const failOpen = new CounterFamily(
    "cpex_plugin_fail_open_total",
    "Plugin errors and timeouts absorbed by on_error ignore or disable.",
  );
  const remoteErrors = new CounterFamily(
    "cpex_remote_errors_total",
    "Failed calls of external plugins, by kind (error, timeout).",
  );
  const pluginDuration = new HistogramFamily(
    "cpex_plugin_duration_seconds",
    "Duration of one plugin call.",
  );
  const remoteDuration = new HistogramFamily(
    "cpex_remote_duration_seconds",
    "Duration of one call of an external plugin, as the gateway sees it.",
  );
  const hookDuration = new HistogramFamily(
    "cpex_hook_duration_seconds",
    "Duration of a whole hook chain.",
  );
  for (const s of metrics.pluginSeries()) {
    for (let i = 0; i < PLUGIN_OUTCOMES.length; i++) calls.add(s.callAttributes[i], s.calls[i]);
    failOpen.add(s.attributes, s.failOpen);
    const seen = new Set<unknown>();
    for (const v of s.violations.values()) {
      if (seen.has(v)) continue;
      seen.add(v);
      violations.add(v.attributes, v.count);
    }
    pluginDuration.add(s.attributes, s.duration);
    if (s.remoteAttributes !== null) {
      remoteDuration.add(s.remoteAttributes, s.duration);
      for (let i = 0; i < s.remoteErrors.length; i++) {
        remoteErrors.add(s.remoteErrorAttributes[i], s.remoteErrors[i]);
      }
    }
  }
  for (const h of metrics.hookSeries()) hookDuration.add(h.attributes, h.duration);
  const out: string[] = [];
  for (const family of [calls, violations, failOpen, remoteErrors]) family.write(out);
  for (const family of [pluginDuration, hookDuration, remoteDuration]) family.write(out);
  return out.join("\n") + "\n";
}
