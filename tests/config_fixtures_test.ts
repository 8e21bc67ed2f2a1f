import assert from "node:assert/strict";
import { loadConfig } from "../src/config/load.ts";
import { expectIssueAsync, withEnv } from "./config_test_helpers.ts";

const fixture = (name: string) => new URL(`./fixtures/configs/${name}`, import.meta.url);

Deno.test("fixture valid_no_plugin.yaml loads with no plugins and its plugin_settings", async () => {
  const config = await loadConfig(fixture("valid_no_plugin.yaml"));
  assert.deepEqual(config.plugins, []);
  assert.deepEqual(config.plugin_dirs, []);
  assert.deepEqual(config.plugin_settings, {
    parallel_execution_within_band: true,
    plugin_timeout: 30,
    fail_on_plugin_error: false,
    enable_plugin_api: true,
    plugin_health_check_interval: 60,
  });
});

Deno.test("fixture valid_multiple_plugins.yaml loads every plugin with normalised fields", async () => {
  const config = await loadConfig(fixture("valid_multiple_plugins.yaml"));
  assert.deepEqual(config.plugin_dirs, ["tests/fixtures/plugins"]);
  assert.equal(config.plugin_settings.plugin_timeout, 12);
  assert.equal(config.plugin_settings.fail_on_plugin_error, true);
  assert.deepEqual(config.plugins.map((p) => p.name), [
    "ReplaceBadWords",
    "DenyListPlugin",
    "AuditLog",
  ]);

  const [replace, deny, audit] = config.plugins;
  assert.equal(replace.kind, "plugins.regex_filter.search_replace.SearchReplacePlugin");
  assert.equal(replace.mode, "transform");
  assert.equal(replace.version, "0.1");
  assert.deepEqual(replace.conditions[0].prompts, ["test_prompt"]);
  assert.equal(replace.conditions[0].server_ids, null);
  assert.deepEqual(replace.conditions[0].content_types, ["application/json"]);
  assert.deepEqual(replace.config, { words: [{ search: "crap", replace: "crud" }] });

  assert.equal(deny.mode, "sequential");
  assert.equal(deny.priority, 100);
  assert.equal(deny.timeout, 2.5);
  assert.deepEqual(deny.capabilities, ["read_labels", "read_subject"]);
  assert.deepEqual(deny.conditions[0].user_patterns, ["admin"]);

  assert.equal(audit.mode, "sequential");
  assert.equal(audit.on_error, "ignore");
  assert.equal(audit.priority, -5);
  assert.equal("unknown_key_is_ignored" in audit, false);
});

Deno.test("fixture valid_external_mcp.yaml loads a STREAMABLEHTTP plugin at localhost", async () => {
  const [p] = (await loadConfig(fixture("valid_external_mcp.yaml"))).plugins;
  assert.equal(p.kind, "external");
  assert.equal(p.config, null);
  assert.equal(p.mcp?.proto, "STREAMABLEHTTP");
  assert.equal(p.mcp?.url, "http://localhost:3001/mcp");
});

Deno.test("fixture valid_external_stdio.yaml loads a STDIO plugin with cmd and env", async () => {
  const [p] = (await loadConfig(fixture("valid_external_stdio.yaml"))).plugins;
  assert.equal(p.mcp?.proto, "STDIO");
  assert.deepEqual(p.mcp?.cmd, ["deno", "run", "--allow-read", "examples/stdio_server.ts"]);
  assert.deepEqual(p.mcp?.env, { PLUGINS_CONFIG_PATH: "examples/config.yaml" });
  assert.equal(p.mcp?.reconnect_attempts, 5);
});

Deno.test("fixture valid_external_grpc_and_unix.yaml loads gRPC and Unix socket plugins", async () => {
  const [grpc, unix] = (await loadConfig(fixture("valid_external_grpc_and_unix.yaml"))).plugins;
  assert.deepEqual(grpc.grpc, { target: "localhost:50051", uds: null, tls: null });
  assert.deepEqual(unix.unix_socket, {
    path: "/tmp/cpex-fixture.sock",
    reconnect_attempts: 3,
    reconnect_delay: 0.1,
    timeout: 5,
  });
});

