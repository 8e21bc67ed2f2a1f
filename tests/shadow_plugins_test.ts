/**
 * Issue 17 item 3: a plugin with `shadow: true` runs on live traffic without effect; where its
 * would-be decision differs from the live one, the difference is counted in
 * `cpex.shadow.diffs` and logged with the request id.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  CpexMetrics,
  type HookResult,
  parseConfig,
  Plugin,
  PluginManager,
  type ShadowDiff,
} from "../mod.ts";
import { demoTraffic } from "./demo_traffic.ts";
import { main } from "../src/cli/main.ts";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));

/** The demo gateway plus shadow plugins (absolute kinds, so the file may live in /tmp). */
async function configWithShadows(dir: string, shadows: string): Promise<string> {
  const yaml = (await Deno.readTextFile(`${EXAMPLES}gateway.yaml`))
    .replaceAll("./plugins/", `${EXAMPLES}plugins/`);
  const path = `${dir}/shadow.yaml`;
  await Deno.writeTextFile(path, yaml + shadows.replaceAll("./plugins/", `${EXAMPLES}plugins/`));
  return path;
}

const SHADOWS = `
  - name: StricterDenyList
    kind: ./plugins/deny_list.ts#DenyList
    hooks: [prompt_pre_fetch, tool_pre_invoke]
    mode: sequential
    priority: 5
    shadow: true
    config:
      words: [crap]
  - name: ShadowMasker
    kind: ./plugins/pii_masker.ts#PiiMasker
    hooks: [tool_post_invoke]
    mode: transform
    shadow: true
    config:
      mask: "<{kind}>"
`;

function decision(r: HookResult) {
  return JSON.stringify([r.continue_processing, r.violation, r.modified_payload]);
}

