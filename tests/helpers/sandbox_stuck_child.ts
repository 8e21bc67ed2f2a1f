/**
 * Runs one scenario with `isolation: worker` plugins that loop in synchronous code, in its own
 * process: on Deno 2.9 `Worker.terminate()` cannot stop such a thread, so it must die with
 * this process rather than spin on in the test runner. Prints one JSON line of what happened.
 *
 * Run as `deno run --unstable-worker-options --allow-read sandbox_stuck_child.ts SCENARIO`.
 *
 * @module
 */
import { PluginError } from "../../mod.ts";
import { entry, tool, withPlugins } from "./sandbox.ts";

const HOOK = "tool_pre_invoke";

/** What one call did: its metadata, or its error's code and message, and how long it took. */
interface Outcome {
  ok?: Record<string, unknown>;
  continue?: boolean;
  code?: string | null;
  message?: string;
  ms: number;
}

async function outcome(
  call: Promise<{ metadata: Record<string, unknown>; continue_processing: boolean }>,
): Promise<Outcome> {
  const started = performance.now();
  try {
    const r = await call;
    return { ok: r.metadata, continue: r.continue_processing, ms: performance.now() - started };
  } catch (error) {
    return {
      code: error instanceof PluginError ? error.error.code : "not a PluginError",
      message: (error as Error).message,
      ms: performance.now() - started,
    };
  }
}

const scenarios: Record<string, () => Promise<unknown>> = {
  // A synchronous loop is cut at its timeout and the next call gets a fresh worker.
  "loop-once": async () => {
    const out: Outcome[] = [];
    await withPlugins([entry("spin", "Spinner", "worker", { timeout: 2 })], async (m) => {
      out.push(
        await outcome(
          m.invokeHookForPlugin("spin", HOOK, tool({ spin: true }), { request_id: "r" }),
        ),
      );
      out.push(await outcome(m.invokeHookForPlugin("spin", HOOK, tool(), { request_id: "r" })));
    });
    return out;
  },
  // With workers: 2 a quick call passes while the other worker spins.
  "two-workers": async () => {
    const out: Outcome[] = [];
    await withPlugins(
      [entry("spin", "Spinner", "worker", { workers: 2, timeout: 4, on_error: "fail" })],
      async (m) => {
        const spinning = outcome(
          m.invokeHookForPlugin("spin", HOOK, tool({ spin: true }), { request_id: "r" }),
        );
        out.push(await outcome(m.invokeHookForPlugin("spin", HOOK, tool(), { request_id: "r" })));
        out.push(await spinning);
      },
    );
    return out;
  },
  // A plugin looping on every call leaks max_stuck threads, then fails at once per on_error;
  // a plugin whose calls time out asynchronously never trips the limit.
  "stuck-limit": async () => {
    const calls: Record<string, Outcome[]> = { fail: [], ignore: [], sleepy: [] };
    const stuck: Record<string, number> = {};
    await withPlugins(
      [
        entry("fail", "Spinner", "worker", { timeout: 1, on_error: "fail", max_stuck: 2 }),
        entry("ignore", "Spinner", "worker", { timeout: 1, on_error: "ignore", max_stuck: 1 }),
        entry("sleepy", "Sleeper", "worker", { timeout: 0.5, on_error: "fail", max_stuck: 1 }),
      ],
      async (m) => {
        // Until a call fails fast (a worker that starts late on a loaded machine may time out
        // before it runs its call, and so shift the sequence by one).
        for (const name of ["fail", "ignore"]) {
          for (let i = 0; i < 8; i++) {
            const o = await outcome(
              m.invokeHookForPlugin(name, HOOK, tool({ spin: true }), { request_id: "r" }),
            );
            calls[name].push(o);
            if (o.ms < 500) break;
          }
        }
        for (let i = 0; i < 2; i++) {
          calls.sleepy.push(
            await outcome(
              m.invokeHookForPlugin("sleepy", HOOK, tool({ sleep_ms: 5000 }), { request_id: "r" }),
            ),
          );
          // Past the restart backoff, so the next call gets a fresh worker.
          await new Promise((resolve) => setTimeout(resolve, 600));
        }
        calls.sleepy.push(
          await outcome(m.invokeHookForPlugin("sleepy", HOOK, tool(), { request_id: "r" })),
        );
        for (const name of ["fail", "ignore", "sleepy"]) {
          const plugin = m.getPlugin(name) as unknown as { stuckSandboxes: number };
          stuck[name] = plugin.stuckSandboxes;
        }
      },
    );
    return { calls, stuck };
  },
};

const run = scenarios[Deno.args[0]];
if (!run) throw new Error(`unknown scenario ${Deno.args[0]}`);
console.log(JSON.stringify(await run()));
// The stuck threads would keep this process alive: end it, and them.
Deno.exit(0);
