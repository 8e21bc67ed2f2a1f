import assert from "node:assert/strict";
import { ConfigError } from "../src/errors.ts";
import { parseConfig, parsePluginConfig } from "../src/config/schema.ts";
import type { PluginConfig } from "../src/types.ts";
import { expectIssue, withEnv } from "./config_test_helpers.ts";

const one = (plugin: Record<string, unknown>): PluginConfig =>
  parseConfig({ plugins: [{ kind: "plugins.a.A", ...plugin }] }).plugins[0];
const bad = (plugin: Record<string, unknown>) => () =>
  parseConfig({ plugins: [{ kind: "plugins.a.A", ...plugin }] });
const http = { proto: "STREAMABLEHTTP", url: "http://localhost:3001/mcp" };

async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "cpex_config_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---- top level ------------------------------------------------------------------------------

Deno.test("unknown top-level keys are ignored", () => {
  const config = parseConfig({ plugins: [], something_else: { a: 1 } }) as unknown as Record<
    string,
    unknown
  >;
  assert.equal("something_else" in config, false);
});

Deno.test("plugins null means no plugins", () => {
  assert.deepEqual(parseConfig({ plugins: null }).plugins, []);
});

Deno.test("an empty document gives defaults for every section", () => {
  assert.deepEqual(parseConfig({}), {
    plugins: [],
    plugin_dirs: [],
    server_settings: null,
    grpc_server_settings: null,
    unix_socket_server_settings: null,
    plugin_settings: {},
  });
});

Deno.test("a top-level document that is not a mapping is rejected", () => {
  expectIssue(() => parseConfig(["plugins"]), "", "expected a mapping; got a list");
});

Deno.test("plugins must be a list naming the plugins key", () => {
  expectIssue(() => parseConfig({ plugins: { name: "x" } }), "plugins", /expected a list/);
});

Deno.test("plugin_dirs is a list of strings", () => {
  assert.deepEqual(parseConfig({ plugin_dirs: ["a", "b"] }).plugin_dirs, ["a", "b"]);
  expectIssue(() => parseConfig({ plugin_dirs: [1] }), "plugin_dirs[0]", /expected a string/);
});

Deno.test("plugin_settings keeps plugin_timeout and fail_on_plugin_error", () => {
  const { plugin_settings } = parseConfig({
    plugin_settings: { plugin_timeout: 12, fail_on_plugin_error: true },
  });
  assert.deepEqual(plugin_settings, { plugin_timeout: 12, fail_on_plugin_error: true });
});

Deno.test("plugin_settings accepts the upstream keys and ignores unknown ones", () => {
  const { plugin_settings } = parseConfig({
    plugin_settings: {
      parallel_execution_within_band: true,
      enable_plugin_api: false,
      plugin_health_check_interval: 60,
      execution_pool: 4,
      default_hook_policy: "deny",
      made_up: 1,
    },
  });
  assert.deepEqual(plugin_settings, {
    parallel_execution_within_band: true,
    enable_plugin_api: false,
    plugin_health_check_interval: 60,
    execution_pool: 4,
    default_hook_policy: "deny",
  });
});

Deno.test("plugin_settings with a non-positive plugin_timeout is rejected", () => {
  expectIssue(
    () => parseConfig({ plugin_settings: { plugin_timeout: 0 } }),
    "plugin_settings.plugin_timeout",
    "expected a number greater than 0; got 0",
  );
});

Deno.test("plugin_settings null values and a null section mean not set", () => {
  assert.deepEqual(parseConfig({ plugin_settings: { plugin_timeout: null } }).plugin_settings, {});
  assert.deepEqual(parseConfig({ plugin_settings: null }).plugin_settings, {});
});

