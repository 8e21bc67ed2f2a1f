/**
 * Both channels of a `process` sandbox (issue 16): the private Unix socket, used when the
 * gateway may open one, is removed as soon as the child connects; the stdin/stdout pipe, the
 * fallback without those permissions, serves the same calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parsePluginConfig } from "../mod.ts";
import { findDenoConfig } from "../src/sandbox/config_file.ts";
import { SandboxPool } from "../src/sandbox/pool.ts";
import { startProcess } from "../src/sandbox/process_carrier.ts";

const MODULE = new URL("./fixtures/sandbox/plugins.ts", import.meta.url).href;

async function sandboxDirs(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir("/tmp")) {
    if (e.name.startsWith("cpex-sandbox-")) out.push(e.name);
  }
  return out;
}

for (const channel of ["auto", "pipe"] as const) {
  Deno.test(`process channel '${channel}' carries calls and leaves no socket behind`, async () => {
    const before = await sandboxDirs();
    const config = parsePluginConfig({
      name: "s",
      kind: `${fileURLToPath(MODULE)}#Script`,
      hooks: ["tool_pre_invoke"],
      isolation: "process",
      config: { state: "x", metadata: { via: channel } },
    });
    const pool = new SandboxPool({
      name: "s",
      isolation: "process",
      config,
      size: 2,
      start: (events) =>
        startProcess({ specifier: MODULE, exportName: "Script" }, {}, {
          channel,
          configFile: findDenoConfig(MODULE),
        }, events),
    });
    await pool.start();
    try {
      assert.deepEqual(await sandboxDirs(), before);
      const calls = await Promise.all([1, 2, 3, 4].map((i) =>
        pool.call(
          {
            t: "call",
            hook: "tool_pre_invoke",
            payload: { name: "search", args: { i } },
            state: { seen: i },
            metadata: {},
            global_context: { request_id: `r${i}` },
            extensions: null,
            timeout_ms: null,
          },
          new AbortController().signal,
          Infinity,
        )
      ));
      for (const [k, done] of calls.entries()) {
        assert.equal(done.t, "done");
        assert.deepEqual(done.result.metadata, { via: channel, seen: k + 1 });
        assert.equal(done.state.seen, "tool_pre_invoke:x");
      }
    } finally {
      await pool.close();
    }
    assert.equal(pool.live, 0);
  });
}
