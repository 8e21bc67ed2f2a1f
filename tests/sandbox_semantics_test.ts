/**
 * The core's mode and context rules hold at every isolation level (issue 16 item 3): the same
 * scenarios, with the same fixture plugins, run with `isolation: none`, `worker` and
 * `process`: blocks and what each mode may do, payload chaining and immutability, contexts
 * carried from a pre hook to its post hook, the global-state merge, extensions, the
 * `AbortSignal` of a cancelled call, execution records and spans.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type HookResult, type Isolation, PluginError, withTraceId } from "../mod.ts";
import { SpanRecorder } from "./helpers/context_plugins.ts";
import { entry, ISOLATIONS, tool, withPlugins } from "./helpers/sandbox.ts";

const PRE = "tool_pre_invoke";
const POST = "tool_post_invoke";

function script(
  isolation: Isolation,
  name: string,
  config: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return entry(name, "Script", isolation, { config, ...extra });
}

/** A hook result with what differs between runs (ids, durations, the kind's path) blanked. */
function normalise(result: HookResult): HookResult {
  return {
    ...result,
    executions: result.executions.map((r) => ({
      ...r,
      plugin_id: "",
      duration_ns: 0,
      plugin_kind: "",
    })),
  } as HookResult;
}

async function chainScenario(isolation: Isolation): Promise<HookResult> {
  let out!: HookResult;
  await withPlugins([
    script(isolation, "xform", { set: { a: 1 } }, { mode: "transform", priority: 1 }),
    script(isolation, "seen", { echo: true }, { mode: "transform", priority: 2 }),
    script(isolation, "audit", { set: { b: 2 }, block: "IGNORED" }, { mode: "audit" }),
  ], async (manager) => {
    out = normalise((await manager.invokeHook(PRE, tool({ q: "x" }), { request_id: "r1" }))[0]);
  });
  return out;
}

async function blockScenario(isolation: Isolation): Promise<HookResult> {
  let out!: HookResult;
  await withPlugins([
    script(isolation, "blocker", { block: "DENY" }, { priority: 1 }),
    script(isolation, "after", { metadata: { after: true } }, { priority: 2 }),
  ], async (manager) => {
    out = normalise((await manager.invokeHook(PRE, tool({ q: "x" }), { request_id: "r2" }))[0]);
  });
  return out;
}

