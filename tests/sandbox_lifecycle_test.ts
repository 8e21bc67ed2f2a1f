/**
 * Hard kill and restart of sandboxed plugins (issue 16): a synchronous infinite loop in a
 * process is killed at its timeout and the next call succeeds (in a worker:
 * sandbox_stuck_test.ts); a crash (uncaught error, `Deno.exit`) is a
 * plugin failure handled per on_error, and the plugin is restarted; a plugin allocating without
 * bound under `process` + `memory_mb` dies alone; a missing `--unstable-worker-options` is
 * named. The sanitizers prove no worker, process or pipe outlives a test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PluginError } from "../mod.ts";
import { restartDelay } from "../src/sandbox/pool.ts";
import { entry, tool, withPlugins } from "./helpers/sandbox.ts";

const HOOK = "tool_pre_invoke";

// The worker variants of the loop tests run in a child process (sandbox_stuck_test.ts):
// Deno 2.9 cannot stop a Worker thread stuck in a loop, a child process is really killed.
Deno.test("process: a synchronous infinite loop is killed at its timeout and the next call succeeds", async () => {
  await withPlugins([entry("spin", "Spinner", "process", { timeout: 2 })], async (manager) => {
    const started = performance.now();
    await assert.rejects(
      manager.invokeHookForPlugin("spin", HOOK, tool({ spin: true }), { request_id: "1" }),
      (error: unknown) => error instanceof PluginError && /timed out|timeout/i.test(error.message),
    );
    assert.ok(performance.now() - started < 6000, "the loop was not cut at its timeout");
    const next = await manager.invokeHookForPlugin("spin", HOOK, tool(), { request_id: "2" });
    assert.deepEqual(next.metadata, { spun: false });
  });
});

for (const isolation of ["worker", "process"] as const) {
  for (const crash of ["throw", "exit"] as const) {
    Deno.test(`${isolation}: a plugin crashing by ${crash} fails its call per on_error and is restarted`, async () => {
      await withPlugins(
        [
          entry("crasher", "Crasher", isolation, { timeout: 10, on_error: "fail" }),
          entry("tolerated", "Crasher", isolation, { timeout: 10, on_error: "ignore" }),
        ],
        async (manager) => {
          const before = await manager.invokeHookForPlugin("crasher", HOOK, tool(), {
            request_id: "0",
          });
          await assert.rejects(
            manager.invokeHookForPlugin("crasher", HOOK, tool({ crash }), { request_id: "1" }),
            (error: unknown) =>
              error instanceof PluginError && /crashed|exited|timed out/.test(error.message),
          );
          const ignored = await manager.invokeHookForPlugin(
            "tolerated",
            HOOK,
            tool({ crash }),
            { request_id: "2" },
          );
          assert.equal(ignored.continue_processing, true);
          const after = await manager.invokeHookForPlugin("crasher", HOOK, tool(), {
            request_id: "3",
          });
          assert.ok(after.metadata.pid !== undefined);
          if (isolation === "process") assert.notEqual(after.metadata.pid, before.metadata.pid);
        },
      );
    });
  }
}

Deno.test("process + memory_mb: a plugin allocating without bound dies alone", async () => {
  await withPlugins(
    [entry("hog", "Hog", "process", { memory_mb: 64, timeout: 60, on_error: "fail" })],
    async (manager) => {
      await assert.rejects(
        manager.invokeHookForPlugin("hog", HOOK, tool({ grow: true }), { request_id: "1" }),
        (error: unknown) => {
          assert.ok(error instanceof PluginError);
          assert.match(error.message, /out of memory|killed by SIG|exited with code/);
          return true;
        },
      );
      const next = await manager.invokeHookForPlugin("hog", HOOK, tool(), { request_id: "2" });
      assert.deepEqual(next.metadata, { grew: 0 });
    },
  );
});

Deno.test("a sandbox that keeps dying is restarted after a growing, bounded backoff", () => {
  assert.deepEqual([1, 2, 3, 4].map(restartDelay), [0, 100, 200, 400]);
  assert.equal(restartDelay(50), 10_000);
});

Deno.test("isolation: worker without --unstable-worker-options names the flag", async () => {
  const config = fileURLToPath(new URL("../deno.json", import.meta.url));
  const fixture = new URL("./fixtures/sandbox/plugins.ts", import.meta.url).href;
  const code = `
    import { parseConfig, PluginManager } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const m = new PluginManager(parseConfig({ plugins: [{ name: "w", kind: ${
    JSON.stringify(`${fileURLToPath(fixture)}#Noop`)
  }, hooks: ["tool_pre_invoke"], isolation: "worker" }], plugin_settings: { fail_on_plugin_error: true } }));
    try { await m.initialize(); console.log("started"); } catch (e) { console.log(e.message); }
    await m.shutdown();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--config=${config}`, code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.match(text, /--unstable-worker-options/);
  assert.doesNotMatch(text, /started/);
});
