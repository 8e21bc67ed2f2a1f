/**
 * `cpex check`, run as a subprocess with only `--allow-read` for the file: the plan of valid
 * fixture configs (text and `--json`), the YAML paths and exit code 1 of invalid ones, and proof
 * that the command's module graph holds no transport.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO, runCli } from "./helpers/cli.ts";

const FIXTURES = "tests/fixtures/configs";
const PLAN = "tests/fixtures/cli/plan_order.yaml";

/** The plugin module `plan_order.yaml` names: check imports it to check the export. */
const PLAN_PLUGINS = "tests/fixtures/cli/plugins.ts";

function check(file: string, ...extra: string[]) {
  return runCli(["check", file, ...extra], {
    permissions: [`--allow-read=${file},${PLAN_PLUGINS}`],
  });
}

interface JsonEntry {
  order: number;
  name: string;
  mode: string;
  priority: number;
  on_error: string;
  timeout: number;
  timeout_source: string;
  conditions: Record<string, string[]>[] | null;
  transport: Record<string, unknown>;
  server_may_override: string[];
}

interface JsonPlan {
  valid: boolean;
  file: string;
  plugin_count: number;
  hooks: { hook: string; builtin: boolean; plugins: JsonEntry[] }[];
  disabled: string[];
  hooks_from_server: string[];
  warnings: string[];
}

Deno.test("check lists each hook's plugins in phase order, then priority, ties in file order", async () => {
  const r = await check(PLAN, "--json");
  assert.equal(r.code, 0, r.stderr);
  const plan: JsonPlan = JSON.parse(r.stdout);
  assert.equal(plan.valid, true);
  assert.equal(plan.plugin_count, 10);
  assert.deepEqual(plan.hooks.map((h) => h.hook), [
    "tool_pre_invoke",
    "prompt_pre_fetch",
    "my_custom_hook",
  ]);
  const tool = plan.hooks[0].plugins;
  assert.deepEqual(
    tool.map((p) => [p.order, p.name, p.mode, p.priority]),
    [
      [1, "Seq20", "sequential", 20],
      [2, "SeqTie20", "sequential", 20],
      [3, "Seq50", "sequential", 50],
      [4, "Transform10", "transform", 10],
      [5, "Audit5", "audit", 5],
      [6, "Concurrent1", "concurrent", 1],
      [7, "FafFirst", "fire_and_forget", 1],
    ],
  );
  assert.deepEqual(plan.disabled, ["Parked"]);
  assert.deepEqual(plan.hooks_from_server, ["FromServer"]);
  assert.equal(plan.hooks[2].builtin, false);
});

Deno.test("check shows transports, timeouts and the conditions that apply to each hook", async () => {
  const r = await check(PLAN, "--json");
  const plan: JsonPlan = JSON.parse(r.stdout);
  const byName = new Map(plan.hooks[0].plugins.map((p) => [p.name, p]));
  assert.deepEqual(byName.get("Transform10")!.transport, {
    type: "unix_socket",
    path: "/tmp/cpex-cli-check.sock",
  });
  assert.deepEqual(byName.get("Seq20")!.transport, {
    type: "grpc",
    target: "localhost:50051",
    uds: null,
    tls: false,
  });
  assert.equal(byName.get("Concurrent1")!.transport.url, "http://localhost:9000/mcp");
  assert.deepEqual(byName.get("SeqTie20")!.transport, {
    type: "in-process",
    kind: "./plugins.ts#Seq",
  });
  // Per-plugin timeout, else plugin_settings.plugin_timeout.
  assert.deepEqual([byName.get("Seq50")!.timeout, byName.get("Seq50")!.timeout_source], [
    1.5,
    "plugin",
  ]);
  assert.deepEqual([byName.get("Seq20")!.timeout, byName.get("Seq20")!.timeout_source], [
    7,
    "plugin_settings",
  ]);
  // tools= applies to the tool hook, prompts= to the prompt hook; agents= to neither.
  assert.deepEqual(byName.get("Seq50")!.conditions, [
    { server_ids: ["public"], tools: ["search"] },
    { tenant_ids: ["acme"] },
  ]);
  assert.deepEqual(plan.hooks[1].plugins[0].conditions, [
    { server_ids: ["public"], prompts: ["greet"] },
    { tenant_ids: ["acme"] },
  ]);
  assert.equal(byName.get("Audit5")!.conditions, null);
  assert.ok(plan.warnings.some((w) => w.includes("conditions[0].agents applies to none")));
  assert.ok(plan.warnings.some((w) => w.includes("'my_custom_hook' is not a built-in hook")));
  // External mcp/grpc plugins take unset keys from their server; unix_socket merges nothing.
  assert.deepEqual(byName.get("Seq20")!.server_may_override, ["on_error", "conditions", "timeout"]);
  assert.deepEqual(byName.get("Transform10")!.server_may_override, []);
});

