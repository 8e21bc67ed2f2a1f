/**
 * Both channels of a `process` sandbox (issue 16): the private Unix socket, used when the
 * gateway may open one, is removed as soon as the child connects; the stdin/stdout pipe, the
 * fallback without those permissions, serves the same calls. Each test looks only at a
 * directory of its own (other suites and processes open sandbox sockets at the same time).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parsePluginConfig } from "../mod.ts";
import { findDenoConfig } from "../src/sandbox/config_file.ts";
import { SandboxPool } from "../src/sandbox/pool.ts";
import { openPrivateSocket } from "../src/sandbox/private_socket.ts";
import { startProcess } from "../src/sandbox/process_carrier.ts";

const MODULE = new URL("./fixtures/sandbox/plugins.ts", import.meta.url).href;

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out;
}

Deno.test("a private socket lives in a fresh 0700 directory that goes once it is accepted", async () => {
  const parent = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-sandbox-fast-channel-" });
  try {
    const socket = openPrivateSocket(parent);
    assert.ok(socket);
    const dir = socket.path.slice(0, socket.path.lastIndexOf("/"));
    assert.equal(dir.slice(0, parent.length + 1), `${parent}/`);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.deepEqual(await entries(dir), ["s"]);
    const client = await Deno.connect({ transport: "unix", path: socket.path });
    const conn = await socket.accept();
    assert.ok(conn);
    assert.deepEqual(await entries(parent), []);
    conn.close();
    client.close();
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

for (const channel of ["auto", "pipe"] as const) {
  Deno.test(`process channel '${channel}' carries calls and leaves no socket behind`, async () => {
    const parent = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-sandbox-fast-channel-" });
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
          socketParent: parent,
        }, events),
    });
    try {
      await pool.start();
      assert.deepEqual(await entries(parent), []);
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
      assert.deepEqual(await entries(parent), []);
      await Deno.remove(parent, { recursive: true });
    }
    assert.equal(pool.live, 0);
  });
}
