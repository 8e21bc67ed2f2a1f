/**
 * `cpex serve`, run as a subprocess with the narrow permission flags of each transport: READY,
 * real hook calls from a gateway-side PluginManager (unix) and an MCP client session (stdio),
 * env variables and flag precedence, SIGTERM shutdown, and exit code 1 with a clear message for
 * a missing permission or an invalid config.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, PluginManager } from "../mod.ts";
import { GRPC_ENV_VARS } from "../src/external/grpc/permissions.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";

const CONFIG = "tests/fixtures/cli/serve_plugins.yaml";
const PLUGIN_MODULE = "examples/plugins/deny_list.ts";

function socketPath(label: string): string {
  return `/tmp/cpex-cli-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/** Exactly what `serve -t unix` needs: the config, the plugin module, the socket. */
function unixPermissions(...sockets: string[]): string[] {
  return [
    `--allow-read=${[CONFIG, PLUGIN_MODULE, ...sockets].join(",")}`,
    `--allow-write=${sockets.join(",")}`,
    `--allow-net=${sockets.map((s) => `unix:${s}`).join(",")}`,
  ];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** A gateway that reaches the served DenyList over the Unix socket. */
async function gatewayCall(path: string, query: string) {
  const manager = new PluginManager(
    parseConfig({
      plugins: [{
        name: "DenyList",
        kind: "external",
        hooks: ["tool_pre_invoke"],
        unix_socket: { path },
      }],
    }),
  );
  await manager.initialize();
  try {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "search", args: { query } },
      { request_id: "cli-serve-1" },
    );
    return result;
  } finally {
    await manager.shutdown();
  }
}

Deno.test("serve over unix: READY, a gateway's hook calls, SIGTERM stops it and removes the socket", async () => {
  const path = socketPath("unix");
  const server = spawnCli(["serve", "--config", CONFIG, "--transport", "unix", "--path", path], {
    permissions: unixPermissions(path),
  });
  try {
    await server.waitFor("stdout", `READY unix ${path}\n`);
    assert.equal(server.stdout, `READY unix ${path}\n`);
    assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
    await server.waitFor("stderr", `1 plugin from ${CONFIG} on unix ${path}`);

    const blocked = await gatewayCall(path, "how to jailbreak a phone");
    assert.equal(blocked.continue_processing, false);
    assert.equal(blocked.violation?.code, "deny");
    assert.equal(blocked.violation?.plugin_name, "DenyList");
    const allowed = await gatewayCall(path, "weather in Paris");
    assert.equal(allowed.continue_processing, true);
  } finally {
    const result = await server.kill("SIGTERM");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /cpex serve: stopped\n$/);
  }
  assert.equal(await exists(path), false);
});

Deno.test("serve reads PLUGINS_CONFIG_PATH, PLUGINS_TRANSPORT, PLUGINS_UNIX_SOCKET_PATH; flags win", async () => {
  const fromEnv = socketPath("env");
  const fromFlag = socketPath("flag");
  const options = {
    permissions: [
      ...unixPermissions(fromEnv, fromFlag),
      "--allow-env=PLUGINS_CONFIG_PATH,PLUGINS_TRANSPORT,PLUGINS_UNIX_SOCKET_PATH,UNIX_SOCKET_PATH",
    ],
    env: {
      PLUGINS_CONFIG_PATH: CONFIG,
      PLUGINS_TRANSPORT: "UNIX",
      PLUGINS_UNIX_SOCKET_PATH: fromEnv,
    },
  };
  const envOnly = spawnCli(["serve"], options);
  try {
    await envOnly.waitFor("stdout", "READY");
    await envOnly.waitFor("stderr", `on unix ${fromEnv}`);
    assert.equal((await gatewayCall(fromEnv, "jailbreak")).continue_processing, false);
  } finally {
    assert.equal((await envOnly.kill("SIGTERM")).code, 0);
  }
  const flagged = spawnCli(["serve", "--path", fromFlag], options);
  try {
    await flagged.waitFor("stdout", "READY");
    await flagged.waitFor("stderr", `on unix ${fromFlag}`);
    assert.equal(await exists(fromEnv), false);
  } finally {
    assert.equal((await flagged.kill("SIGINT")).code, 0);
  }
  assert.equal(await exists(fromFlag), false);
});

