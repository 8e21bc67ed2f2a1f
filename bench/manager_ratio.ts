/**
 * The in-process rows of the benchmark table (issue 13): hook invocations through a real
 * `PluginManager` with five no-op (or metadata-returning) plugins on a payload parsed fresh per
 * call at 100 B, 1 KB and 10 KB, against five chained async calls on the same fresh payload.
 *
 * The cases take turns round by round (A B C ... A B C ...), so drifting machine load hits all of
 * them alike; per case the table shows min/median/max µs per call over the rounds, CPU µs per
 * call (`process.cpuUsage`, steadier than wall time on a shared machine), the median ratio to its
 * baseline and the target with whether it is met.
 *
 * Run: `deno task bench:ratio [round ms, default 300] [rounds, default 7] [--markdown]`.
 *
 * @module
 */
import process from "node:process";
import { type RatioCase, ratioCases } from "./cases.ts";
import { ARGS, formatTable, MARKDOWN, median, met } from "./table.ts";

const roundMs = Number(ARGS[0] ?? 300);
const rounds = Number(ARGS[1] ?? 7);
if (!(roundMs >= 20) || !Number.isInteger(rounds) || rounds < 5) {
  console.error("usage: manager_ratio.ts [round ms >= 20] [rounds >= 5] [--markdown]");
  Deno.exit(2);
}

interface Samples {
  micros: number[];
  cpuMicros: number;
  calls: number;
}

/** Runs `c` for `ms`, in batches of 64 between clock reads; µs per call and CPU µs used. */
async function round(c: RatioCase, ms: number): Promise<[number, number, number]> {
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const end = started + ms;
  let calls = 0;
  do {
    for (let i = 0; i < 64; i++) await c.run();
    calls += 64;
  } while (performance.now() < end);
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return [elapsed * 1000 / calls, cpu.user + cpu.system, calls];
}

const cases = await ratioCases();
const samples = new Map<RatioCase, Samples>(
  cases.map((c) => [c, { micros: [], cpuMicros: 0, calls: 0 }]),
);
try {
  for (const c of cases) await round(c, roundMs); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const [micros, cpu, calls] = await round(c, roundMs);
      const s = samples.get(c)!;
      s.micros.push(micros);
      s.cpuMicros += cpu;
      s.calls += calls;
    }
  }
} finally {
  for (const c of cases) await c.close();
}

/** Median over the rounds of this case's µs/call divided by its baseline's in the same round. */
function ratio(c: RatioCase): number | undefined {
  const base = cases.find((b) => b.name === c.vs);
  if (!base) return undefined;
  const a = samples.get(c)!.micros, b = samples.get(base)!.micros;
  return median(a.map((m, i) => m / b[i]));
}

/** This case's CPU per call over its baseline's. */
function cpuRatio(c: RatioCase): number | undefined {
  const base = cases.find((b) => b.name === c.vs);
  if (!base) return undefined;
  const a = samples.get(c)!, b = samples.get(base)!;
  return (a.cpuMicros / a.calls) / (b.cpuMicros / b.calls);
}

const rows = cases.map((c) => {
  const s = samples.get(c)!;
  const r = ratio(c);
  const cr = cpuRatio(c);
  const f = (n: number): string => n.toFixed(2);
  return [
    c.name,
    Math.round(1e6 / median(s.micros)).toLocaleString("en-US"),
    `${f(Math.min(...s.micros))} / ${f(median(s.micros))} / ${f(Math.max(...s.micros))}`,
    f(s.cpuMicros / s.calls),
    r === undefined ? "-" : `${r.toFixed(2)}x`,
    cr === undefined ? "-" : `${cr.toFixed(2)}x`,
    c.target === undefined ? "-" : `≤ ${c.target}x`,
    c.target === undefined || cr === undefined ? "-" : met(cr <= c.target),
  ];
});
const header = [
  "in-process case",
  "calls/s",
  "µs/call min / med / max",
  "CPU µs/call",
  "vs raw",
  "CPU vs raw",
  "target",
  "met",
];
const load = Deno.permissions.querySync({ name: "sys", kind: "loadavg" }).state === "granted"
  ? Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
  : "?";
console.log(
  `${MARKDOWN ? "\n" : ""}Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, ` +
    `load ${load}; ${rounds} interleaved rounds x ${roundMs} ms per case after one warm-up round` +
    (MARKDOWN ? "\n" : ""),
);
for (const line of formatTable(header, rows)) console.log(line);
if (!MARKDOWN) {
  console.log(
    "Each call parses its payload afresh (JSON.parse of the size's text) and gets a new global " +
      "context with a new request id, the baseline too. " +
      "vs raw = median over rounds of µs/call / the raw row's µs/call of the same size and round; " +
      "CPU vs raw = CPU µs/call / the raw row's (the target is judged on it: steadier under load).",
  );
}
const targeted = cases.filter((c) => c.target !== undefined);
console.log(
  `${MARKDOWN ? "" : "\n"}Targets (issue 13): 5 sequential no-op plugins vs 5 chained async ` +
    `calls on the same fresh payload, CPU per call${MARKDOWN ? "\n" : ""}`,
);
for (const c of targeted) {
  const cr = cpuRatio(c)!;
  console.log(
    `${MARKDOWN ? "- " : "  "}in-process, fresh ${c.size}: ${cr.toFixed(2)}x raw ` +
      `(target ≤ ${c.target}x) (${met(cr <= c.target!)})`,
  );
}
