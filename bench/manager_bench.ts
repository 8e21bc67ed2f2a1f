/**
 * `deno bench` for in-process hook invocations: one and five no-op plugins in SEQUENTIAL and
 * CONCURRENT mode and with a `writable_fields` policy, against the raw baseline of five chained
 * async calls (marked `baseline`, so deno bench prints each case's ratio to it).
 *
 * Run: `deno task bench` (or `deno bench --allow-read --allow-env bench/manager_bench.ts`).
 *
 * @module
 */
import { buildCases } from "./cases.ts";

const cases = await buildCases();

for (const benchCase of cases) {
  Deno.bench({
    name: benchCase.name,
    group: "tool_pre_invoke",
    baseline: benchCase.baseline ?? false,
    // Enough warm-up for the JIT and enough samples for stable percentiles.
    warmup: 5_000,
    n: 50_000,
    fn: benchCase.run as () => Promise<void>,
  });
}

globalThis.addEventListener("unload", () => {
  for (const benchCase of cases) void benchCase.close();
});
