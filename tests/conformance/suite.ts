/**
 * The manager differential suite: generates scenarios, runs each through the reference's
 * `PluginManager` (one Python process for the batch, JSON lines in and out) and through ours,
 * and compares the normalised outcomes (compare.ts).
 *
 * Run alone (prints the report and every divergence):
 *   deno run --allow-read --allow-write=/tmp --allow-run --allow-env tests/conformance/suite.ts
 * with `CPEX_CONFORMANCE_N`, `CPEX_CONFORMANCE_SEED`, `CPEX_CONFORMANCE_ONLY=<index>`.
 *
 * @module
 */
import { compareScenario, type ScenarioVerdict } from "./compare.ts";
import { generate, type Scenario } from "./scenario_gen.ts";
import { runOurs } from "./ts_driver.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
/** The reference's interpreter (tests/interop/setup_venv.sh creates it). */
export const PYTHON = `${ROOT}.venv/bin/python`;

/** Default scenario count (CI) and seed. */
export const DEFAULT_N = 500;
export const DEFAULT_SEED = 20261111;
/** Scenarios in flight at once on each side. */
const CONCURRENCY = 8;

/** Options of one suite run. */
export interface SuiteOptions {
  seed: number;
  n: number;
  /** Run only these indices. */
  only?: number[];
}

/** The suite's result. */
export interface SuiteReport {
  seed: number;
  scenarios: number;
  agree: number;
  deliberate: number;
  divergent: number;
  /** Scenarios covered by each mask. */
  byMask: Record<string, number>;
  verdicts: ScenarioVerdict[];
  line: string;
  /** The raw outcomes by scenario index (reference, ours), for re-comparison. */
  outcomes: Map<number, [Json, Json]>;
}

/** Reads `CPEX_CONFORMANCE_N`, `CPEX_CONFORMANCE_SEED` and `CPEX_CONFORMANCE_ONLY`. */
export function optionsFromEnv(): SuiteOptions {
  const n = Number(Deno.env.get("CPEX_CONFORMANCE_N") ?? DEFAULT_N);
  const seed = Number(Deno.env.get("CPEX_CONFORMANCE_SEED") ?? DEFAULT_SEED);
  const only = Deno.env.get("CPEX_CONFORMANCE_ONLY");
  if (!Number.isInteger(n) || n < 1) {
    throw new Error("CPEX_CONFORMANCE_N must be a positive integer");
  }
  if (!Number.isInteger(seed)) throw new Error("CPEX_CONFORMANCE_SEED must be an integer");
  return {
    n,
    seed,
    only: only ? only.split(",").map((s) => Number(s.trim())) : undefined,
  };
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** The lines of a byte stream. */
async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let at: number;
    while ((at = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
    }
  }
  if (buffered) yield buffered;
}

/** Feeds the scenarios to one reference process line by line; collects its outcomes. */
async function runReference(
  seed: number,
  indices: number[],
  pathOf: (index: number) => string,
): Promise<Map<number, Json>> {
  const child = new Deno.Command(PYTHON, {
    args: [`${HERE}manager_driver.py`, String(CONCURRENCY)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", PYTHONDONTWRITEBYTECODE: "1" },
  }).spawn();
  const out = new Map<number, Json>();
  let done = false;
  const reading = (async () => {
    for await (const line of linesOf(child.stdout)) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line);
      if (msg.done) done = true;
      else out.set(msg.id, msg.outcome);
    }
  })();
  const stderr = new Response(child.stderr).text();
  const writing = (async () => {
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    try {
      // Generated one at a time (the pipe's backpressure paces it): big payloads never pile up.
      for (const index of indices) {
        const s = generate(seed, index);
        const line = JSON.stringify({
          id: s.index,
          yaml_path: pathOf(s.index),
          timeout: s.timeout,
          requests: s.requests,
          calls: s.calls,
          policies: s.policies,
          default_policy: s.default_policy,
        });
        await writer.write(encoder.encode(line + "\n"));
      }
      await writer.close();
    } catch {
      // The reader reports a driver that died early.
    }
  })();
  const [status] = await Promise.all([child.status, reading, writing]);
  if (!status.success || !done) {
    throw new Error(
      `reference driver failed (exit ${status.code}):\n${(await stderr).slice(-4000)}`,
    );
  }
  await stderr;
  return out;
}

async function runOursAll(
  seed: number,
  indices: number[],
  pathOf: (index: number) => string,
): Promise<Map<number, Json>> {
  const out = new Map<number, Json>();
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const index = indices[next++];
      try {
        out.set(index, await runOurs(generate(seed, index), pathOf(index)));
      } catch (error) {
        out.set(index, { driver_error: String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

/** Runs the suite. */
export async function runSuite(options: SuiteOptions): Promise<SuiteReport> {
  const indices = options.only ?? Array.from({ length: options.n }, (_, i) => i);
  const seed = options.seed;
  const dir = await Deno.makeTempDir({ prefix: "cpex-conformance-" });
  try {
    const pathOf = (index: number) => `${dir}/s${index}.yaml`;
    for (const index of indices) {
      await Deno.writeTextFile(pathOf(index), generate(seed, index).yaml);
    }
    // Both sides at once: the reference in its own process, ours in this one.
    const [ref, ours] = await Promise.all([
      runReference(seed, indices, pathOf),
      runOursAll(seed, indices, pathOf),
    ]);
    const verdicts = indices.map((i) =>
      compareScenario(generate(seed, i), ref.get(i), ours.get(i))
    );
    const byMask: Record<string, number> = {};
    let agree = 0, deliberate = 0, divergent = 0;
    for (const v of verdicts) {
      if (v.diffs.length) divergent++;
      else if (v.masks.length) deliberate++;
      else agree++;
      if (!v.diffs.length) { for (const m of v.masks) byMask[m] = (byMask[m] ?? 0) + 1; }
    }
    const maskText = Object.entries(byMask).sort().map(([m, c]) => `${m}: ${c}`).join(", ");
    const line = `${indices.length} scenarios, ${agree} agree, ${deliberate} deliberate` +
      ` (by mask: ${maskText || "none"}), ${divergent} divergent (seed ${options.seed})`;
    return {
      seed: options.seed,
      scenarios: indices.length,
      agree,
      deliberate,
      divergent,
      byMask,
      verdicts,
      line,
      outcomes: new Map(indices.map((i) => [i, [ref.get(i), ours.get(i)]])),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The minimal printout of one divergent scenario. */
export function describeDivergence(v: ScenarioVerdict, s: Scenario): string {
  const lines = [
    `--- divergent: seed ${s.seed} index ${s.index} ` +
    `(CPEX_CONFORMANCE_SEED=${s.seed} CPEX_CONFORMANCE_ONLY=${s.index})`,
    "calls: " +
    s.calls.map((c) =>
      `${c.hook}@${c.request}${c.raise ? "!raise" : ""}${c.pass_contexts ? "" : "!fresh"}`
    ).join(", "),
    ...(s.policies || s.default_policy
      ? [`policies: ${JSON.stringify(s.policies)} default: ${s.default_policy ?? "allow"}`]
      : []),
    s.yaml.trimEnd(),
    ...v.diffs.map((d) => `  ${d}`),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const options = optionsFromEnv();
  const started = performance.now();
  const report = await runSuite(options);
  for (const v of report.verdicts) {
    if (v.diffs.length) console.log(describeDivergence(v, generate(options.seed, v.index)));
  }
  console.log(report.line);
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
  if (report.divergent > 0) Deno.exit(1);
}
