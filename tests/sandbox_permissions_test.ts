/**
 * A sandboxed plugin gets exactly its `permissions:` block (issue 16): without a permission
 * reading a file, opening a socket, reading an env variable or spawning a process fails the
 * call (per on_error) and the gateway keeps serving; with it, the same call works.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginError } from "../mod.ts";
import { entry, tool, withPlugins } from "./helpers/sandbox.ts";

const HOOK = "tool_pre_invoke";

for (const isolation of ["worker", "process"] as const) {
  Deno.test(`${isolation}: file, socket, env and subprocess are denied without the permission and work with it`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "cpex-sandbox-" });
    const file = `${dir}/secret.txt`;
    await Deno.writeTextFile(file, "s3cret");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepting = (async () => {
      for await (const conn of listener) conn.close();
    })();
    const port = listener.addr.port;
    const variable = "CPEX_SANDBOX_PROBE";
    Deno.env.set(variable, "visible");
    const deno = Deno.execPath();
    const probes = {
      read: [{ try: "read", path: file }, { read: [file] }, { read: 6 }],
      net: [{ try: "net", port }, { net: [`127.0.0.1:${port}`] }, { net: "connected" }],
      env: [{ try: "env", variable }, { env: [variable] }, { env: "visible" }],
      run: [{ try: "run", command: deno }, { run: [deno] }, { run: 0 }],
    } as const;
    const plugins = Object.entries(probes).flatMap(([name, [config, permissions]]) => [
      entry(`${name}-denied`, "Prober", isolation, { config }),
      entry(`${name}-granted`, "Prober", isolation, { config, permissions }),
    ]);
    try {
      await withPlugins(plugins, async (manager) => {
        for (const [name, [, , expected]] of Object.entries(probes)) {
          await assert.rejects(
            manager.invokeHookForPlugin(`${name}-denied`, HOOK, tool(), { request_id: name }),
            (error: unknown) => {
              assert.ok(error instanceof PluginError, String(error));
              assert.match(error.message, /NotCapable|Requires .* access/);
              return true;
            },
          );
          const result = await manager.invokeHookForPlugin(
            `${name}-granted`,
            HOOK,
            tool(),
            { request_id: name },
          );
          assert.deepEqual(result.metadata, expected);
        }
      });
    } finally {
      Deno.env.delete(variable);
      listener.close();
      await accepting;
      await Deno.remove(dir, { recursive: true });
    }
  });
}
