/**
 * Config files and plugin modules in a directory whose name holds `#`, `%` and a space: the
 * manager turns the config path and the plugin kinds into file URLs with `node:url` (a
 * hand-built `file://` URL read `#` as the start of a fragment: issue 10).
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginManager } from "../mod.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

const PLUGIN = `import { Plugin } from ${JSON.stringify(MOD)};
export class Tag extends Plugin {
  tool_pre_invoke(payload) {
    return { modified_payload: { ...payload, args: { tag: this.config.config?.tag ?? "" } } };
  }
}
`;

async function withConfigDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-cfg-" });
  const dir = `${root}/team #1 100% plugins`;
  await Deno.mkdir(`${dir}/sub #2`, { recursive: true });
  try {
    await Deno.writeTextFile(`${dir}/sub #2/tag.js`, PLUGIN);
    await fn(dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function tagsOf(manager: PluginManager): Promise<unknown> {
  await manager.initialize();
  try {
    const [result] = await manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, {
      request_id: "r1",
    });
    return result.modified_payload?.args;
  } finally {
    await manager.shutdown();
  }
}

Deno.test("a config in a directory named with # % and a space loads relative and absolute kinds", async () => {
  await withConfigDir(async (dir) => {
    const yaml = `plugins:
  - name: relative
    kind: "./sub #2/tag.js#Tag"
    hooks: [tool_pre_invoke]
    mode: transform
    config: { tag: relative }
  - name: absolute
    kind: ${JSON.stringify(`${dir}/sub #2/tag.js#Tag`)}
    hooks: [tool_pre_invoke]
    mode: transform
    priority: 200
    config: { tag: absolute }
`;
    await Deno.writeTextFile(`${dir}/plugins.yaml`, yaml);
    // Applied in priority order: the absolute one runs last and wins.
    const manager = new PluginManager(`${dir}/plugins.yaml`, { failOnPluginError: true });
    assert.deepEqual(await tagsOf(manager), { tag: "absolute" });
  });
});

Deno.test("a relative config path in such a directory resolves against the working directory", async () => {
  await withConfigDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/plugins.yaml`,
      `plugins:
  - name: relative
    kind: "./sub #2/tag.js#Tag"
    hooks: [tool_pre_invoke]
    mode: transform
    config: { tag: from-cwd }
`,
    );
    const cwd = Deno.cwd();
    Deno.chdir(`${dir}/..`);
    try {
      const name = dir.slice(dir.lastIndexOf("/") + 1);
      const manager = new PluginManager(`${name}/plugins.yaml`, { failOnPluginError: true });
      assert.deepEqual(await tagsOf(manager), { tag: "from-cwd" });
    } finally {
      Deno.chdir(cwd);
    }
  });
});