Deno.test("a shadow plugin never changes a decision, and its diffs are counted and logged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-shadow-" });
  try {
    const metrics = new CpexMetrics();
    const diffs: ShadowDiff[] = [];
    const logged: string[] = [];
    const shadowed = new PluginManager(await configWithShadows(dir, SHADOWS), {
      metrics,
      onShadowDiff: (d) => diffs.push(d),
      logger: { warn: (m) => logged.push(m), info: () => {} },
    });
    const live = new PluginManager(`${EXAMPLES}gateway.yaml`, {
      metrics: null,
      logger: { warn: () => {}, info: () => {} },
    });
    await shadowed.initialize();
    await live.initialize();
    assert.equal(shadowed.pluginCount, 4, "shadows are not in the live chain");
    const expectedBlocks: string[] = [];
    const expectedModifies: string[] = [];
    for (const [hook, payload, ctx] of demoTraffic(260)) {
      const [a] = await shadowed.invokeHook(hook, structuredClone(payload) as never, { ...ctx });
      const [b] = await live.invokeHook(hook, payload as never, { ...ctx });
      assert.equal(decision(a), decision(b), `request ${ctx.request_id}`);
      assert.ok(!a.executions.some((r) => r.plugin_name.startsWith("S")), "no shadow record");
      const text = JSON.stringify(payload);
      if (
        (hook === "prompt_pre_fetch" || hook === "tool_pre_invoke") && /\bcrap\b/i.test(text) &&
        a.continue_processing
      ) expectedBlocks.push(ctx.request_id);
      // The live masker writes [email], the shadow <email>: every masked post call differs.
      if (hook === "tool_post_invoke") expectedModifies.push(ctx.request_id);
    }
    await shadowed.shutdown(); // waits for the shadow runs
    await live.shutdown();
    assert.ok(expectedBlocks.length >= 20 && expectedModifies.length >= 20);
    const blocks = diffs.filter((d) => d.kind === "block");
    const modifies = diffs.filter((d) => d.kind === "modify");
    assert.deepEqual(blocks.map((d) => d.requestId).sort(), expectedBlocks.sort());
    assert.deepEqual(modifies.map((d) => d.requestId).sort(), expectedModifies.sort());
    assert.equal(diffs.length, blocks.length + modifies.length);
    assert.ok(blocks.every((d) => d.plugin === "StricterDenyList" && d.code === "deny"));
    assert.equal(
      metrics.shadowDiffCount("StricterDenyList", "prompt_pre_fetch", "block"),
      expectedBlocks.length,
    );
    assert.equal(
      metrics.shadowDiffCount("ShadowMasker", "tool_post_invoke", "modify"),
      expectedModifies.length,
    );
    // No call counts for the shadows: the live metrics stay the live chain's.
    assert.ok(!metrics.pluginSeries().some((s) => s.plugin.startsWith("S")));
    const first = expectedBlocks[0];
    assert.ok(
      logged.some((m) => m.includes("StricterDenyList") && m.includes(`request ${first})`)),
      logged.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failing shadow plugin is counted as an error diff and never fails the call", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-shadow-" });
  try {
    const module = `${dir}/boom.ts`;
    await Deno.writeTextFile(
      module,
      `import { Plugin } from "${new URL("../mod.ts", import.meta.url).href}";\n` +
        `export class Boom extends Plugin { tool_pre_invoke() { throw new Error("boom"); } }\n`,
    );
    const metrics = new CpexMetrics();
    const config = await configWithShadows(
      dir,
      `\n  - name: Boom\n    kind: ${module}#Boom\n    hooks: [tool_pre_invoke]\n    shadow: true\n`,
    );
    const manager = new PluginManager(config, { metrics, logger: { warn: () => {} } });
    await manager.initialize();
    const [result] = await manager.invokeHook("tool_pre_invoke", {
      name: "web_search",
      args: { query: "x" },
    }, { request_id: "r1", server_id: "public-gateway" });
    assert.equal(result.continue_processing, true);
    await manager.shutdown();
    assert.equal(metrics.shadowDiffCount("Boom", "tool_pre_invoke", "error"), 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cpex check marks shadow plugins, accepts plugin_settings.record and rejects a bad sample_rate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-shadow-" });
  try {
    const config = await configWithShadows(dir, SHADOWS);
    const yaml = await Deno.readTextFile(config);
    const run = async (text: string) => {
      await Deno.writeTextFile(config, text);
      let out = "";
      const code = await main(["check", config], {
        stdout: (t) => void (out += t),
        stderr: (t) => void (out += t),
      });
      return { code, out };
    };
    const recorded = yaml.replace(
      "plugin_settings:\n",
      `plugin_settings:\n  record: {path: ${dir}/r.jsonl, sample_rate: 0.25}\n`,
    );
    const ok = await run(recorded);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /StricterDenyList\s+sequential \(shadow\)/);
    assert.doesNotMatch(ok.out, /unknown key/);
    const bad = await run(recorded.replace("sample_rate: 0.25", "sample_rate: 1.5"));
    assert.equal(bad.code, 1);
    assert.match(
      bad.out,
      /plugin_settings\.record\.sample_rate: expected a number between 0 and 1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a shadow plugin is shut down when a later plugin fails to load, and on shutdown", async () => {
  const events: string[] = [];
  class Watched extends Plugin {
    override shutdown(): Promise<void> {
      events.push(`down ${this.name}`);
      return Promise.resolve();
    }
    tool_pre_invoke() {
      return {};
    }
  }
  class Broken extends Plugin {
    override initialize(): Promise<void> {
      return Promise.reject(new Error("cannot start"));
    }
  }
  const entry = (name: string, kind: string, shadow: boolean) => ({
    name,
    kind,
    hooks: ["tool_pre_invoke"],
    ...(shadow ? { shadow: true } : {}),
  });
  const failing = new PluginManager(
    parseConfig({ plugins: [entry("S", "watched", true), entry("B", "broken", false)] }),
    { pluginKinds: { watched: Watched, broken: Broken }, metrics: null, logger: { warn() {} } },
  );
  await assert.rejects(failing.initialize(), /Plugin initialization failed: B/);
  assert.deepEqual(events, ["down S"]);
  events.length = 0;
  const ok = new PluginManager(parseConfig({ plugins: [entry("S", "watched", true)] }), {
    pluginKinds: { watched: Watched },
    metrics: null,
    logger: { warn() {} },
  });
  await ok.initialize();
  assert.equal(ok.pluginCount, 0);
  await ok.invokeHook("tool_pre_invoke", { name: "t", args: {} }, { request_id: "r" });
  await ok.shutdown();
  assert.deepEqual(events, ["down S"]);
});
