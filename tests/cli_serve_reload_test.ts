/**
 * `cpex serve` reloads its config on SIGHUP (issue 14 item 4): run as a subprocess with exactly
 * the Unix transport's permissions, a gateway keeps 20 calls in flight while the file changes
 * and SIGHUP arrives; no call fails, and calls after the reload see the new plugin settings. A
 * config that no longer parses, or names a plugin that will not load, is logged and the old set
 * keeps serving.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type HookResult, parseConfig, PluginManager } from "../mod.ts";
import { REPO, spawnCli, tempDir } from "./helpers/cli.ts";

const MODULE = `${REPO}examples/plugins/deny_list.ts`;

function config(words: string[], extra = ""): string {
  return `plugin_settings:
  fail_on_plugin_error: false
plugins:
  - name: DenyList
    kind: ${MODULE}#DenyList
    hooks: [tool_pre_invoke]
    config:
      words: [${words.join(", ")}]
${extra}`;
}

Deno.test("serve reloads on SIGHUP without failing a call; a bad config keeps the old plugins", async () => {
  const dir = await tempDir("reload");
  const path = `${dir}/plugins.yaml`;
  const socket = `${dir}/s.sock`;
  await Deno.writeTextFile(path, config(["jailbreak"]));
  const server = spawnCli(["serve", "--config", path, "--transport", "unix", "--path", socket], {
    permissions: [
      `--allow-read=${path},${MODULE},${socket}`,
      `--allow-write=${socket}`,
      `--allow-net=unix:${socket}`,
    ],
  });
  const gateway = new PluginManager(
    parseConfig({
      plugins: [{
        name: "DenyList",
        kind: "external",
        hooks: ["tool_pre_invoke"],
        on_error: "fail",
        unix_socket: { path: socket },
      }],
    }),
    { logger: { warn: () => {} }, metrics: null },
  );
  const call = (query: string): Promise<HookResult> =>
    gateway.invokeHook("tool_pre_invoke", { name: "search", args: { query } }, {
      request_id: query,
    }).then(([result]) => result);
  try {
    await server.waitFor("stdout", `READY unix ${socket}\n`);
    await gateway.initialize();
    assert.equal((await call("jailbreak")).continue_processing, false);
    assert.equal((await call("drop table")).continue_processing, true);

    // 20 calls in flight through the reload.
    let stopping = false;
    const failed: unknown[] = [];
    let calls = 0;
    const callers = Array.from({ length: 20 }, async (_, n) => {
      for (let i = 0; !stopping; i++, calls++) {
        try {
          const result = await call(`drop table ${n}-${i}`);
          // Either set's answer, nothing else.
          if (!result.continue_processing) assert.equal(result.violation?.code, "deny");
        } catch (error) {
          failed.push(error);
        }
      }
    });
    try {
      await Deno.writeTextFile(path, config(["drop"]));
      server.signal("SIGHUP");
      await server.waitFor("stderr", `reloaded ${path}: 1 plugin`);
    } finally {
      stopping = true;
      await Promise.all(callers);
    }
    assert.deepEqual(failed, []);
    assert.ok(calls > 20, `only ${calls} calls`);
    assert.equal((await call("drop table")).continue_processing, false);
    assert.equal((await call("jailbreak")).continue_processing, true);

    // Invalid YAML: logged, the old set keeps serving.
    await Deno.writeTextFile(path, "plugins: [unclosed\n");
    server.signal("SIGHUP");
    await server.waitFor("stderr", /reload of .* failed, still serving the previous plugins/);
    assert.equal((await call("drop table")).continue_processing, false);

    // A plugin that will not load: refused even under fail_on_plugin_error: false (no
    // --allow-partial), so a reload never serves part of a set.
    const broken =
      `  - name: Missing\n    kind: ${dir}/nowhere.ts#Nope\n    hooks: [tool_pre_invoke]\n`;
    await Deno.writeTextFile(path, config(["jailbreak"], broken));
    const before = server.stderr.length;
    server.signal("SIGHUP");
    await server.waitFor("stderr", /Missing[^\n]*\n?[^]*still serving|still serving[^\n]*Missing/);
    assert.ok(server.stderr.slice(before).includes("failed"));
    assert.equal((await call("drop table")).continue_processing, false);
  } finally {
    await gateway.shutdown();
    const result = await server.kill("SIGTERM");
    await Deno.remove(dir, { recursive: true });
    assert.equal(result.code, 0, result.stderr);
  }
});
