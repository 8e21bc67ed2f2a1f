/**
 * The cost of the metrics (issue 15) per plugin call: the same manager with 5 sequential no-op
 * plugins, with metrics off (`metrics: null`), on the global meter provider (a no-op without an
 * SDK; Deno's built-in SDK under `OTEL_DENO=true`), and on the OpenTelemetry metrics SDK with a
 * reader that is never collected (no exporter). Rounds are interleaved and every call gets a
 * fresh payload; the median round is reported, and the per-plugin-call cost is
 * (case - off) / 5.
 *
 * Run: `deno task bench:metrics` (`deno run --allow-env=OTEL_DENO bench/metrics_cost.ts [iterations=20000] [rounds=7]`), and again with
 * `OTEL_DENO=true` (no endpoint is needed: exports fail quietly) for Deno's built-in SDK.
 *
 * @module
 */
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { CpexMetrics, Outcome, PluginManager, type PluginSeries } from "../mod.ts";
import { GLOBAL_CONTEXT, NoOp } from "./cases.ts";

const iterations = Number(Deno.args[0] ?? 20_000);
const rounds = Number(Deno.args[1] ?? 7);
const PLUGINS = 5;

class IdleReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

async function manager(metrics: CpexMetrics | null | undefined): Promise<PluginManager> {
  const m = new PluginManager(undefined, metrics === undefined ? {} : { metrics });
  await m.initialize();
  for (let i = 0; i < PLUGINS; i++) {
    await m.registerPlugin(
      new NoOp({
        name: `noop-${i}`,
        kind: "bench",
        mode: "sequential",
        hooks: ["tool_pre_invoke"],
      }),
    );
  }
  return m;
}

const sdkMetrics = new CpexMetrics({
  meterProvider: new MeterProvider({ readers: [new IdleReader()] }),
});
const localHistograms = new CpexMetrics({
  meterProvider: new MeterProvider({ readers: [new IdleReader()] }),
  histograms: false,
});
const cases: Array<{ name: string; manager: PluginManager; samples: number[] }> = [
  { name: "metrics off", manager: await manager(null), samples: [] },
  {
    name: Deno.env.get("OTEL_DENO") === "true"
      ? "metrics on, Deno built-in SDK (OTEL_DENO)"
      : "metrics on, global meter (API no-op)",
    manager: await manager(undefined),
    samples: [],
  },
  {
    name: "metrics on, @opentelemetry/sdk-metrics",
    manager: await manager(sdkMetrics),
    samples: [],
  },
  {
    name: "sdk-metrics, histograms: false",
    manager: await manager(localHistograms),
    samples: [],
  },
];

async function round(m: PluginManager, n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    await m.invokeHook("tool_pre_invoke", { name: "web_search", args: { q: i } }, GLOBAL_CONTEXT);
  }
  return ((performance.now() - started) * 1000) / n;
}

for (const c of cases) await round(c.manager, Math.min(iterations, 5_000)); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const c of cases) c.samples.push(await round(c.manager, iterations));
}
for (const c of cases) await c.manager.shutdown();

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const off = median(cases[0].samples);
console.log(
  `Deno ${Deno.version.deno}; ${PLUGINS} sequential no-op plugins; median of ${rounds} ` +
    `interleaved rounds x ${iterations} invocations, fresh payloads`,
);
for (const c of cases) {
  const m = median(c.samples);
  console.log(
    `${c.name.padEnd(44)} ${m.toFixed(2).padStart(7)} µs/invocation  ` +
      `${((m - off) / PLUGINS).toFixed(3).padStart(7)} µs/plugin call over off`,
  );
}

// The recording alone (what the executor adds per plugin call: the series lookup, the outcome
// count, the latency histogram), without the rest of the invocation, whose noise on a loaded
// machine is larger than the cost itself. Same instruments, interleaved rounds, median.
const RECORDS = iterations * 50;
const recorders: Array<{ name: string; metrics: CpexMetrics | null; samples: number[] }> = [
  { name: "baseline (lookup only, no metrics)", metrics: null, samples: [] },
  { name: "global meter", metrics: new CpexMetrics(), samples: [] },
  { name: "@opentelemetry/sdk-metrics", metrics: sdkMetrics, samples: [] },
  { name: "sdk-metrics, histograms: false", metrics: localHistograms, samples: [] },
];
const keys = Array.from({ length: PLUGINS }, () => ({}));

function recordRound(metrics: CpexMetrics | null, n: number): number {
  const byKey = new Map<object, PluginSeries | null>(
    keys.map((
      k,
      i,
    ) => [k, metrics?.plugin(`p${i}`, "tool_pre_invoke", "sequential", null) ?? null]),
  );
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const series = byKey.get(keys[i % PLUGINS])!;
    const ns = 900 + (i & 1023);
    if (series === null || metrics === null) {
      sink += ns;
      continue;
    }
    series.calls[Outcome.Allowed]++;
    metrics.duration(series, ns / 1e9);
  }
  if (sink < 0) console.log(sink);
  return ((performance.now() - started) * 1000) / n;
}

for (const r of recorders) recordRound(r.metrics, RECORDS / 10);
for (let round = 0; round < rounds; round++) {
  for (const r of recorders) r.samples.push(recordRound(r.metrics, RECORDS));
}
const base = median(recorders[0].samples);
console.log(`recording only: median of ${rounds} interleaved rounds x ${RECORDS} plugin calls`);
for (const r of recorders) {
  const m = median(r.samples);
  console.log(
    `${r.name.padEnd(44)} ${m.toFixed(3).padStart(7)} µs/plugin call  ` +
      `${(m - base).toFixed(3).padStart(7)} µs over baseline`,
  );
}