for (const isolation of ISOLATIONS) {
  const at = `[isolation ${isolation}]`;

  Deno.test(`${at} modes: transforms chain their payloads; audit cannot block or modify`, async () => {
    const got = await chainScenario(isolation);
    assert.equal(got.continue_processing, true);
    assert.equal(got.violation, null);
    assert.deepEqual(got.metadata.args, { q: "x", a: 1 });
    assert.deepEqual((got.modified_payload as { args: unknown })?.args, { q: "x", a: 1 });
    assert.deepEqual(
      got.executions.map((r) => [r.plugin_name, r.mode, r.payload_modified]),
      [["xform", "transform", true], ["seen", "transform", false], ["audit", "audit", false]],
    );
    if (isolation !== "none") assert.deepEqual(got, await chainScenario("none"));
  });

  Deno.test(`${at} modes: a sequential block stops the chain with the plugin's violation`, async () => {
    const got = await blockScenario(isolation);
    assert.equal(got.continue_processing, false);
    assert.equal(got.violation?.code, "DENY");
    assert.equal(got.violation?.plugin_name, "blocker");
    assert.equal(got.metadata.after, undefined);
    assert.deepEqual(
      got.executions.map((r) => [r.plugin_name, r.status, r.effective_allow]),
      [["blocker", "completed", false]],
    );
    if (isolation !== "none") assert.deepEqual(got, await blockScenario("none"));
  });

  Deno.test(`${at} modes: a concurrent block wins and the cancelled sibling's signal is aborted`, async () => {
    await withPlugins([
      script(isolation, "deny", { block: "CONC" }, { mode: "concurrent", timeout: 20 }),
      script(isolation, "waiter", { wait_abort: true }, { mode: "concurrent", timeout: 20 }),
    ], async (manager) => {
      const started = performance.now();
      const [result] = await manager.invokeHook(PRE, tool(), { request_id: "c1" });
      assert.equal(result.violation?.code, "CONC");
      assert.ok(performance.now() - started < 8000, "the waiter was not cancelled");
      // The waiter saw the abort and still serves: its sandbox was not killed for it.
      let aborts: unknown = [];
      for (let i = 0; i < 50 && (aborts as unknown[]).length === 0; i++) {
        const r = await manager.invokeHookForPlugin("waiter", PRE, tool({ no_wait: true }), {
          request_id: `c2-${i}`,
        });
        aborts = r.metadata.aborts;
        if ((aborts as unknown[]).length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(aborts, ["CancelledError"]);
    });
  });

  Deno.test(`${at} payloads are immutable: a plugin writing to its payload fails per on_error`, async () => {
    await withPlugins([
      script(isolation, "mutator", { mutate: true }, { on_error: "ignore", priority: 1 }),
      script(isolation, "strict", { mutate: true }, { on_error: "fail", priority: 2 }),
    ], async (manager) => {
      const payload = tool({ q: "x" });
      await assert.rejects(
        manager.invokeHook(PRE, payload, { request_id: "m1" }),
        (error: unknown) => error instanceof PluginError && /TypeError/.test(error.message),
      );
      assert.deepEqual(payload.args, { q: "x" });
    });
  });

  Deno.test(`${at} a synchronous hook: its throw and its write to the payload fail per on_error; calls in a row each answered`, async () => {
    await withPlugins([
      entry("sync", "SyncScript", isolation, { on_error: "fail" }),
    ], async (manager) => {
      for (
        const [args, pattern] of [[{ throw: "A" }, /sync failure A/], [{ mutate: 1 }, /TypeError/]]
      ) {
        await assert.rejects(
          manager.invokeHook(PRE, tool(args as Record<string, unknown>), { request_id: "s1" }),
          (error: unknown) =>
            error instanceof PluginError && (pattern as RegExp).test(error.message),
        );
      }
      // Back to back, and at once: every call gets its own answer with its own context.
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => manager.invokeHook(PRE, tool({ i }), { request_id: `s${i}` }),
        ),
      );
      for (const [r] of results) assert.deepEqual(r.metadata, { seen: 0 });
    });
  });

  Deno.test(`${at} contexts: local state reaches the post hook; global state is merged for later plugins`, async () => {
    const hooks = [PRE, POST];
    await withPlugins([
      script(isolation, "stateful", { state: "kept", global: "g1" }, { hooks, priority: 1 }),
      script(isolation, "reader", { echo: true }, { hooks, priority: 2 }),
    ], async (manager) => {
      const [pre, contexts] = await manager.invokeHook(PRE, tool(), { request_id: "s1" });
      assert.deepEqual(pre.metadata.global, { stateful: "g1" });
      assert.equal(pre.metadata.seen, null);
      const [post] = await manager.invokeHook(
        POST,
        { name: "search", result: {} },
        { request_id: "s1" },
        { localContexts: contexts },
      );
      assert.equal(post.metadata.seen, `${PRE}:kept`);
    });
  });

  Deno.test(`${at} extensions: a plugin sees only the view its capabilities allow`, async () => {
    await withPlugins([
      script(isolation, "ext", { extensions: true }, { capabilities: ["read_labels"] }),
    ], async (manager) => {
      const [result] = await manager.invokeHook(
        PRE,
        tool(),
        { request_id: "e1" },
        { extensions: { security: { labels: ["pii"] }, http: { headers: { a: "b" } } } },
      );
      const seen = result.metadata.extensions as Record<string, unknown>;
      assert.deepEqual((seen.security as Record<string, unknown>).labels, ["pii"]);
      assert.equal(seen.http, undefined);
    });
  });

  Deno.test(`${at} spans and records are the manager's, whatever the isolation`, async () => {
    const recorder = new SpanRecorder();
    await withPlugins([script(isolation, "p", { metadata: { ok: 1 } })], async (manager) => {
      const [result] = await withTraceId(
        "t1",
        () => manager.invokeHook(PRE, tool(), { request_id: "o1" }),
      );
      assert.equal(result.executions.length, 1);
      assert.equal(result.executions[0].plugin_kind.endsWith("#Script"), true);
    }, { observability: recorder });
    assert.ok(recorder.spans.length >= 1);
    for (const span of recorder.spans) assert.equal(span.ended, true);
  });
}

Deno.test("[isolation worker] a result the channel cannot carry fails its call per on_error; the worker serves on", async () => {
  await withPlugins([
    entry("sync", "SyncScript", "worker", { on_error: "fail" }),
  ], async (manager) => {
    await assert.rejects(
      manager.invokeHook(PRE, tool({ unsendable: true }), { request_id: "u1" }),
      (error: unknown) => error instanceof PluginError && /clone/i.test(error.message),
    );
    const [ok] = await manager.invokeHook(PRE, tool(), { request_id: "u2" });
    assert.deepEqual(ok.metadata, { seen: 0 });
  });
});