Deno.test("check takes PLUGINS_PLUGIN_TIMEOUT over plugin_settings when it may read it", async () => {
  const r = await runCli(["check", PLAN, "--json"], {
    permissions: [`--allow-read=${PLAN},${PLAN_PLUGINS}`, "--allow-env=PLUGINS_PLUGIN_TIMEOUT"],
    env: { PLUGINS_PLUGIN_TIMEOUT: "3" },
  });
  assert.equal(r.code, 0, r.stderr);
  const entries = (JSON.parse(r.stdout) as JsonPlan).hooks[0].plugins;
  const seq20 = entries.find((p) => p.name === "Seq20")!;
  const seq50 = entries.find((p) => p.name === "Seq50")!;
  assert.deepEqual([seq20.timeout, seq20.timeout_source], [3, "env"]);
  assert.deepEqual([seq50.timeout, seq50.timeout_source], [1.5, "plugin"]);
});

Deno.test("check prints the plan as a table per hook", async () => {
  const r = await check(PLAN);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], `${PLAN}: valid, 10 plugins, 3 hooks`);
  const start = lines.indexOf("tool_pre_invoke");
  assert.match(
    lines[start + 1],
    /^ {2}# +plugin +mode +priority +on_error +timeout +transport +when$/,
  );
  assert.match(
    lines[start + 2],
    /^ {2}1 +Seq20 +sequential +20 +fail +7s +grpc localhost:50051 +always$/,
  );
  assert.match(lines[start + 3], /server may override: on_error, conditions, timeout/);
  assert.ok(
    lines.some((l) =>
      /^ {2}3 +Seq50 .* 1\.5s +in-process \.\/plugins\.ts#Seq +server_ids=public & tools=search \| tenant_ids=acme$/
        .test(l)
    ),
    r.stdout,
  );
  assert.ok(
    lines.some((l) => /^ {2}4 +Transform10 +transform .* unix \/tmp\/cpex-cli-check\.sock/.test(l)),
  );
  assert.ok(
    lines.some((l) => /^ {2}6 +Concurrent1 .* mcp http:\/\/localhost:9000\/mcp +always$/.test(l)),
  );
  assert.ok(lines.includes("my_custom_hook (custom hook)"));
  assert.ok(lines.includes("disabled (never loaded): Parked"));
  assert.match(r.stdout, /hooks from the plugin server .*: FromServer/);
  assert.match(r.stdout, /\nwarnings:\n {2}- /);
});

