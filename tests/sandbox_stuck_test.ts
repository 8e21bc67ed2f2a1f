/**
 * Worker threads stuck in synchronous code (issue 16): Deno 2.9's `Worker.terminate()` cannot
 * stop a `while (true) {}`, so every scenario with such a loop runs in a child process
 * (`helpers/sandbox_stuck_child.ts`, with the exact flags below) whose exit ends the spinning
 * threads, instead of leaving them to burn the test runner's cores. Proves: the loop is cut
 * at its timeout and the next call gets a fresh worker; a plugin looping on every call gets
 * no more workers after `max_stuck` and then fails at once per `on_error` with
 * `SANDBOX_STUCK`; async timeouts never count; `max_stuck` is validated.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError, getHookRegistry, parseConfig, SANDBOX_STUCK } from "../mod.ts";
import { formatTransport } from "../src/cli/check.ts";
import { buildPlan } from "../src/cli/plan.ts";
import { Subprocess } from "./helpers/subprocess.ts";

/** The child's flags: the Worker permission option and reading the plugin modules, no more. */
const CHILD = [
  "run",
  "--unstable-worker-options",
  "--allow-read",
  "tests/helpers/sandbox_stuck_child.ts",
];

interface Outcome {
  ok?: Record<string, unknown>;
  continue?: boolean;
  code?: string | null;
  message?: string;
  ms: number;
}

/** Runs one scenario in a child process; returns its JSON line and its stderr. */
async function scenario<T>(name: string): Promise<{ result: T; stderr: string }> {
  const { status, stdout, stderr } = await new Subprocess([...CHILD, name]).finish();
  assert.equal(status.code, 0, `scenario ${name} failed: ${stderr}`);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return { result: JSON.parse(line) as T, stderr };
}

Deno.test("worker: a synchronous infinite loop is killed at its timeout and the next call succeeds", async () => {
  const { result: [spun, next] } = await scenario<Outcome[]>("loop-once");
  assert.match(spun.message ?? "", /timed out|timeout/i);
  assert.ok(spun.ms < 6000, `the loop was not cut at its timeout (${spun.ms} ms)`);
  assert.deepEqual(next.ok, { spun: false });
});

Deno.test("workers: 2 lets a call pass while another one spins in the other worker", async () => {
  const { result: [quick, spinning] } = await scenario<Outcome[]>("two-workers");
  assert.deepEqual(quick.ok, { spun: false });
  assert.ok(quick.ms < 3000, `the quick call waited for the spinning one (${quick.ms} ms)`);
  assert.match(spinning.message ?? "", /timeout/);
});

Deno.test("a worker plugin looping on every call gets no more workers after max_stuck, then fails at once per on_error", async () => {
  const { result, stderr } = await scenario<{
    calls: Record<"fail" | "ignore" | "sleepy", Outcome[]>;
    stuck: Record<string, number>;
  }>("stuck-limit");
  const { fail, ignore, sleepy } = result.calls;
  const all = JSON.stringify(result);
  // max_stuck 2, on_error fail: calls time out while the plugin leaks its two threads (two
  // calls, plus one whose worker started late, on a loaded machine). A call that was waiting
  // for a worker when the last probe found the second thread stuck gets SANDBOX_STUCK then,
  // not a timeout. From then on, SANDBOX_STUCK at once.
  const last = fail.at(-1)!;
  assert.equal(last.code, SANDBOX_STUCK, all);
  assert.match(last.message ?? "", /stuck in synchronous code.*isolation: process/);
  assert.ok(last.ms < 500, all);
  const before = fail.slice(0, -1);
  assert.ok(before.length >= 2 && before.length <= 4, all);
  assert.match(before[0].message ?? "", /timeout/, all);
  for (const o of before) {
    assert.ok(/timeout/.test(o.message ?? "") || o.code === SANDBOX_STUCK, all);
  }
  // max_stuck 1, on_error ignore: the failure is ignored like any other, and comes at once.
  for (const o of ignore) assert.equal(o.continue, true, all);
  assert.ok(ignore.at(-1)!.ms < 500 && ignore.length >= 2 && ignore.length <= 4, all);
  assert.deepEqual(result.stuck, { fail: 2, ignore: 1, sleepy: 0 }, all);
  // Async timeouts (the event loop answered the probe) never count, even with max_stuck 1:
  // the later calls still get workers (the last one may time out while its worker starts on
  // a loaded machine, but it is never refused).
  const seen = JSON.stringify(sleepy);
  assert.match(sleepy[0].message ?? "", /timeout/, seen);
  assert.match(sleepy[1].message ?? "", /timeout/, seen);
  assert.ok(sleepy[2].ok?.slept === 0 || /timeout/.test(sleepy[2].message ?? ""), seen);
  // One error per exhausted plugin, naming it and the way out.
  const logged = stderr.split("\n").filter((l) => l.includes(SANDBOX_STUCK));
  assert.equal(logged.length, 2, stderr);
  assert.match(logged.join("\n"), /Plugin fail: .*isolation: process/);
  assert.match(logged.join("\n"), /Plugin ignore: .*isolation: process/);
});

Deno.test("max_stuck: a positive integer, for isolation: worker only, shown by check", () => {
  const parse = (extra: Record<string, unknown>) =>
    parseConfig({
      plugins: [{ name: "g", kind: "./guard.ts#Guard", hooks: ["tool_pre_invoke"], ...extra }],
    });
  assert.equal(parse({ isolation: "worker", max_stuck: 3 }).plugins[0].max_stuck, 3);
  assert.equal(parse({ isolation: "worker" }).plugins[0].max_stuck, undefined);
  const plan = buildPlan(parse({ isolation: "worker", max_stuck: 3 }), "inline", getHookRegistry());
  assert.equal(
    formatTransport(plan.hooks[0].plugins[0].transport),
    "worker ./guard.ts#Guard (permissions: none; workers 1 max_stuck 3)",
  );
  for (
    const [extra, pattern] of [
      [{ isolation: "worker", max_stuck: 0 }, /max_stuck/],
      [{ isolation: "process", max_stuck: 2 }, /'max_stuck' needs 'isolation: worker'/],
      [{ max_stuck: 2 }, /'max_stuck' needs 'isolation: worker'/],
    ] as const
  ) {
    assert.throws(
      () => parse(extra),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );
  }
});