Deno.test("ConfigError names the file and every problem", () => {
  try {
    parseConfig({ plugins: [{ name: "a", kind: "k", mode: "x", on_error: "y" }] }, "my.yaml");
    assert.fail("expected a ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, "my.yaml");
    assert.deepEqual(e.issues.map((i) => i.path), ["plugins[0].mode", "plugins[0].on_error"]);
    assert.match(e.message, /^Invalid config my\.yaml: plugins\[0\]\.mode: /);
  }
});

// ---- plugin fields and defaults ---------------------------------------------------------------

Deno.test("plugin defaults are filled in like the reference dump", () => {
  assert.deepEqual(one({ name: "p" }), {
    name: "p",
    description: null,
    author: null,
    kind: "plugins.a.A",
    namespace: null,
    version: null,
    hooks: [],
    tags: [],
    mode: "sequential",
    on_error: "fail",
    priority: 100,
    max_content_size: 10_000_000,
    conditions: [],
    applied_to: null,
    capabilities: [],
    config: null,
    mcp: null,
    grpc: null,
    unix_socket: null,
  });
});

Deno.test("plugin without kind in a config file is rejected naming plugins[0].kind", () => {
  expectIssue(
    () => parseConfig({ plugins: [{ name: "p" }] }),
    "plugins[0].kind",
    "required: expected a string",
  );
});

Deno.test("programmatic plugin config without kind defaults to inline", () => {
  const cfg = parsePluginConfig({ name: "p", hooks: ["tool_pre_invoke"] });
  assert.equal(cfg.kind, "inline");
  assert.deepEqual(cfg.hooks, ["tool_pre_invoke"]);
});

Deno.test("parsePluginConfig with requireKind rejects a missing kind", () => {
  expectIssue(() => parsePluginConfig({ name: "p" }, "x", { requireKind: true }), "kind");
});

Deno.test("parsePluginConfig errors are labelled with the plugin name and relative paths", () => {
  try {
    parsePluginConfig({ name: "p", mode: "loud" });
    assert.fail("expected a ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, 'plugin "p"');
    assert.equal(e.issues[0].path, "mode");
  }
});

Deno.test("plugin name must be a non-empty string", () => {
  expectIssue(bad({ name: "  " }), "plugins[0].name", "must be a non-empty string");
  expectIssue(bad({}), "plugins[0].name", "required: expected a string");
});

Deno.test("unknown plugin keys are ignored", () => {
  assert.equal("colour" in one({ name: "p", colour: "red" }), false);
});

Deno.test("a version written as a YAML number is rejected with a quoting hint", () => {
  expectIssue(
    bad({ name: "p", version: 0.1 }),
    "plugins[0].version",
    "expected a string (quote it in YAML); got 0.1",
  );
});

Deno.test("hooks must be a list of strings", () => {
  expectIssue(bad({ name: "p", hooks: "tool_pre_invoke" }), "plugins[0].hooks", /expected a list/);
});

Deno.test("legacy mode enforce becomes sequential", () => {
  const p = one({ name: "p", mode: "enforce" });
  assert.equal(p.mode, "sequential");
  assert.equal(p.on_error, "fail");
});

Deno.test("legacy mode permissive becomes transform", () => {
  assert.equal(one({ name: "p", mode: "permissive" }).mode, "transform");
});

Deno.test("legacy mode enforce_ignore_error becomes sequential with on_error ignore", () => {
  const p = one({ name: "p", mode: "enforce_ignore_error" });
  assert.equal(p.mode, "sequential");
  assert.equal(p.on_error, "ignore");
});

Deno.test("legacy mode enforce_ignore_error keeps an explicit on_error", () => {
  assert.equal(
    one({ name: "p", mode: "enforce_ignore_error", on_error: "disable" }).on_error,
    "disable",
  );
});

Deno.test("every plugin mode value is accepted", () => {
  for (
    const mode of ["sequential", "transform", "audit", "concurrent", "fire_and_forget", "disabled"]
  ) {
    assert.equal(one({ name: "p", mode }).mode, mode);
  }
});

Deno.test("modes are lower-case only and the error lists the allowed values", () => {
  expectIssue(
    bad({ name: "p", mode: "SEQUENTIAL" }),
    "plugins[0].mode",
    "expected one of sequential, transform, audit, concurrent, fire_and_forget, disabled " +
      '(legacy: enforce, permissive, enforce_ignore_error); got "SEQUENTIAL"',
  );
});

Deno.test("on_error accepts fail, ignore and disable only", () => {
  for (const on_error of ["fail", "ignore", "disable"]) {
    assert.equal(one({ name: "p", on_error }).on_error, on_error);
  }
  expectIssue(
    bad({ name: "p", on_error: "retry" }),
    "plugins[0].on_error",
    'expected one of fail, ignore, disable; got "retry"',
  );
});

Deno.test("a numeric string priority is coerced to an integer", () => {
  assert.equal(one({ name: "p", priority: "5" }).priority, 5);
  assert.equal(one({ name: "p", priority: 7.0 }).priority, 7);
});

Deno.test("a non-integral priority is rejected", () => {
  expectIssue(
    bad({ name: "p", priority: 1.5 }),
    "plugins[0].priority",
    "expected an integer; got 1.5",
  );
  expectIssue(bad({ name: "p", priority: "1.5" }), "plugins[0].priority", /got "1\.5"/);
  expectIssue(bad({ name: "p", priority: null }), "plugins[0].priority", /got null/);
});

Deno.test("priority takes pydantic's lax int forms: booleans, underscores, a .0 tail (issue 11 item 6)", () => {
  // Against the reference's model: tests/interop/conformance_numbers_test.ts.
  assert.equal(one({ name: "p", priority: true }).priority, 1);
  assert.equal(one({ name: "p", priority: false }).priority, 0);
  assert.equal(one({ name: "p", priority: "1_000" }).priority, 1000);
  assert.equal(one({ name: "p", priority: " 5.00 " }).priority, 5);
});

Deno.test("a negative priority is allowed", () => {
  assert.equal(one({ name: "p", priority: -10 }).priority, -10);
});

Deno.test("max_content_size is a non-negative integer", () => {
  assert.equal(one({ name: "p", max_content_size: "2048" }).max_content_size, 2048);
  expectIssue(bad({ name: "p", max_content_size: -1 }), "plugins[0].max_content_size");
});

Deno.test("capabilities are validated, deduplicated and sorted", () => {
  assert.deepEqual(
    one({ name: "p", capabilities: ["write_headers", "read_subject", "read_subject"] })
      .capabilities,
    ["read_subject", "write_headers"],
  );
});

Deno.test("an unknown capability is rejected with the list of known ones", () => {
  const issue = expectIssue(
    bad({ name: "p", capabilities: ["read_subject", "read_everything"] }),
    "plugins[0].capabilities",
  );
  assert.ok(
    issue.message.startsWith(
      "Unknown capability: 'read_everything'. Known: ['append_delegation', ",
    ),
  );
});

Deno.test("non-list capabilities become an empty list", () => {
  assert.deepEqual(one({ name: "p", capabilities: "read_subject" }).capabilities, []);
  assert.deepEqual(one({ name: "p", capabilities: null }).capabilities, []);
});

Deno.test("conditions deduplicate their lists and treat empty lists as absent", () => {
  const [c] = one({
    name: "p",
    conditions: [{ tools: ["a", "b", "a"], server_ids: [], user_patterns: ["adm", "adm"] }],
  }).conditions;
  assert.deepEqual(c, {
    server_ids: null,
    tenant_ids: null,
    tools: ["a", "b"],
    prompts: null,
    resources: null,
    agents: null,
    user_patterns: ["adm"],
    content_types: null,
  });
});

Deno.test("condition content types are normalised", () => {
  const [c] = one({
    name: "p",
    conditions: [{
      content_types: [" Application/JSON; charset=utf-8", "text/plain", "TEXT/PLAIN"],
    }],
  }).conditions;
  assert.deepEqual(c.content_types, ["application/json", "text/plain"]);
});

Deno.test("a condition field must be a list of strings", () => {
  expectIssue(
    bad({ name: "p", conditions: [{ tools: "search" }] }),
    "plugins[0].conditions[0].tools",
  );
  expectIssue(
    bad({ name: "p", conditions: [{ tools: [1] }] }),
    "plugins[0].conditions[0].tools[0]",
  );
});

Deno.test("timeout is a positive number of seconds and optional", () => {
  assert.equal(one({ name: "p", timeout: "0.5" }).timeout, 0.5);
  assert.equal("timeout" in one({ name: "p" }), false);
  expectIssue(bad({ name: "p", timeout: 0 }), "plugins[0].timeout", /greater than 0/);
  expectIssue(bad({ name: "p", timeout: "soon" }), "plugins[0].timeout", /expected a number/);
});

Deno.test("config must be a mapping", () => {
  assert.deepEqual(one({ name: "p", config: { a: [1] } }).config, { a: [1] });
  expectIssue(bad({ name: "p", config: ["a"] }), "plugins[0].config", /expected a mapping/);
});

Deno.test("applied_to entries need their name field", () => {
  const p = one({ name: "p", applied_to: { tools: [{ tool_name: "search", fields: ["q"] }] } });
  assert.deepEqual(p.applied_to, {
    tools: [{ tool_name: "search", fields: ["q"], result: false }],
  });
  expectIssue(
    bad({ name: "p", applied_to: { tools: [{}] } }),
    "plugins[0].applied_to.tools[0].tool_name",
  );
});

Deno.test("parsing a parsed plugin config again gives the same config", () => {
  const first = one({
    name: "p",
    mode: "enforce_ignore_error",
    priority: "3",
    capabilities: ["read_roles"],
    conditions: [{ content_types: ["Text/HTML"] }],
    timeout: 2,
  });
  assert.deepEqual(parsePluginConfig(first), first);
});

// ---- external plugins -------------------------------------------------------------------------

Deno.test("external plugin with config section is rejected naming plugins[0].config", () => {
  expectIssue(
    bad({ name: "ext", kind: "external", mcp: http, config: { a: 1 } }),
    "plugins[0].config",
    "Cannot have ext plugin defined as 'external' with 'config' set. " +
      "'config' section settings can only be set on the plugin server.",
  );
});

Deno.test("ignoreConfigExternal allows config on an external plugin", () => {
  const cfg = parsePluginConfig(
    { name: "ext", kind: "external", mcp: http, config: { a: 1 } },
    undefined,
    { ignoreConfigExternal: true },
  );
  assert.deepEqual(cfg.config, { a: 1 });
});

Deno.test("external plugin without a transport is rejected naming the plugin", () => {
  expectIssue(
    bad({ name: "ext", kind: "external" }),
    "plugins[0]",
    "an external plugin must have 'mcp', 'grpc', or 'unix_socket' section configured",
  );
});

Deno.test("external plugin with two transports is rejected naming the plugin", () => {
  expectIssue(
    bad({ name: "ext", kind: "external", mcp: http, unix_socket: { path: "/tmp/x.sock" } }),
    "plugins[0]",
    "an external plugin can only have one transport configured (mcp, grpc, or unix_socket)",
  );
});

Deno.test("a non-external plugin may carry a validated transport block", () => {
  assert.equal(one({ name: "p", mcp: http }).mcp?.url, "http://localhost:3001/mcp");
  expectIssue(bad({ name: "p", mcp: { proto: "STDIO" } }), "plugins[0].mcp");
});

// ---- mcp ------------------------------------------------------------------------------------

Deno.test("mcp block defaults are filled in", () => {
  assert.deepEqual(one({ name: "p", kind: "external", mcp: http }).mcp, {
    proto: "STREAMABLEHTTP",
    url: "http://localhost:3001/mcp",
    script: null,
    cmd: null,
    env: null,
    cwd: null,
    uds: null,
    tls: null,
    reconnect_attempts: 3,
    reconnect_delay: 0.1,
  });
});

Deno.test("mcp proto must be SSE, STREAMABLEHTTP or STDIO", () => {
  assert.equal(one({ name: "p", mcp: { proto: "SSE", url: http.url } }).mcp?.proto, "SSE");
  for (const proto of ["HTTP", "GRPC", "streamablehttp"]) {
    expectIssue(
      bad({ name: "p", mcp: { ...http, proto } }),
      "plugins[0].mcp.proto",
      `expected one of SSE, STREAMABLEHTTP, STDIO; got "${proto}"`,
    );
  }
});

Deno.test("STREAMABLEHTTP and SSE require a url", () => {
  expectIssue(
    bad({ name: "p", mcp: { proto: "STREAMABLEHTTP" } }),
    "plugins[0].mcp.url",
    /required/,
  );
  expectIssue(bad({ name: "p", mcp: { proto: "SSE", url: "" } }), "plugins[0].mcp.url", /required/);
});

Deno.test("STDIO requires a script or a cmd", () => {
  expectIssue(
    bad({ name: "p", mcp: { proto: "STDIO" } }),
    "plugins[0].mcp",
    "transport type set to STDIO but no script/cmd value",
  );
});

Deno.test("STDIO rejects both script and cmd", () => {
  expectIssue(
    bad({ name: "p", mcp: { proto: "STDIO", script: "a.py", cmd: ["python", "a.py"] } }),
    "plugins[0].mcp",
    "must set either script or cmd for STDIO, not both",
  );
});

Deno.test("STDIO rejects a url, a uds and tls", () => {
  const mcp = { proto: "STDIO", cmd: ["x"] };
  expectIssue(bad({ name: "p", mcp: { ...mcp, url: http.url } }), "plugins[0].mcp.url");
  expectIssue(bad({ name: "p", mcp: { ...mcp, uds: "/tmp/a.sock" } }), "plugins[0].mcp.uds");
  expectIssue(bad({ name: "p", mcp: { ...mcp, tls: {} } }), "plugins[0].mcp.tls");
});

Deno.test("script, cmd, env and cwd are only allowed with STDIO", () => {
  for (const extra of [{ script: "a.py" }, { cmd: ["a"] }, { env: { A: "1" } }, { cwd: "/tmp" }]) {
    const key = Object.keys(extra)[0];
    expectIssue(
      bad({ name: "p", mcp: { ...http, ...extra } }),
      `plugins[0].mcp.${key}`,
      "only allowed with STDIO",
    );
  }
});

Deno.test("cmd must be a non-empty list of non-blank strings", () => {
  expectIssue(
    bad({ name: "p", mcp: { proto: "STDIO", cmd: [] } }),
    "plugins[0].mcp.cmd",
    "must be a non-empty list",
  );
  expectIssue(
    bad({ name: "p", mcp: { proto: "STDIO", cmd: ["deno", " "] } }),
    "plugins[0].mcp.cmd[1]",
  );
});

Deno.test("env must be a non-empty mapping of strings", () => {
  const stdio = { proto: "STDIO", cmd: ["x"] };
  assert.deepEqual(one({ name: "p", mcp: { ...stdio, env: { A: "1" } } }).mcp?.env, { A: "1" });
  expectIssue(bad({ name: "p", mcp: { ...stdio, env: {} } }), "plugins[0].mcp.env");
  expectIssue(
    bad({ name: "p", mcp: { ...stdio, env: { PORT: 8000 } } }),
    "plugins[0].mcp.env.PORT",
  );
});

Deno.test("cwd must be an existing directory and is canonicalised", async () => {
  await withTempDir((dir) => {
    const stdio = { proto: "STDIO", cmd: ["x"] };
    assert.equal(
      one({ name: "p", mcp: { ...stdio, cwd: `${dir}/.` } }).mcp?.cwd,
      Deno.realPathSync(dir),
    );
    expectIssue(
      bad({ name: "p", mcp: { ...stdio, cwd: `${dir}/nope` } }),
      "plugins[0].mcp.cwd",
      /directory not found/,
    );
  });
});

Deno.test("an absolute script must exist", () => {
  expectIssue(
    bad({ name: "p", mcp: { proto: "STDIO", script: "/nonexistent/cpex/server.py" } }),
    "plugins[0].mcp.script",
    "script not found: /nonexistent/cpex/server.py",
  );
});

Deno.test("an absolute script must be executable unless it ends in .py or .sh", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/server`, "#!/bin/sh\n", { mode: 0o644 });
    Deno.writeTextFileSync(`${dir}/server.py`, "print()\n", { mode: 0o644 });
    expectIssue(
      bad({ name: "p", mcp: { proto: "STDIO", script: `${dir}/server` } }),
      "plugins[0].mcp.script",
      /executable/,
    );
    assert.equal(
      one({ name: "p", mcp: { proto: "STDIO", script: `${dir}/server.py` } }).mcp?.script,
      `${dir}/server.py`,
    );
    Deno.chmodSync(`${dir}/server`, 0o755);
    assert.equal(
      one({ name: "p", mcp: { proto: "STDIO", script: `${dir}/server` } }).mcp?.script,
      `${dir}/server`,
    );
  });
});

Deno.test("a relative script is not checked", () => {
  assert.equal(
    one({ name: "p", mcp: { proto: "STDIO", script: "missing/server.py" } }).mcp?.script,
    "missing/server.py",
  );
});

Deno.test("mcp uds is only allowed with STREAMABLEHTTP", () => {
  expectIssue(
    bad({ name: "p", mcp: { proto: "SSE", url: http.url, uds: "/tmp/a.sock" } }),
    "plugins[0].mcp.uds",
  );
});

Deno.test("uds must be absolute with an existing parent and is canonicalised", async () => {
  await withTempDir((dir) => {
    const got = one({ name: "p", mcp: { ...http, uds: `${dir}/./sub/../mcp.sock` } }).mcp?.uds;
    assert.equal(got, `${Deno.realPathSync(dir)}/mcp.sock`);
    expectIssue(
      bad({ name: "p", mcp: { ...http, uds: "relative.sock" } }),
      "plugins[0].mcp.uds",
      /absolute/,
    );
    expectIssue(
      bad({ name: "p", mcp: { ...http, uds: `${dir}/nope/a.sock` } }),
      "plugins[0].mcp.uds",
      /does not exist/,
    );
    expectIssue(bad({ name: "p", mcp: { ...http, uds: " " } }), "plugins[0].mcp.uds", /non-empty/);
  });
});

Deno.test("uds starting with ~ is expanded from HOME", async () => {
  await withTempDir(async (dir) => {
    await withEnv({ HOME: dir }, () => {
      assert.equal(
        one({ name: "p", mcp: { ...http, uds: "~/a.sock" } }).mcp?.uds,
        `${Deno.realPathSync(dir)}/a.sock`,
      );
    });
  });
});

Deno.test("mcp tls cannot be combined with uds", () => {
  expectIssue(
    bad({ name: "p", mcp: { ...http, uds: "/tmp/a.sock", tls: {} } }),
    "plugins[0].mcp.tls",
    /uds/,
  );
});

Deno.test("mcp reconnect settings are numbers", () => {
  const mcp =
    one({ name: "p", mcp: { ...http, reconnect_attempts: "5", reconnect_delay: 0.5 } }).mcp;
  assert.equal(mcp?.reconnect_attempts, 5);
  assert.equal(mcp?.reconnect_delay, 0.5);
  expectIssue(
    bad({ name: "p", mcp: { ...http, reconnect_attempts: 1.5 } }),
    "plugins[0].mcp.reconnect_attempts",
  );
});

// ---- TLS ------------------------------------------------------------------------------------

Deno.test("mcp client tls defaults verify and check_hostname to true", () => {
  assert.deepEqual(one({ name: "p", mcp: { ...http, tls: {} } }).mcp?.tls, {
    certfile: null,
    keyfile: null,
    ca_bundle: null,
    keyfile_password: null,
    verify: true,
    check_hostname: true,
  });
  assert.equal(one({ name: "p", mcp: { ...http, tls: { verify: "no" } } }).mcp?.tls?.verify, false);
});

Deno.test("tls certificate paths must exist", () => {
  expectIssue(
    bad({ name: "p", mcp: { ...http, tls: { ca_bundle: "/nonexistent/ca.pem" } } }),
    "plugins[0].mcp.tls.ca_bundle",
    "file not found: /nonexistent/ca.pem",
  );
});

Deno.test("tls keyfile without certfile is rejected", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/key.pem`, "k");
    expectIssue(
      bad({ name: "p", grpc: { target: "localhost:1", tls: { keyfile: `${dir}/key.pem` } } }),
      "plugins[0].grpc.tls.keyfile",
      "keyfile requires certfile",
    );
  });
});

