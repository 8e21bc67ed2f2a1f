/**
 * Socket files of every server that binds a Unix socket (the raw Unix server, gRPC over
 * `unix://`, MCP Streamable HTTP over `uds`), each run as a subprocess with its exact flags:
 * the socket is never connectable by other users, not even for an instant under umask 000
 * (issue 9 item 8), and a server removes the socket path on SIGTERM only while it still names
 * the socket it created (item 9).
 *
 * @module
 */
import assert from "node:assert/strict";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { Subprocess, within } from "./helpers/subprocess.ts";

const CHILD = new URL("./helpers/uds_server_child.ts", import.meta.url).pathname;
const WATCHER = new URL("./helpers/mode_watcher.ts", import.meta.url).pathname;
const WAIT_MS = 60_000;
const KINDS = ["unix", "grpc", "mcp"] as const;
type Kind = typeof KINDS[number];

function socketPath(kind: Kind): string {
  return `/tmp/cpex-sf-${kind}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/** `deno run` arguments of the server: exactly the three socket flags (+ GRPC_* names). */
function serverArgs(kind: Kind, path: string, extra: string[] = []): string[] {
  return [
    "run",
    "--no-prompt",
    `--allow-read=${path}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
    ...(kind === "grpc" ? [GRPC_ENV_FLAG] : []),
    ...extra,
    CHILD,
    kind,
    path,
  ];
}

const UMASK_000 = ["bash", "-c", 'umask 000; exec "$0" "$@"'];

async function stop(server: Subprocess): Promise<{ code: number; stderr: string }> {
  server.kill("SIGTERM");
  const { status, stderr } = await server.finish();
  return { code: status.code, stderr };
}

for (const kind of KINDS) {
  Deno.test(`${kind}: under umask 000 with --allow-sys the socket is never seen more open than 0600`, async () => {
    const path = socketPath(kind);
    // Several start-ups under one watcher: the window, if any, is microseconds wide.
    const startups = 12;
    const done = `${path}.done`;
    const watcher = new Subprocess([
      "run",
      "--no-prompt",
      `--allow-read=${path},${done}`,
      WATCHER,
      path,
      done,
    ]);
    let server: Subprocess | undefined;
    try {
      await within(watcher.ready, "watcher READY", WAIT_MS);
      for (let i = 0; i < startups; i++) {
        server = new Subprocess(serverArgs(kind, path, ["--allow-sys"]), UMASK_000);
        await within(server.ready, "server READY", WAIT_MS);
        const { code, stderr } = await stop(server);
        assert.equal(code, 0, stderr);
      }
      await Deno.writeTextFile(done, "");
      const { stdout } = await watcher.finish();
      const modes: number[] = JSON.parse(stdout.split("\n").filter(Boolean).pop()!);
      assert.ok(modes.length > 0, "the watcher saw the socket");
      for (const mode of modes) {
        assert.equal(mode & ~0o600, 0, `mode 0${mode.toString(8)} seen during start-up`);
      }
    } finally {
      watcher.kill("SIGKILL");
      server?.kill("SIGKILL");
      await watcher.finish().catch(() => {});
      await server?.finish().catch(() => {});
      await Deno.remove(path).catch(() => {});
      await Deno.remove(done).catch(() => {});
    }
  });

  Deno.test(`${kind}: under umask 000 without --allow-sys the server refuses to serve, naming the fixes`, async () => {
    const path = socketPath(kind);
    const server = new Subprocess(serverArgs(kind, path), UMASK_000);
    try {
      const { status, stdout, stderr } = await server.finish();
      assert.equal(status.code, 1, stderr);
      assert.equal(stdout, "", "never READY");
      assert.match(stderr, /Refusing to serve on .*--allow-sys.*umask/s);
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "the socket is removed");
    } finally {
      server.kill("SIGKILL");
      await server.finish().catch(() => {});
      await Deno.remove(path).catch(() => {});
    }
  });

  Deno.test(`${kind}: SIGTERM leaves a file that replaced the socket alone`, async () => {
    const path = socketPath(kind);
    const server = new Subprocess(serverArgs(kind, path));
    try {
      await within(server.ready, "server READY", WAIT_MS);
      assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
      await Deno.remove(path);
      await Deno.writeTextFile(path, "someone else's file");
      const { code, stderr } = await stop(server);
      assert.equal(code, 0, stderr);
      assert.equal(await Deno.readTextFile(path), "someone else's file");
    } finally {
      server.kill("SIGKILL");
      await server.finish().catch(() => {});
      await Deno.remove(path).catch(() => {});
    }
  });

  Deno.test(`${kind}: SIGTERM removes its own socket`, async () => {
    const path = socketPath(kind);
    const server = new Subprocess(serverArgs(kind, path));
    try {
      await within(server.ready, "server READY", WAIT_MS);
      assert.ok((await Deno.lstat(path)).isSocket);
      const { code, stderr } = await stop(server);
      assert.equal(code, 0, stderr);
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    } finally {
      server.kill("SIGKILL");
      await server.finish().catch(() => {});
      await Deno.remove(path).catch(() => {});
    }
  });
}
