/**
 * Servers say what they are doing (issue 12), through `cpex serve` as a subprocess: the `READY`
 * line names the transport and bound address (so `--port 0` is usable), a port or socket clash
 * names the address, SIGINT stops a server and removes its socket, and the logger has levels,
 * JSON lines, and logs a failed plugin call with plugin, hook and request id but no payload.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, PluginManager } from "../mod.ts";
import { GRPC_ENV_VARS } from "../src/external/grpc/permissions.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";

const CONFIG = "tests/fixtures/cli/serve_plugins.yaml";
const PLUGIN_MODULE = "examples/plugins/deny_list.ts";
const FAILING = "tests/fixtures/cli/serve_failing.yaml";
const FAILING_MODULE = "tests/fixtures/plugins/failing_plugin.ts";

function socketPath(label: string): string {
  return `/tmp/cpex-says-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

function unixPermissions(config: string, module: string, path: string): string[] {
  return [
    `--allow-read=${config},${module},${path}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
  ];
}

const TCP = [`--allow-read=${CONFIG},${PLUGIN_MODULE}`, "--allow-net=127.0.0.1"];
const GRPC = [...TCP, `--allow-env=${GRPC_ENV_VARS.join(",")}`];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("READY names the transport and the bound port; a second server on it names the clash", async () => {
  for (const [transport, name, permissions] of [["mcp", "http", TCP], ["grpc", "grpc", GRPC]]) {
    const args = ["serve", "-c", CONFIG, "-t", transport as string, "-H", "127.0.0.1"];
    const first = spawnCli([...args, "-p", "0"], { permissions: permissions as string[] });
    try {
      const stdout = await first.waitFor("stdout", "\n");
      const match = new RegExp(`^READY ${name} 127\\.0\\.0\\.1:(\\d+)\\n$`).exec(stdout);
      assert.ok(match, `READY line: ${JSON.stringify(stdout)}`);
      const port = match[1];
      if (name === "http") {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        assert.equal(response.status, 200);
        await response.body?.cancel();
      }
      const second = await runCli([...args, "-p", port], { permissions: permissions as string[] });
      assert.equal(second.code, 1, second.stderr);
      assert.equal(second.stdout, "");
      assert.match(
        second.stderr,
        new RegExp(`address 127\\.0\\.0\\.1:${port} already in use \\(${name}\\)`),
      );
      assert.doesNotMatch(second.stderr, /No address added/);
    } finally {
      const result = await first.kill("SIGTERM");
      assert.equal(result.code, 0, result.stderr);
    }
  }
});

Deno.test("a unix socket another server listens on is refused naming the path; SIGINT stops the server", async () => {
  const path = socketPath("hup");
  const permissions = unixPermissions(CONFIG, PLUGIN_MODULE, path);
  const first = spawnCli(["serve", "-c", CONFIG, "-t", "unix", "--path", path], { permissions });
  try {
    await first.waitFor("stdout", `READY unix ${path}\n`);
    const second = await runCli(["serve", "-c", CONFIG, "-t", "unix", "--path", path], {
      permissions,
    });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`address ${path} already in use \\(unix\\)`));
  } finally {
    // (SIGHUP reloads `cpex serve` since issue 14: cli_serve_reload_test.ts.)
    const result = await first.kill("SIGINT");
    assert.equal(result.code, 0, `SIGINT stops it cleanly; stderr: ${result.stderr}`);
    assert.match(result.stderr, /cpex serve: stopped/);
  }
  assert.equal(await exists(path), false, "socket removed on SIGINT");
});

/** Calls the Failing plugin through the served socket once. */
async function failingCall(path: string): Promise<void> {
  const manager = new PluginManager(
    parseConfig({
      plugin_settings: { fail_on_plugin_error: false },
      plugins: [{
        name: "Failing",
        kind: "external",
        hooks: ["tool_pre_invoke"],
        on_error: "ignore",
        unix_socket: { path },
      }],
    }),
    { logger: { warn: () => {}, info: () => {} } },
  );
  await manager.initialize();
  try {
    await manager.invokeHook(
      "tool_pre_invoke",
      { name: "search", args: { query: "payload-secret-marker" } },
      { request_id: "req-log-1" },
    );
  } finally {
    await manager.shutdown();
  }
}

Deno.test("a failed plugin call is logged with plugin, hook and request id, without payload or message", async () => {
  const path = socketPath("log");
  const server = spawnCli(["serve", "-c", FAILING, "-t", "unix", "--path", path], {
    permissions: unixPermissions(FAILING, FAILING_MODULE, path),
  });
  let stderr: string;
  try {
    await server.waitFor("stdout", "READY");
    await failingCall(path);
    stderr = await server.waitFor("stderr", "plugin call failed");
  } finally {
    stderr = (await server.kill("SIGTERM")).stderr;
  }
  assert.match(
    stderr,
    /cpex serve: plugin call failed plugin=Failing hook=tool_pre_invoke request_id=req-log-1 /,
  );
  assert.doesNotMatch(stderr, /payload-secret-marker/);
  assert.doesNotMatch(stderr, /boom-message-marker/, "messages only at debug");
});

Deno.test("--log-format json writes JSON lines; --log-level debug adds the error message", async () => {
  const path = socketPath("json");
  const server = spawnCli(
    ["serve", "-c", FAILING, "-t", "unix", "--path", path, "--log-format", "json"],
    {
      permissions: [...unixPermissions(FAILING, FAILING_MODULE, path), "--allow-env"],
      env: { PLUGINS_LOG_LEVEL: "debug" },
    },
  );
  let stderr: string;
  try {
    await server.waitFor("stdout", "READY");
    await failingCall(path);
    await server.waitFor("stderr", "boom-message-marker");
  } finally {
    stderr = (await server.kill("SIGTERM")).stderr;
  }
  const lines = stderr.trimEnd().split("\n").map((line) => JSON.parse(line));
  const failed = lines.find((l) => l.msg === "plugin call failed");
  assert.equal(failed.level, "error");
  assert.equal(failed.plugin, "Failing");
  assert.equal(failed.hook, "tool_pre_invoke");
  assert.equal(failed.request_id, "req-log-1");
  assert.ok(lines.some((l) => l.level === "debug" && l.message?.includes("boom-message-marker")));
  assert.ok(lines.some((l) => l.level === "info" && l.msg === "stopped"));
  assert.doesNotMatch(stderr, /payload-secret-marker/);
});

Deno.test("--log-level error keeps info lines out; a bad level is a usage error", async () => {
  const path = socketPath("quiet");
  const server = spawnCli(
    ["serve", "-c", CONFIG, "-t", "unix", "--path", path, "--log-level", "error"],
    { permissions: unixPermissions(CONFIG, PLUGIN_MODULE, path) },
  );
  await server.waitFor("stdout", "READY");
  const result = await server.kill("SIGTERM");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");

  const bad = await runCli(["serve", "-c", CONFIG, "-t", "unix", "--log-level", "loud"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--log-level: log level 'loud' is not one of debug, info, warn, error/);
});