Deno.test("tls paths expand ~ and keep existing files", async () => {
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/cert.pem`, "c");
    Deno.writeTextFileSync(`${dir}/key.pem`, "k");
    await withEnv({ HOME: dir }, () => {
      const tls = one({
        name: "p",
        mcp: { ...http, tls: { certfile: "~/cert.pem", keyfile: `${dir}/key.pem` } },
      }).mcp?.tls;
      assert.equal(tls?.certfile, `${dir}/cert.pem`);
      assert.equal(tls?.keyfile, `${dir}/key.pem`);
    });
  });
});

Deno.test("grpc server client_auth is case-insensitive and stored lower-case", () => {
  const s = parseConfig({ grpc_server_settings: { tls: { client_auth: "OPTIONAL" } } });
  assert.equal(s.grpc_server_settings?.tls?.client_auth, "optional");
  assert.equal(
    parseConfig({ grpc_server_settings: { tls: {} } }).grpc_server_settings?.tls?.client_auth,
    "require",
  );
  expectIssue(
    () => parseConfig({ grpc_server_settings: { tls: { client_auth: "sometimes" } } }),
    "grpc_server_settings.tls.client_auth",
    'expected one of none, optional, require; got "sometimes"',
  );
});

Deno.test("mcp server ssl_cert_reqs defaults to 2 and must be 0, 1 or 2", () => {
  assert.equal(
    parseConfig({ server_settings: { tls: {} } }).server_settings?.tls?.ssl_cert_reqs,
    2,
  );
  expectIssue(
    () => parseConfig({ server_settings: { tls: { ssl_cert_reqs: 3 } } }),
    "server_settings.tls.ssl_cert_reqs",
  );
});

// ---- grpc and unix_socket -----------------------------------------------------------------------

Deno.test("grpc needs exactly one of target and uds", () => {
  expectIssue(
    bad({ name: "p", grpc: {} }),
    "plugins[0].grpc",
    "must have either 'target' or 'uds' configured",
  );
  expectIssue(
    bad({ name: "p", grpc: { target: "localhost:1", uds: "/tmp/g.sock" } }),
    "plugins[0].grpc",
    "cannot have both 'target' and 'uds' configured",
  );
});

Deno.test("grpc target must be host:port", () => {
  assert.equal(
    one({ name: "p", grpc: { target: "localhost:50051" } }).grpc?.target,
    "localhost:50051",
  );
  expectIssue(
    bad({ name: "p", grpc: { target: "localhost" } }),
    "plugins[0].grpc.target",
    /host:port/,
  );
  expectIssue(bad({ name: "p", grpc: { target: "" } }), "plugins[0].grpc.target");
});

Deno.test("grpc tls cannot be combined with uds", () => {
  expectIssue(
    bad({ name: "p", grpc: { uds: "/tmp/g.sock", tls: {} } }),
    "plugins[0].grpc.tls",
    /uds/,
  );
});

Deno.test("unix_socket path is required and absolute, with defaults", () => {
  assert.deepEqual(one({ name: "p", unix_socket: { path: "/tmp/u.sock" } }).unix_socket, {
    path: "/tmp/u.sock",
    reconnect_attempts: 3,
    reconnect_delay: 0.1,
    timeout: 30,
  });
  expectIssue(bad({ name: "p", unix_socket: {} }), "plugins[0].unix_socket.path", /required/);
  expectIssue(
    bad({ name: "p", unix_socket: { path: "u.sock" } }),
    "plugins[0].unix_socket.path",
    /absolute/,
  );
});

// ---- server settings ------------------------------------------------------------------------

Deno.test("server settings sections fill their defaults", () => {
  const c = parseConfig({
    server_settings: {},
    grpc_server_settings: {},
    unix_socket_server_settings: {},
  });
  assert.deepEqual(c.server_settings, { host: "127.0.0.1", port: 8000, uds: null, tls: null });
  assert.deepEqual(c.grpc_server_settings, {
    host: "127.0.0.1",
    port: 50051,
    uds: null,
    tls: null,
  });
  assert.deepEqual(c.unix_socket_server_settings, { path: "/tmp/mcpgateway-plugins.sock" });
});

Deno.test("server ports are integers from 0 to 65535", () => {
  assert.equal(parseConfig({ grpc_server_settings: { port: "0" } }).grpc_server_settings?.port, 0);
  expectIssue(
    () => parseConfig({ server_settings: { port: 70000 } }),
    "server_settings.port",
    /between 0 and 65535/,
  );
});

Deno.test("server settings reject tls together with uds", () => {
  expectIssue(
    () => parseConfig({ server_settings: { uds: "/tmp/s.sock", tls: {} } }),
    "server_settings.tls",
    /uds/,
  );
  expectIssue(
    () => parseConfig({ grpc_server_settings: { uds: "/tmp/s.sock", tls: {} } }),
    "grpc_server_settings.tls",
    /uds/,
  );
});

// ---- url in the schema ----------------------------------------------------------------------

Deno.test("mcp url at localhost passes and a loopback literal is rejected by default", async () => {
  await withEnv({ PLUGINS_SSRF_PROTECTION_ENABLED: undefined }, () => {
    assert.equal(one({ name: "p", mcp: http }).mcp?.url, http.url);
    expectIssue(
      bad({ name: "p", mcp: { ...http, url: "http://127.0.0.1:3001/mcp" } }),
      "plugins[0].mcp.url",
      /^URL contains a private or loopback IP address \(127\.0\.0\.1\)/,
    );
  });
});

Deno.test("PLUGINS_SSRF_PROTECTION_ENABLED=false allows a loopback url", async () => {
  await withEnv({ PLUGINS_SSRF_PROTECTION_ENABLED: "false" }, () => {
    assert.equal(
      one({ name: "p", mcp: { ...http, url: "http://127.0.0.1:3001/mcp" } }).mcp?.url,
      "http://127.0.0.1:3001/mcp",
    );
  });
});
