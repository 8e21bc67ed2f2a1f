/**
 * What the plugin server answers for one plugin's result, in-process (no transport): a TRANSFORM
 * or AUDIT plugin that asks to block is suppressed as in the reference (probed with cpex 0.1.4:
 * continue, no violation, `metadata: null`, no extensions, AUDIT forwards no payload), while
 * our deliberate differences keep its retry hint (Q3) and its HTTP headers (issue 11 items
 * 8–10).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer } from "../mod.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";

const suppressedBlock = (mode: "transform" | "audit") =>
  new ScriptedPlugin({ name: mode, hooks: ["tool_pre_invoke"], mode }, (payload) => ({
    continue_processing: false,
    violation: { reason: "r", description: "d", code: "C" },
    metadata: { m: 1 },
    retry_delay_ms: 500,
    http_headers: { "X-RateLimit-Remaining": "0" },
    modified_payload: { ...payload, name: "new" },
    modified_extensions: { custom: { x: 1 } },
  }));

for (const mode of ["transform", "audit"] as const) {
  Deno.test(`a server-side ${mode} block is suppressed with metadata null, keeping retry and headers`, async () => {
    const server = new ExternalPluginServer({ plugins: [suppressedBlock(mode)] });
    await server.initialize();
    try {
      const reply = await server.invokeHook("tool_pre_invoke", mode, { name: "t", args: {} }, {
        global_context: { request_id: "r1" },
      });
      assert.equal(reply.error, undefined);
      const result = reply.result!;
      assert.equal(result.continue_processing, true);
      assert.equal(result.violation, null);
      assert.equal(result.metadata, null); // the reference sends null (issue 11 item 8)
      assert.equal(result.modified_extensions, null);
      assert.deepEqual(
        (result.modified_payload as { name?: string } | null)?.name ?? null,
        mode === "transform" ? "new" : null,
      );
      // Deliberate differences (README): the reference answers 0 and no headers.
      assert.equal(result.retry_delay_ms, 500);
      assert.deepEqual(result.http_headers, { "X-RateLimit-Remaining": "0" });
    } finally {
      await server.shutdown();
    }
  });
}

Deno.test("a server-side transform plugin that allows keeps its metadata", async () => {
  const plugin = new ScriptedPlugin(
    { name: "t", hooks: ["tool_pre_invoke"], mode: "transform" },
    () => ({ metadata: { m: 1 } }),
  );
  const server = new ExternalPluginServer({ plugins: [plugin] });
  await server.initialize();
  try {
    const reply = await server.invokeHook("tool_pre_invoke", "t", { name: "t" }, {
      global_context: { request_id: "r1" },
    });
    assert.deepEqual(reply.result?.metadata, { m: 1 });
  } finally {
    await server.shutdown();
  }
});