Deno.test("serve without a permission it needs exits 1 naming the missing flag", async () => {
  const path = socketPath("perm");
  const server = spawnCli(["serve", "-c", CONFIG, "-t", "unix", "--path", path], {
    permissions: unixPermissions(path).filter((p) => !p.startsWith("--allow-net")),
  });
  const result = await server.finished();
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^error: PermissionPreflightError: .*run with /m);
  assert.ok(result.stderr.includes(`--allow-net=unix:${path}`), result.stderr);
  assert.equal(await exists(path), false);
});

Deno.test("serve of an invalid config exits 1 with the YAML path of the problem", async () => {
  const file = "tests/fixtures/configs/invalid_mode.yaml";
  const path = socketPath("bad");
  const server = spawnCli(["serve", "-c", file, "-t", "unix", "--path", path], {
    permissions: [
      `--allow-read=${file},${path}`,
      `--allow-write=${path}`,
      `--allow-net=unix:${path}`,
    ],
  });
  const result = await server.finished();
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    new RegExp(`^error: invalid config ${file}\\n {2}plugins\\[1\\]\\.mode: `),
  );
});

Deno.test("serve over stdio writes only MCP messages on stdout and ends with stdin", async () => {
  const server = spawnCli(["serve", "-c", CONFIG, "-t", "stdio"], {
    permissions: [`--allow-read=${CONFIG},${PLUGIN_MODULE}`],
  });
  const send = (message: unknown) => server.write(JSON.stringify(message) + "\n");
  try {
    await send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-03-26",
        capabilities: {},
        clientInfo: { name: "cli-test", version: "1" },
      },
    });
    await server.waitFor("stdout", '"id":1');
    await send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: {
        name: "invoke_hook",
        arguments: {
          hook_type: "tool_pre_invoke",
          plugin_name: "DenyList",
          payload: { name: "search", args: { query: "jailbreak" } },
          context: { global_context: { request_id: "r1" } },
        },
      },
    });
    await server.waitFor("stdout", '"id":2');
  } finally {
    await server.closeStdin();
  }
  const result = await server.finished();
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 2, result.stdout);
  const messages = lines.map((line) => JSON.parse(line));
  for (const m of messages) assert.equal(m.jsonrpc, "2.0");
  const reply = JSON.parse(messages[1].result.content[0].text);
  assert.equal(reply.plugin_name, "DenyList");
  assert.equal(reply.result.continue_processing, false);
  assert.equal(reply.result.violation.code, "deny");
  assert.match(result.stderr, /1 plugin from .* on stdio\n/);
});

Deno.test("serve over mcp http binds --host/--port (0 picks one) and answers /health", async () => {
  const server = spawnCli(["serve", "-c", CONFIG, "-t", "mcp", "-H", "127.0.0.1", "-p", "0"], {
    permissions: [`--allow-read=${CONFIG},${PLUGIN_MODULE}`, "--allow-net=127.0.0.1"],
  });
  try {
    await server.waitFor("stdout", "READY");
    const stderr = await server.waitFor("stderr", /on mcp 127\.0\.0\.1:\d+/);
    const port = Number(/on mcp 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
    assert.ok(port > 0);
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    const result = await server.kill("SIGTERM");
    assert.equal(result.code, 0, result.stderr);
  }
});

Deno.test("serve over grpc binds --host/--port with grpc-js's env names only", async () => {
  const server = spawnCli(["serve", "-c", CONFIG, "-t", "grpc", "-H", "127.0.0.1", "-p", "0"], {
    permissions: [
      `--allow-read=${CONFIG},${PLUGIN_MODULE}`,
      "--allow-net=127.0.0.1",
      `--allow-env=${GRPC_ENV_VARS.join(",")}`,
    ],
  });
  try {
    await server.waitFor("stdout", "READY");
    await server.waitFor("stderr", /1 plugin from .* on grpc 127\.0\.0\.1:\d+/);
  } finally {
    const result = await server.kill("SIGTERM");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /cpex serve: stopped/);
  }
});