Deno.test("fixture valid_server_settings.yaml loads the three server sections", async () => {
  const config = await loadConfig(fixture("valid_server_settings.yaml"));
  assert.deepEqual(config.server_settings, { host: "0.0.0.0", port: 8001, uds: null, tls: null });
  assert.deepEqual(config.grpc_server_settings, {
    host: "127.0.0.1",
    port: 50052,
    uds: null,
    tls: null,
  });
  assert.deepEqual(config.unix_socket_server_settings, { path: "/tmp/cpex-fixture-server.sock" });
});

Deno.test("fixture legacy_modes.yaml migrates legacy mode names", async () => {
  const plugins = (await loadConfig(fixture("legacy_modes.yaml"))).plugins;
  assert.deepEqual(plugins.map((p) => [p.mode, p.on_error]), [
    ["sequential", "fail"],
    ["transform", "fail"],
    ["sequential", "ignore"],
    ["sequential", "disable"],
  ]);
});

Deno.test("fixture env_substitution.yaml takes values from the environment", async () => {
  await withEnv({
    CPEX_FIXTURE_NAME: "EnvPlugin",
    CPEX_FIXTURE_DESCRIPTION: "Q&A <filter>",
    CPEX_FIXTURE_UNSET_VARIABLE: undefined,
    CPEX_FIXTURE_PRIORITY: undefined,
    CPEX_FIXTURE_URL: "http://localhost:3001/mcp",
  }, async () => {
    const [p] = (await loadConfig(fixture("env_substitution.yaml"))).plugins;
    assert.equal(p.name, "EnvPlugin");
    assert.equal(p.description, "Q&A <filter>");
    assert.equal(p.author, "");
    assert.equal(p.priority, 7);
    assert.equal(p.mcp?.url, "http://localhost:3001/mcp");
  });
});

Deno.test("fixture empty.yaml is an empty config", async () => {
  assert.deepEqual((await loadConfig(fixture("empty.yaml"))).plugins, []);
});

const invalid: [string, string, RegExp][] = [
  [
    "invalid_external_with_config.yaml",
    "plugins[0].config",
    /can only be set on the plugin server/,
  ],
  ["invalid_external_two_transports.yaml", "plugins[0]", /only have one transport/],
  ["invalid_external_no_transport.yaml", "plugins[0]", /must have 'mcp', 'grpc', or 'unix_socket'/],
  ["invalid_mode.yaml", "plugins[1].mode", /expected one of sequential, .*; got "SEQUENTIAL"/],
  [
    "invalid_on_error.yaml",
    "plugins[0].on_error",
    /expected one of fail, ignore, disable; got "retry"/,
  ],
  ["invalid_priority_float.yaml", "plugins[0].priority", /expected an integer; got 1\.5/],
  ["invalid_capability.yaml", "plugins[0].capabilities", /Unknown capability: 'read_everything'/],
  ["invalid_mcp_loopback_url.yaml", "plugins[0].mcp.url", /private or loopback IP address/],
  [
    "invalid_stdio_script_and_cmd.yaml",
    "plugins[0].mcp",
    /either script or cmd for STDIO, not both/,
  ],
  ["invalid_missing_kind.yaml", "plugins[0].kind", /required/],
  ["invalid_plugin_settings.yaml", "plugin_settings.plugin_timeout", /expected a number/],
  ["invalid_yaml_syntax.yaml", "", /^YAML syntax error at line \d+, column \d+/],
];

for (const [file, path, message] of invalid) {
  Deno.test(`fixture ${file} is rejected naming ${path || "the document"}`, async () => {
    await withEnv({ PLUGINS_SSRF_PROTECTION_ENABLED: undefined }, async () => {
      await expectIssueAsync(() => loadConfig(fixture(file)), path, message);
    });
  });
}
