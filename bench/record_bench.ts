/**
 * The cost of recording hook traffic (issue 17) per call: the demo gateway's in-process chain
 * (`examples/gateway.yaml`) running the demo's calls, with recording off, on (default
 * redaction: emails and card numbers) and on without redaction. Rounds are interleaved and
 * every call gets a fresh payload; the median round is reported twice: the call path alone
 * (what a caller waits for), and with the recorder's deferred work (redaction, JSON, the file
 * write) included by flushing at the end of the round.
 *
 * Run: `deno run --allow-read --allow-write=/tmp/cpex-record-bench bench/record_bench.ts
 * [calls per round=1000] [rounds=15]`
 *
 * @module
 */
import { HookRecorder, PluginManager } from "../mod.ts";
import { STEPS } from "../examples/demo/script.ts";

const perRound = Number(Deno.args[0] ?? 1_000);
const rounds = Number(Deno.args[1] ?? 15);
const DIR = "/tmp/cpex-record-bench";
const CONFIG = new URL("../examples/gateway.yaml", import.meta.url);
const quiet = { warn: () => {}, info: () => {} };
// The huge log step is 100 KB of text: measured separately it would dominate every figure.
const steps = STEPS.filter((s) => s.label !== "huge log download");

await Deno.mkdir(DIR, { recursive: true });

interface Case {
  name: string;
  manager: PluginManager;
  recorder: HookRecorder | null;
  path: number[];
  total: number[];
}

async function makeCase(name: string, recorder: HookRecorder | null): Promise<Case> {
  const manager = new PluginManager(CONFIG, { recorder, metrics: null, logger: quiet });
  await manager.initialize();
  return { name, manager, recorder, path: [], total: [] };
}

const cases = [
  await makeCase("recording off", null),
  await makeCase(
    "recording on, default redaction",
    new HookRecorder({ path: `${DIR}/redacted.jsonl`, maxBytes: 32 * 1024 * 1024, maxFiles: 1 }),
  ),
  await makeCase(
    "recording on, redact: false",
    new HookRecorder({
      path: `${DIR}/plain.jsonl`,
      redact: false,
      maxBytes: 32 * 1024 * 1024,
      maxFiles: 1,
    }),
  ),
];

let seq = 0;
async function round(c: Case, n: number): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const step = steps[seq++ % steps.length];
    await c.manager.invokeHook(step.hook, structuredClone(step.payload) as never, {
      request_id: `r${seq}`,
      server_id: "public-gateway",
    });
  }
  const called = performance.now();
  await c.recorder?.flush();
  const flushed = performance.now();
  c.path.push(((called - started) * 1000) / n);
  c.total.push(((flushed - started) * 1000) / n);
}

for (const c of cases) await round(c, perRound); // warm-up
for (const c of cases) {
  c.path.length = 0;
  c.total.length = 0;
}
for (let r = 0; r < rounds; r++) for (const c of cases) await round(c, perRound);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `Deno ${Deno.version.deno}; demo gateway chain (4 in-process plugins), ${steps.length} demo ` +
    `calls cycled; median of ${rounds} interleaved rounds x ${perRound} calls, fresh payloads`,
);
const off = cases[0];
for (const c of cases) {
  const p = median(c.path);
  const t = median(c.total);
  console.log(
    `${c.name.padEnd(34)} call path ${p.toFixed(2).padStart(7)} µs (+${
      (p - median(off.path)).toFixed(2)
    })  with write ${t.toFixed(2).padStart(7)} µs (+${(t - median(off.total)).toFixed(2)})` +
      (c.recorder ? `  written ${c.recorder.written}, dropped ${c.recorder.dropped}` : ""),
  );
}
for (const c of cases) {
  await c.manager.shutdown();
  await c.recorder?.close();
}
await Deno.remove(DIR, { recursive: true });
