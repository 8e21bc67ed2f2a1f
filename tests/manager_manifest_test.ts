/**
 * A `plugin-manifest.yaml` beside a plugin module: its `default_config` fills the keys the
 * config entry's `config` leaves out (issue 12; the reference merges it the same way when it
 * installs a plugin); an invalid manifest fails the plugin's load.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, PluginManager } from "../mod.ts";

const DIR = new URL("./fixtures/cli/check/", import.meta.url);
const quiet = { warn: () => {}, info: () => {} };

function manager(kind: string, config?: Record<string, unknown>): PluginManager {
  const parsed = parseConfig({
    plugins: [{ name: "p", kind, hooks: [], ...(config ? { config } : {}) }],
  });
  return new PluginManager(parsed, { logger: quiet });
}

Deno.test("default_config from the manifest fills the keys the entry's config leaves out", async () => {
  const kind = new URL("manifest_ok/plugin.ts#WithManifest", DIR).href;
  const m = manager(kind, { limit: 5 });
  await m.initialize();
  try {
    assert.deepEqual(m.getPlugin("p")!.config.config, { words: ["default"], limit: 5 });
  } finally {
    await m.shutdown();
  }
  const bare = manager(kind);
  await bare.initialize();
  try {
    assert.deepEqual(bare.getPlugin("p")!.config.config, { words: ["default"], limit: 3 });
  } finally {
    await bare.shutdown();
  }
});

Deno.test("an invalid manifest fails the plugin's load, naming the manifest", async () => {
  const m = manager(new URL("manifest_bad/plugin.ts#WithManifest", DIR).href);
  await assert.rejects(
    m.initialize(),
    /Plugin initialization failed: p - .*plugin-manifest\.yaml: invalid plugin manifest/,
  );
});

Deno.test("a plugin without a manifest keeps its config as written", async () => {
  const m = manager(new URL("../plugins.ts#Seq", DIR).href, { a: 1 });
  await m.initialize();
  try {
    assert.deepEqual(m.getPlugin("p")!.config.config, { a: 1 });
  } finally {
    await m.shutdown();
  }
});