// --- fail closed (issue 12) -------------------------------------------------------------------

const PARTIAL = "tests/fixtures/cli/serve_partial.yaml";
const MISSING = "tests/fixtures/cli/serve_missing.yaml";
const EMPTY = "tests/fixtures/cli/serve_empty.yaml";
const MISSING_MODULE = "tests/fixtures/cli/does_not_exist.ts";

function partialPermissions(config: string, path: string): string[] {
  return [
    `--allow-read=${[config, PLUGIN_MODULE, MISSING_MODULE, path].join(",")}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
  ];
}

Deno.test("serve with a plugin that cannot load exits 1 before READY, naming it (default)", async () => {
  const path = socketPath("missing");
  const result = await runCli(["serve", "-c", MISSING, "-t", "unix", "--path", path], {
    permissions: partialPermissions(MISSING, path),
  });
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Plugin initialization failed: Missing - /);
  assert.match(result.stderr, /0 of 2 plugins loaded from .*serve_missing\.yaml: Missing failed/);
  assert.equal(await exists(path), false);
});

Deno.test("serve refuses a partial load (fail_on_plugin_error: false) unless --allow-partial", async () => {
  const path = socketPath("partial");
  const refused = await runCli(["serve", "-c", PARTIAL, "-t", "unix", "--path", path], {
    permissions: partialPermissions(PARTIAL, path),
  });
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.stdout, "");
  assert.match(refused.stderr, /Skipping plugin Missing/);
  assert.match(
    refused.stderr,
    /refusing to serve: 1 of 2 plugins loaded from .*serve_partial\.yaml \(not loaded: Missing\); pass --allow-partial/,
  );
  assert.equal(await exists(path), false);

  const server = spawnCli(
    ["serve", "-c", PARTIAL, "-t", "unix", "--path", path, "--allow-partial"],
    { permissions: partialPermissions(PARTIAL, path) },
  );
  try {
    await server.waitFor("stdout", `READY unix ${path}\n`);
    await server.waitFor("stderr", `1 plugin from ${PARTIAL} on unix ${path}`);
  } finally {
    const result = await server.kill("SIGTERM");
    assert.equal(result.code, 0, result.stderr);
  }
});

Deno.test("serve refuses a config with no plugin unless --allow-partial", async () => {
  const path = socketPath("empty");
  const permissions = [
    `--allow-read=${EMPTY},${path}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
  ];
  const refused = await runCli(["serve", "-c", EMPTY, "-t", "unix", "--path", path], {
    permissions,
  });
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.stdout, "");
  assert.match(refused.stderr, /refusing to serve: no plugin loaded from .*serve_empty\.yaml/);

  const server = spawnCli(["serve", "-c", EMPTY, "-t", "unix", "--path", path, "--allow-partial"], {
    permissions,
  });
  try {
    await server.waitFor("stdout", `READY unix ${path}\n`);
  } finally {
    const result = await server.kill("SIGTERM");
    assert.equal(result.code, 0, result.stderr);
  }
});

Deno.test("serve without read permission for a plugin module exits 1 naming the plugin (fail closed)", async () => {
  const path = socketPath("noread");
  const result = await runCli(["serve", "-c", CONFIG, "-t", "unix", "--path", path], {
    permissions: [
      `--allow-read=${CONFIG},${path}`,
      `--allow-write=${path}`,
      `--allow-net=unix:${path}`,
    ],
  });
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Plugin initialization failed: DenyList - .*deny_list\.ts/);
  assert.match(result.stderr, /--allow-read/);
  assert.equal(await exists(path), false);
});
