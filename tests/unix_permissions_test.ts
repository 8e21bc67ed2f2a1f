/**
 * Scoped permissions of the raw Unix socket transport (design decision 7,
 * spec/deno-tls-permissions.md rows 4b and 5b): `examples/unix_server.ts` runs as a subprocess
 * with exactly `--allow-read=PATH --allow-write=PATH --allow-net=unix:PATH` and nothing else,
 * serves real frames, stops cleanly on SIGTERM; without any one of the three flags it exits
 * non-zero naming that flag. Its module graph holds neither grpc-js nor the MCP SDK.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Subprocess, within } from "./helpers/subprocess.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { FrameReader, writeFrame } from "../src/external/unix/frame.ts";
import { fromStruct, toStruct } from "../src/external/proto/struct.ts";

const EXAMPLE = new URL("../examples/unix_server.ts", import.meta.url);
const ROOT = new URL("../", import.meta.url);
/** Bound on every wait for the subprocess (start-up includes a possible type check). */
const WAIT_MS = 60_000;

function socketPath(label: string): string {
  return `/tmp/cpex-up-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/** The exact flags the Unix server needs for `path` (the `example:unix` task uses these). */
function unixFlags(path: string): { read: string; write: string; net: string } {
  return {
    read: `--allow-read=${path}`,
    write: `--allow-write=${path}`,
    net: `--allow-net=unix:${path}`,
  };
}

/** The example server with `flags`, serving `path`. */
function startServer(flags: string[], path: string): Subprocess {
  return new Subprocess(["run", "--no-prompt", ...flags, EXAMPLE.pathname, path]);
}

async function call(conn: Deno.Conn, reader: FrameReader, request: Uint8Array) {
  await writeFrame(conn, request);
  const reply = await within(reader.read(), "reply", 10_000);
  assert.ok(reply !== null, "the server closed the connection");
  return reply;
}

Deno.test("Unix example server runs with exactly the three socket flags and stops on SIGTERM", async () => {
  const path = socketPath("ok");
  const f = unixFlags(path);
  const server = startServer([f.read, f.write, f.net], path);
  try {
    await within(server.ready, "READY", WAIT_MS);
    const info = await Deno.lstat(path);
    assert.ok(info.isSocket);
    assert.equal(info.mode! & 0o777, 0o600);

    const conn = await Deno.connect({ transport: "unix", path });
    const reader = new FrameReader(conn);
    try {
      const invoke = (query: string) =>
        encodeMessage("InvokeHookRequest", {
          hook_type: "tool_pre_invoke",
          plugin_name: "ArgumentValidator",
          payload: toStruct({ name: "search", args: { query } }),
          context: { global_context: { request_id: "req-1", server_id: "srv-1" } },
        });

      const allowed = decodeMessage("InvokeHookResponse", await call(conn, reader, invoke("ok")));
      assert.equal(allowed.plugin_name, "ArgumentValidator");
      assert.equal(allowed.error, null);
      assert.equal(fromStruct(allowed.result).continue_processing, true);

      const blocked = decodeMessage(
        "InvokeHookResponse",
        await call(conn, reader, invoke("x".repeat(101))),
      );
      const result = fromStruct(blocked.result);
      assert.equal(result.continue_processing, false);
      assert.deepEqual(result.violation, {
        reason: "Argument too long",
        description: "Argument 'query' of tool 'search' is 101 characters long; the limit is 100",
        code: "ARGUMENT_TOO_LONG",
        details: { argument: "query", length: 101, max_length: 100 },
        mcp_error_code: null,
        http_status_code: null,
        http_headers: null,
      });

      const config = decodeMessage(
        "GetPluginConfigResponse",
        await call(
          conn,
          reader,
          encodeMessage("GetPluginConfigRequest", { name: "argumentvalidator" }),
        ),
      );
      assert.equal(config.found, true);
      const dumped = fromStruct(config.config);
      assert.equal(dumped.name, "ArgumentValidator");
      assert.deepEqual(dumped.config, { max_length: 100 });

      const all = decodeMessage(
        "GetPluginConfigsResponse",
        await call(conn, reader, new Uint8Array(0)),
      );
      assert.deepEqual(all.configs?.map((c) => fromStruct(c).name), ["ArgumentValidator"]);
    } finally {
      conn.close();
    }

    server.kill("SIGTERM");
    const { status, stdout, stderr } = await server.finish();
    assert.equal(status.code, 0, `exit ${status.code}; stderr: ${stderr}`);
    assert.equal(status.signal, null);
    assert.equal(stdout, `READY unix ${path}\n`);
    assert.equal(stderr, "", "no permission prompt, warning or error");
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "socket file removed on SIGTERM");
  } finally {
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("Unix example server stops cleanly on SIGINT too", async () => {
  const path = socketPath("int");
  const f = unixFlags(path);
  const server = startServer([f.read, f.write, f.net], path);
  try {
    await within(server.ready, "READY", WAIT_MS);
    server.kill("SIGINT");
    const { status, stderr } = await server.finish();
    assert.equal(status.code, 0, stderr);
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
    await Deno.remove(path).catch(() => {});
  }
});

for (const missing of ["read", "write", "net"] as const) {
  Deno.test(`Unix example server without ${unixFlags("PATH")[missing]} exits naming that flag`, async () => {
    const path = socketPath(`no-${missing}`);
    const f = unixFlags(path);
    const flags = (["read", "write", "net"] as const).filter((k) => k !== missing).map((k) => f[k]);
    const server = startServer(flags, path);
    try {
      const { status, stdout, stderr } = await server.finish();
      assert.notEqual(status.code, 0);
      assert.equal(stdout, "", "never printed READY");
      assert.match(stderr, /PermissionPreflightError/);
      assert.ok(stderr.includes(f[missing]), `stderr names ${f[missing]}: ${stderr}`);
      for (const granted of flags) {
        assert.ok(!stderr.includes(granted), `stderr does not ask for granted ${granted}`);
      }
      assert.doesNotMatch(stderr, /NotCapable|Uncaught/, "failed in the preflight, not later");
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "nothing was bound");
    } finally {
      server.kill("SIGKILL");
      await server.finish().catch(() => {});
      await Deno.remove(path).catch(() => {});
    }
  });
}

/** A module of `deno info --json`. */
interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

Deno.test("Unix example server's module graph holds neither grpc-js nor the MCP SDK", async () => {
  const output = await within(
    new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", EXAMPLE.pathname],
      cwd: ROOT.pathname,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output(),
    "deno info",
    WAIT_MS,
  );
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const unixDir = new URL("../src/external/unix/", import.meta.url).href;
  // What the process loads: static imports, plus the dynamic import of the Unix transport
  // module itself (other transports are dynamic imports that a Unix server never runs).
  const loaded = new Set<string>();
  const queue = [...info.roots];
  while (queue.length) {
    const next = queue.pop()!;
    const key = info.redirects[next] ?? next;
    if (loaded.has(key)) continue;
    loaded.add(key);
    for (const dep of modules.get(key)?.dependencies ?? []) {
      const target = dep.code?.specifier;
      if (!target) continue;
      if (dep.isDynamic && !target.startsWith(unixDir)) continue;
      queue.push(target);
    }
  }
  const all = [...loaded];
  assert.ok(all.some((s) => s.endsWith("/src/external/unix/server.ts")), "graph walk reached unix");
  assert.ok(all.some((s) => s.includes("protobufjs")), "graph walk reached npm packages");
  const heavy = all.filter((s) =>
    /@grpc\/grpc-js|@grpc\/proto-loader|@modelcontextprotocol/.test(s)
  );
  assert.deepEqual(heavy, []);
});