Deno.test("check accepts every valid fixture config with exit code 0", async () => {
  for (
    const name of [
      "valid_external_grpc_and_unix",
      "valid_external_mcp",
      "valid_external_stdio",
      "valid_no_plugin",
      "valid_server_settings",
      "empty",
    ]
  ) {
    const r = await check(`${FIXTURES}/${name}.yaml`);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^${FIXTURES}/${name}\\.yaml: valid, `));
  }
});

Deno.test("check of valid_multiple_plugins reflects legacy modes and per-plugin settings", async () => {
  const file = `${FIXTURES}/valid_multiple_plugins.yaml`;
  const plan: JsonPlan = JSON.parse((await check(file, "--json")).stdout);
  const prompt = plan.hooks.find((h) => h.hook === "prompt_pre_fetch")!.plugins;
  // mode: enforce -> sequential runs before the transform plugin despite its lower priority.
  assert.deepEqual(prompt.map((p) => [p.name, p.mode, p.priority]), [
    ["DenyListPlugin", "sequential", 100],
    ["ReplaceBadWords", "transform", 150],
  ]);
  assert.deepEqual(prompt[0].conditions, [
    { server_ids: ["srv-1"], tenant_ids: ["acme"], user_patterns: ["admin"] },
  ]);
  assert.deepEqual(prompt[1].conditions, [
    { content_types: ["application/json"], prompts: ["test_prompt"] },
  ]);
  const audit = plan.hooks.find((h) => h.hook === "tool_pre_invoke")!.plugins[0];
  // enforce_ignore_error -> sequential + on_error ignore.
  assert.deepEqual([audit.name, audit.mode, audit.on_error], ["AuditLog", "sequential", "ignore"]);
  const serve = await check(`${FIXTURES}/valid_server_settings.yaml`);
  assert.match(serve.stdout, /serve defaults: mcp 0\.0\.0\.0:8001, grpc 127\.0\.0\.1:50052, unix /);
});

Deno.test("check reports each invalid fixture with its YAML path and exit code 1", async () => {
  const cases: [string, RegExp][] = [
    ["invalid_mode", /^ {2}plugins\[1\]\.mode: expected one of sequential, .*got "SEQUENTIAL"$/m],
    ["invalid_on_error", /^ {2}plugins\[0\]\.on_error: expected one of fail, ignore, disable/m],
    ["invalid_missing_kind", /^ {2}plugins\[0\]\.kind: /m],
    ["invalid_priority_float", /^ {2}plugins\[0\]\.priority: expected an integer/m],
    ["invalid_capability", /^ {2}plugins\[0\]\.capabilities: Unknown capability/m],
    ["invalid_plugin_settings", /^ {2}plugin_settings\.plugin_timeout: /m],
    ["invalid_external_with_config", /^ {2}plugins\[0\]\.config: /m],
    ["invalid_external_no_transport", /^ {2}plugins\[0\]: an external plugin must have/m],
    ["invalid_external_two_transports", /^ {2}plugins\[0\]: an external plugin can only/m],
    ["invalid_mcp_loopback_url", /^ {2}plugins\[0\]\.mcp\.url: /m],
    ["invalid_stdio_script_and_cmd", /^ {2}plugins\[0\]\.mcp: /m],
    ["invalid_yaml_syntax", /^ {2}YAML syntax error at line 6, column 1/m],
  ];
  for (const [name, issue] of cases) {
    const file = `${FIXTURES}/${name}.yaml`;
    const r = await check(file);
    assert.equal(r.code, 1, name);
    assert.equal(r.stdout, "", name);
    assert.ok(r.stderr.startsWith(`error: invalid config ${file}\n`), r.stderr);
    assert.match(r.stderr, issue, name);
  }
});

Deno.test("check --json reports the errors as data with exit code 1", async () => {
  const file = `${FIXTURES}/invalid_mode.yaml`;
  const r = await check(file, "--json");
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.valid, false);
  assert.equal(out.file, file);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0].path, "plugins[1].mode");
  assert.match(out.errors[0].message, /expected one of/);
});

Deno.test("check of a missing or unreadable file fails with exit code 1 and says why", async () => {
  const missing = await check("tests/fixtures/cli/no_such_file.yaml");
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /invalid config tests\/fixtures\/cli\/no_such_file\.yaml\n {2}file not found/,
  );
  const denied = await runCli(["check", PLAN]); // no --allow-read
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, new RegExp(`run with --allow-read=${PLAN}`));
});

Deno.test("check's module graph holds no transport: it loads and connects nothing", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "src/cli/check.ts"],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const specifiers: string[] = info.modules.map((m: { specifier: string }) => m.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/src/cli/plan.ts")));
  assert.deepEqual(specifiers.filter((s) => s.includes("/src/external/")), []);
  assert.deepEqual(
    specifiers.filter((s) => s.startsWith("npm:")).map((s) => s.replace(/@[^@/]+$/, "")).sort(),
    ["npm:/yaml", "npm:/zod"],
  );
});

// --- what breaks at runtime (issue 12) ----------------------------------------------------------

const CHECK = "tests/fixtures/cli/check";

/** `check` with read access to the fixture directory (configs and plugin modules). */
function checkDir(file: string, ...extra: string[]) {
  return runCli(["check", `${CHECK}/${file}`, ...extra], {
    permissions: [`--allow-read=${CHECK},${PLAN_PLUGINS}`],
  });
}

Deno.test("check: a duplicate plugin name is an error", async () => {
  const r = await checkDir("duplicate.yaml");
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    /^ {2}plugins\[1\]\.name: duplicate plugin name 'twin' \(also plugins\[0\]\)/m,
  );
});

Deno.test("check: a missing module, a non-Plugin export, a missing export and a bare kind are errors", async () => {
  const r = await checkDir("modules.yaml");
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^ {2}plugins\[0\]\.kind: module file not found: .*does_not_exist\.ts$/m);
  assert.match(
    r.stderr,
    /^ {2}plugins\[1\]\.kind: 'NotAPlugin' exported by .* is not a Plugin class/m,
  );
  assert.match(r.stderr, /^ {2}plugins\[2\]\.kind: .*plugins\.ts has no export 'Nope'/m);
  assert.match(
    r.stderr,
    /^ {2}plugins\[3\]\.kind: 'plugins\.deny_filter\.DenyListPlugin' is neither 'external', a module specifier/m,
  );
  // A disabled plugin is never loaded, so its kind is not judged.
  assert.doesNotMatch(r.stderr, /plugins\[4\]/);
});

Deno.test("check: the reference's Python class paths are bare kinds (errors), the plan still shown as JSON", async () => {
  for (const name of ["valid_multiple_plugins", "legacy_modes"]) {
    const r = await check(`${FIXTURES}/${name}.yaml`, "--json");
    assert.equal(r.code, 1, name);
    const out = JSON.parse(r.stdout);
    assert.equal(out.valid, false);
    assert.ok(
      out.errors.every((e: { message: string }) => /is neither 'external'/.test(e.message)),
    );
    assert.equal(out.plugin_count > 0, true);
  }
});

Deno.test("check: misspelt hook names and keys are warnings with a suggestion", async () => {
  const r = await checkDir("misspelt.yaml");
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /plugins\[0\]\.hooks\[0\]: 'tool_pre_invok' is not a known hook; did you mean `tool_pre_invoke`\?/,
  );
  assert.match(
    r.stdout,
    /plugins\[0\]\.prority: unknown key 'prority' is ignored; did you mean `priority`\?/,
  );
  assert.match(
    r.stdout,
    /plugins\[1\]\.hook: unknown key 'hook' is ignored; did you mean `hooks`\?/,
  );
  assert.match(
    r.stdout,
    /plugin_settings\.plugin_timout: unknown key 'plugin_timout' is ignored; did you mean `plugin_timeout`\?/,
  );
});

Deno.test("check: sandbox and shadow keys are known keys, not misspellings", async () => {
  const r = await checkDir("sandboxed.yaml");
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /unknown key/);
});

Deno.test("check: an unset env variable is a warning where harmless and an error where it breaks the config", async () => {
  const env = ["--allow-env=CPEX_CHECK_UNSET_OWNER,CPEX_CHECK_UNSET_PRIORITY"];
  const harmless = await runCli(["check", `${CHECK}/env_unset.yaml`], {
    permissions: [`--allow-read=${CHECK},${PLAN_PLUGINS}`, ...env],
  });
  assert.equal(harmless.code, 0, harmless.stderr);
  assert.doesNotMatch(harmless.stdout, /IN_A_COMMENT/);
  assert.match(
    harmless.stdout,
    /line 6: \{\{ env\.CPEX_CHECK_UNSET_OWNER \}\}: CPEX_CHECK_UNSET_OWNER is not set/,
  );
  const breaking = await runCli(["check", `${CHECK}/env_invalid.yaml`], {
    permissions: [`--allow-read=${CHECK},${PLAN_PLUGINS}`, ...env],
  });
  assert.equal(breaking.code, 1);
  assert.match(breaking.stderr, /plugins\[0\]\.priority: /);
  assert.match(
    breaking.stderr,
    /^ {2}line 6: \{\{ env\.CPEX_CHECK_UNSET_PRIORITY \}\}: CPEX_CHECK_UNSET_PRIORITY is not set/m,
  );
  // Without --allow-env the variable cannot be read: the message names the flag.
  const noEnv = await checkDir("env_unset.yaml");
  assert.match(noEnv.stdout, /cannot be read without --allow-env=CPEX_CHECK_UNSET_OWNER/);
});

Deno.test("check: without read permission for a plugin module it reports a permission problem", async () => {
  const r = await runCli(["check", `${CHECK}/duplicate.yaml`], {
    permissions: [`--allow-read=${CHECK}/duplicate.yaml`],
  });
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, /invalid config/);
  assert.match(
    r.stderr,
    /^error: PermissionPreflightError: The check command needs Deno permissions that were not granted; run with --allow-read=.*plugins\.ts/m,
  );
});

Deno.test("check validates a plugin-manifest.yaml beside a plugin module", async () => {
  const r = await checkDir("manifest.yaml");
  assert.equal(r.code, 1, r.stdout);
  assert.doesNotMatch(r.stderr, /plugins\[0\]/);
  assert.match(
    r.stderr,
    /^ {2}plugins\[1\]\.kind: .*manifest_bad\/plugin-manifest\.yaml: invalid plugin manifest: /m,
  );
  assert.match(r.stderr, /available_hooks/);
  assert.match(r.stderr, /default_config/);
});
