/**
 * Scoped permissions of the MCP transports: the example server runs with nothing but
 * `--allow-net=127.0.0.1:PORT` (HTTP) or no flag at all (STDIO) and serves our gateway; each
 * left-out flag makes start-up fail with a message naming exactly that flag.
 *
 * @module
 */
import assert from "node:assert/strict";
import { gateway, httpEntry } from "./helpers/mcp_fixtures.ts";
import { createTestPki } from "./helpers/tls_pki.ts";

const EXAMPLE = new URL("../examples/mcp_server.ts", import.meta.url).pathname;
const CHILD = new URL("./helpers/mcp_perm_child.ts", import.meta.url).pathname;
const PAYLOAD = { name: "search", args: { query: "x".repeat(150) } };

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(flags: string[], args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("example HTTP server runs with only --allow-net=127.0.0.1:PORT and serves our gateway", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", `--allow-net=127.0.0.1:${port}`, EXAMPLE, "http", String(port)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const { value } = await reader.read();
    assert.equal(value?.trim(), `READY http 127.0.0.1:${port}`);
    const m = await gateway([httpEntry("ArgumentValidator", `http://localhost:${port}/mcp`)]);
    try {
      const [blocked] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
      assert.equal(blocked.violation?.code, "ARGUMENT_TOO_LONG");
      const [allowed] = await m.invokeHook("tool_pre_invoke", { name: "s", args: { q: "ok" } }, {
        request_id: "r2",
      });
      assert.equal(allowed.continue_processing, true);
    } finally {
      await m.shutdown();
    }
  } finally {
    child.kill("SIGTERM");
    await reader.cancel();
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    assert.equal(status.code, 0, stderr);
    assert.equal(stderr, "", "no permission prompts or errors");
  }
});

Deno.test("example STDIO server runs with no permission flag at all", async () => {
  const m = await gateway([{
    name: "ArgumentValidator",
    kind: "external",
    mcp: { proto: "STDIO", cmd: [Deno.execPath(), "run", "--no-prompt", EXAMPLE, "stdio"] },
  } as never]);
  try {
    assert.equal(m.pluginCount, 1);
    const [blocked] = await m.invokeHook("tool_pre_invoke", PAYLOAD, { request_id: "r" });
    assert.equal(blocked.violation?.code, "ARGUMENT_TOO_LONG");
  } finally {
    await m.shutdown();
  }
});

Deno.test("example HTTP server without its net flag names --allow-net=127.0.0.1:PORT", async () => {
  const port = freePort();
  const { code, stderr } = await run([], [EXAMPLE, "http", String(port)]);
  assert.equal(code, 1);
  assert.match(stderr, /PermissionPreflightError/);
  assert.ok(stderr.includes(`--allow-net=127.0.0.1:${port}`), stderr);
});

for (const missing of ["read", "write", "net"] as const) {
  Deno.test(`MCP server on a Unix socket without --allow-${missing} names that flag`, async () => {
    const path = `/tmp/cpex-mcpp-${crypto.randomUUID().slice(0, 8)}.sock`;
    const all = {
      read: `--allow-read=${path}`,
      write: `--allow-write=${path}`,
      net: `--allow-net=unix:${path}`,
    };
    const flags = Object.entries(all).filter(([k]) => k !== missing).map(([, f]) => f);
    const { code, stderr } = await run(flags, [CHILD, "uds-server", path]);
    assert.equal(code, 1);
    assert.ok(stderr.includes(all[missing]), stderr);
    for (const granted of flags) assert.ok(!stderr.includes(granted), stderr);
    const ok = await run(Object.values(all), [CHILD, "uds-server", path]);
    assert.equal(ok.code, 0, ok.stderr);
  });
}

Deno.test("MCP HTTPS server without read access to its key names --allow-read=KEY", async () => {
  await using pki = await createTestPki();
  const port = freePort();
  const args = [CHILD, "tls-server", pki.serverCert, pki.serverKey, String(port)];
  const net = `--allow-net=127.0.0.1:${port}`;
  const { code, stderr } = await run([net, `--allow-read=${pki.serverCert}`], args);
  assert.equal(code, 1);
  assert.ok(stderr.includes(`--allow-read=${pki.serverKey}`), stderr);
  const ok = await run([net, `--allow-read=${pki.serverCert},${pki.serverKey}`], args);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("MCP HTTP client without net access names --allow-net=HOST:PORT", async () => {
  const { code, stderr } = await run([], [CHILD, "http-client", "http://localhost:8123/mcp"]);
  assert.equal(code, 1);
  assert.ok(stderr.includes("--allow-net=localhost:8123"), stderr);
});

Deno.test("MCP STDIO client without run access names --allow-run=COMMAND", async () => {
  const { code, stderr } = await run([], [CHILD, "stdio-client", "my-plugin-server"]);
  assert.equal(code, 1);
  assert.ok(stderr.includes("--allow-run=my-plugin-server"), stderr);
});
