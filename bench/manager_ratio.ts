/**
 * Times the in-process benchmark cases of `cases.ts` with `performance.now()` and prints µs per
 * invocation, invocations per second and the ratio to the raw baseline (five chained async
 * calls) measured in the same process.
 *
 * Run: `deno task bench:ratio` (optional arguments: iterations per round, default 50000, and
 * rounds, default 5; the median round is reported).
 *
 * @module
 */
import { type BenchCase, buildCases } from "./cases.ts";

const iterations = Number(Deno.args[0] ?? 50_000);
const rounds = Number(Deno.args[1] ?? 5);
if (!Number.isInteger(iterations) || iterations < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: manager_ratio.ts [iterations >= 1] [rounds >= 1]");
  Deno.exit(2);
}

/** Median µs per call of `rounds` rounds of `iterations` calls, after a warm-up round. */
async function measure(benchCase: BenchCase): Promise<number> {
  const warmup = Math.min(iterations, 10_000);
  for (let i = 0; i < warmup; i++) await benchCase.run();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < iterations; i++) await benchCase.run();
    samples.push(((performance.now() - started) * 1000) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const cases = await buildCases();
const results: Array<{ name: string; micros: number }> = [];
try {
  for (const benchCase of cases) {
    results.push({ name: benchCase.name, micros: await measure(benchCase) });
  }
} finally {
  for (const benchCase of cases) await benchCase.close();
}

const baseline = results[cases.findIndex((c) => c.baseline)].micros;
const rows = results.map(({ name, micros }) => [
  name,
  micros.toFixed(2),
  Math.round(1e6 / micros).toLocaleString("en-US"),
  `${(micros / baseline).toFixed(1)}x`,
]);
const header = ["case", "µs/call", "calls/s", "vs raw"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const format = (cells: string[]): string =>
  cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");

console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; ` +
    `median of ${rounds} rounds x ${iterations.toLocaleString("en-US")} sequential invocations`,
);
console.log(format(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of rows) console.log(format(row));
