/**
 * MCP STDIO: our gateway starts our plugin server as a child (`deno run --no-prompt`, no
 * permissions) and speaks MCP over its pipes — hook outcomes, context round trips, the merge,
 * a child that dies (PluginError, then a new child on the next call), and clean shutdown.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type PluginContext, PluginError } from "../mod.ts";
import { resolveStdioCommand } from "../src/external/mcp/stdio_connector.ts";
import { gateway, stdioEntry } from "./helpers/mcp_fixtures.ts";

const PAYLOAD = { name: "echo", args: { text: "hello" } };

Deno.test("stdio round trips: allow, modify, block, raise, context, merge", async () => {
  const m = await gateway([
    stdioEntry("Modify", { priority: 1 }),
    stdioEntry("Block", { priority: 2 }),
  ]);
  try {
    const [result] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r1" });
    assert.equal(result.continue_processing, false);
    assert.deepEqual(result.modified_payload, {
      name: "echo",
      args: { text: "HELLO" },
      headers: null,
    });
    assert.equal(result.violation?.code, "BLOCKED_WORD");
    assert.equal(result.violation?.plugin_name, "Block");
    assert.equal(m.getPlugin("Modify")!.config.priority, 1);
    assert.deepEqual(m.getPlugin("Modify")!.config.hooks, ["tool_pre_invoke"]);
  } finally {
    await m.shutdown();
  }
  const other = await gateway([stdioEntry("Raise"), stdioEntry("Context")]);
  try {
    const [pre, contexts] = await other.invokeHook("tool_pre_invoke", { name: "x", args: {} }, {
      request_id: "r2",
    }).catch((e) => {
      assert.ok(e instanceof PluginError);
      assert.equal(e.message, "Error('Sadly! boom')");
      return [null, null] as const;
    });
    assert.equal(pre, null);
    assert.equal(contexts, null);
  } finally {
    await other.shutdown();
  }
});

Deno.test("stdio context round trip keeps the plugin's state from pre to post", async () => {
  const m = await gateway([stdioEntry("Context")]);
  try {
    const global = { request_id: "ctx" };
    const [, contexts] = await m.invokeHook("tool_pre_invoke", PAYLOAD, global);
    const ctx = Object.values(contexts!)[0] as PluginContext;
    assert.deepEqual(ctx.state, { count: 1 });
    const [post] = await m.invokeHook("tool_post_invoke", { name: "echo", result: 1 }, global, {
      localContexts: contexts,
    });
    assert.deepEqual(post.modified_payload, { name: "echo", result: { count: 1 } });
  } finally {
    await m.shutdown();
  }
});

Deno.test("stdio child death: the call fails with a PluginError, the next call restarts it", async () => {
  const m = await gateway([stdioEntry("Crash")]);
  try {
    const [first] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "a" });
    const pid1 = (first.metadata as { pid: number } | undefined)?.pid;
    await assert.rejects(
      m.invokeHook("tool_pre_invoke", { name: "x", args: { crash: true } }, { request_id: "b" }),
      (e: unknown) => e instanceof PluginError && /exited \(code 3\)/.test(e.message),
    );
    const [again] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "c" });
    assert.equal(again.continue_processing, true);
    const pid2 = (again.metadata as { pid: number } | undefined)?.pid;
    assert.ok(pid1 && pid2 && pid1 !== pid2, `a new child answers (${pid1} -> ${pid2})`);
  } finally {
    await m.shutdown();
  }
});

Deno.test("stdio unknown remote plugin fails initialize and stops the child", async () => {
  const { McpExternalPlugin } = await import("../src/external/mcp/client.ts");
  const ghost = new McpExternalPlugin(stdioEntry("Ghost"));
  await assert.rejects(ghost.initialize(), /Unable to retrieve configuration/);
});

Deno.test("stdio script resolution: .py with python3, .sh with sh, .ts with scoped deno", () => {
  assert.deepEqual(resolveStdioCommand({ proto: "STDIO", script: "/s/run.py" }), {
    command: "python3",
    args: ["/s/run.py"],
  });
  assert.deepEqual(resolveStdioCommand({ proto: "STDIO", script: "run.sh", cwd: "/srv" }), {
    command: "sh",
    args: ["/srv/run.sh"],
  });
  const ts = resolveStdioCommand({ proto: "STDIO", script: "/s/server.ts" });
  assert.equal(ts.command, Deno.execPath());
  assert.deepEqual(ts.args, [
    "run",
    "--no-prompt",
    "--allow-read",
    "--allow-env=PLUGINS_*",
    "/s/server.ts",
  ]);
  assert.deepEqual(resolveStdioCommand({ proto: "STDIO", cmd: ["a", "b"] }), {
    command: "a",
    args: ["b"],
  });
  assert.deepEqual(resolveStdioCommand({ proto: "STDIO", script: "/s/bin" }), {
    command: "/s/bin",
    args: [],
  });
});
