/**
 * Circuit-breaker fail-fast latency and recovery times (issue 14), against real plugin servers
 * (`tests/helpers/replica_child.ts`, a plugin that blocks every call) on the Unix socket:
 *
 * - fail fast: one replica, `SIGSTOP`ped until its breaker opened; then sequential calls
 *   through the manager (`on_error: fail`, each a fresh payload) fail with `CIRCUIT_OPEN`.
 *   The baseline, in the same run and interleaved round by round, is the same manager shape
 *   with an in-process plugin that throws (the manager's own cost of a failing call). Reported:
 *   median and p99 per call of both, and their difference (what the breaker adds);
 * - recovery after `SIGCONT` (reset_timeout 1 s): ms until a call is answered again;
 * - recovery of a SIGKILLed-and-restarted replica of two (health_check interval 0.1 s): ms from
 *   the restart's READY to the replica being healthy again.
 *
 * Run: `deno task bench:breaker` (`deno run --allow-read=/tmp --allow-write=/tmp --allow-net
 * --allow-run bench/breaker_bench.ts [calls=2000] [rounds=7]`). About 20 s.
 *
 * @module
 */
import {
  CIRCUIT_OPEN,
  type GlobalContext,
  parseConfig,
  Plugin,
  PluginError,
  PluginManager,
} from "../mod.ts";
import type { RemotePlugin } from "../src/external/remote_plugin.ts";

const calls = Number(Deno.args[0] ?? 2000);
const rounds = Number(Deno.args[1] ?? 7);
const CHILD = new URL("../tests/helpers/replica_child.ts", import.meta.url).pathname;
const GLOBAL = { request_id: "bench" } as GlobalContext;

/** Throws on every call: the in-process baseline of a failing plugin. */
class Thrower extends Plugin {
  tool_pre_invoke(): never {
    throw new PluginError({ message: "down", plugin_name: this.name, code: CIRCUIT_OPEN });
  }
}

function startChild(path: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${path}`,
      `--allow-write=${path}`,
      `--allow-net=unix:${path}`,
      CHILD,
      "unix",
      path,
    ],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
}

async function ready(child: Deno.ChildProcess): Promise<number> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/^READY/m.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`child ended: ${text}`);
    text += value;
  }
  const at = performance.now();
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return at;
}

async function call(manager: PluginManager, n: number): Promise<string> {
  try {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t", args: { n } },
      GLOBAL,
    );
    return result.continue_processing ? "allowed" : "blocked";
  } catch (error) {
    return error instanceof PluginError ? `error:${error.error.code ?? ""}` : "error";
  }
}

async function until(condition: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-bench-breaker-" });
const children: Deno.ChildProcess[] = [];
const managers: PluginManager[] = [];
try {
  // Fail fast.
  const path = `${dir}/one.sock`;
  const child = startChild(path);
  children.push(child);
  await ready(child);
  const gateway = new PluginManager(parseConfig({
    plugins: [{
      name: "blocker",
      kind: "external",
      hooks: ["tool_pre_invoke"],
      timeout: 0.2,
      unix_socket: { path },
      circuit_breaker: { failure_threshold: 3, reset_timeout: 3600 },
    }],
  }));
  managers.push(gateway);
  await gateway.initialize();
  const baseline = new PluginManager(parseConfig({ plugins: [] }));
  managers.push(baseline);
  await baseline.initialize();
  await baseline.registerPlugin(
    new Thrower({ name: "thrower", kind: "bench", hooks: ["tool_pre_invoke"] }),
  );
  child.kill("SIGSTOP");
  await until(async () => (await call(gateway, -1)) === `error:${CIRCUIT_OPEN}`, 10_000);
  const samples: Record<string, number[]> = { breaker: [], baseline: [] };
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [name, manager] of [["breaker", gateway], ["baseline", baseline]] as const) {
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        const outcome = await call(manager, n++);
        samples[name].push(performance.now() - started);
        if (outcome !== `error:${CIRCUIT_OPEN}`) throw new Error(`${name}: ${outcome}`);
      }
    }
  }
  const rows = Object.entries(samples).map(([name, s]) => {
    s.sort((a, b) => a - b);
    return { name, median: percentile(s, 0.5), p99: percentile(s, 0.99) };
  });
  for (const r of rows) {
    console.log(
      `fail fast ${r.name.padEnd(8)} median ${(r.median * 1000).toFixed(1)} µs  p99 ${
        (r.p99 * 1000).toFixed(1)
      } µs`,
    );
  }
  console.log(
    `breaker adds ${((rows[0].median - rows[1].median) * 1000).toFixed(1)} µs per call (median)`,
  );

  // Recovery after SIGCONT (a fresh gateway with reset_timeout 1 s).
  const recovering = new PluginManager(parseConfig({
    plugins: [{
      name: "blocker",
      kind: "external",
      hooks: ["tool_pre_invoke"],
      timeout: 0.2,
      unix_socket: { path },
      circuit_breaker: { failure_threshold: 1, reset_timeout: 1 },
    }],
  }));
  managers.push(recovering);
  child.kill("SIGCONT");
  await recovering.initialize();
  child.kill("SIGSTOP");
  await until(async () => (await call(recovering, -1)) === `error:${CIRCUIT_OPEN}`, 10_000);
  const resumed = performance.now();
  child.kill("SIGCONT");
  await until(async () => (await call(recovering, -1)) === "blocked", 10_000);
  console.log(`serving again ${(performance.now() - resumed).toFixed(0)} ms after SIGCONT`);

  // Recovery of a killed and restarted replica of two.
  const paths = [`${dir}/a.sock`, `${dir}/b.sock`];
  const pair = paths.map(startChild);
  children.push(...pair);
  await Promise.all(pair.map(ready));
  const fleet = new PluginManager(parseConfig({
    plugins: [{
      name: "blocker",
      kind: "external",
      hooks: ["tool_pre_invoke"],
      unix_socket: { paths },
      health_check: { interval: 0.1, timeout: 0.5, unhealthy_threshold: 2, healthy_threshold: 1 },
    }],
  }));
  managers.push(fleet);
  await fleet.initialize();
  const plugin = fleet.getPlugin("blocker") as RemotePlugin;
  const recoveries: number[] = [];
  for (let i = 0; i < 3; i++) {
    pair[0].kill("SIGKILL");
    await pair[0].status;
    await until(() => !plugin.replicaStatus()[0].healthy, 10_000);
    pair[0] = startChild(paths[0]);
    children.push(pair[0]);
    const up = await ready(pair[0]);
    await until(() => plugin.replicaStatus()[0].healthy, 10_000);
    recoveries.push(performance.now() - up);
  }
  console.log(
    `restarted replica healthy again ${recoveries.map((ms) => ms.toFixed(0)).join(", ")} ms ` +
      `after its READY (interval 0.1 s, healthy_threshold 1)`,
  );
} finally {
  for (const manager of managers) await manager.shutdown().catch(() => {});
  for (const child of children) {
    try {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
  }
  await Deno.remove(dir, { recursive: true });
}
