/**
 * The raw Unix socket transport, server side: length-prefixed protobuf frames over
 * `Deno.listen({ transport: "unix" })`, one request at a time per connection, many
 * connections at once. Imports neither grpc-js nor the MCP SDK.
 *
 * @module
 */
import { announceReady, bindPrivateSocket } from "../socket_file.ts";
import { readEnv } from "../../config/env.ts";
import { DEFAULT_UNIX_SOCKET_PATH } from "../../config/transport_schema.ts";
import { FrameReader, writeFrame } from "../frame.ts";
import { preflight, unixSocketPermissions } from "../permissions.ts";
import type { ExternalPluginServer, ServeOptions, ServerHandle } from "../server.ts";
import { dispatchFrame } from "./dispatch.ts";

/** Idle connections are closed after this long without a request (the reference's 300 s). */
export const UNIX_IDLE_TIMEOUT_MS = 300_000;

/**
 * Options of {@linkcode serveUnix}.
 */
export interface UnixServeOptions {
  /** Socket path; else PLUGINS_UNIX_SOCKET_PATH, UNIX_SOCKET_PATH, `configured`, the default. */
  path?: string;
  /** The path from the YAML `unix_socket_server_settings`, if any. */
  configured?: string | null;
  /** Print `READY` on stdout once listening (default true). */
  printReady?: boolean;
  /** Stop on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
  /** Idle timeout per connection in ms (default 300 s). */
  idleTimeoutMs?: number;
}

/**
 * Resolves the socket path the way the reference's runtime does (plus the YAML setting).
 */
export function resolveSocketPath(options: UnixServeOptions): string {
  const path = options.path ?? readEnv("PLUGINS_UNIX_SOCKET_PATH") ??
    readEnv("UNIX_SOCKET_PATH") ?? options.configured ?? DEFAULT_UNIX_SOCKET_PATH;
  if (!path.startsWith("/")) {
    throw new Error(`Unix socket path must be absolute, got '${path}'`);
  }
  return path;
}

/**
 * Serves `server` on a Unix socket (mode 0600). Needs `--allow-read=PATH --allow-write=PATH
 * --allow-net=unix:PATH`; a missing flag fails before anything is bound.
 */
export async function serveUnix(
  server: ExternalPluginServer,
  options: UnixServeOptions = {},
): Promise<ServerHandle> {
  const path = resolveSocketPath(options);
  preflight("unix socket plugin server", unixSocketPermissions(path));
  await server.initialize();
  // Born 0600 or refused (issue 9 item 8); removed on close only while still ours (item 9).
  const { listener, socket } = await bindPrivateSocket(
    path,
    () => Deno.listen({ transport: "unix", path }),
    (l) => l.close(),
  );
  const idleMs = options.idleTimeoutMs ?? UNIX_IDLE_TIMEOUT_MS;
  const connections = new Map<Deno.Conn, { last: number; busy: boolean; task: Promise<void> }>();
  let closing = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => resolveFinished = resolve);

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [conn, state] of connections) {
      // Only connections waiting for a request are idle; a running hook is not.
      if (!state.busy && now - state.last > idleMs) closeQuietly(conn);
    }
  }, Math.max(50, Math.min(idleMs / 2, 10_000)));

  const serveConnection = async (conn: Deno.Conn): Promise<void> => {
    const state = connections.get(conn)!;
    const reader = new FrameReader(conn);
    try {
      while (true) {
        const frame = await reader.read();
        if (frame === null) break;
        state.busy = true;
        const reply = await dispatchFrame(server, frame);
        state.busy = false;
        state.last = Date.now();
        await writeFrame(conn, reply);
        state.last = Date.now();
      }
    } catch {
      // Oversized, truncated or unreadable input: drop this connection only.
    } finally {
      connections.delete(conn);
      closeQuietly(conn);
    }
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        if (closing) {
          closeQuietly(conn);
          continue;
        }
        const state = { last: Date.now(), busy: false, task: Promise.resolve() };
        connections.set(conn, state);
        state.task = serveConnection(conn);
      }
    } catch {
      // The listener was closed.
    }
  })();

  const onSignal = () => void handle.close();
  const signals: Deno.Signal[] = options.handleSignals === false ? [] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);

  const handle: ServerHandle = {
    address: path,
    finished,
    async close(): Promise<void> {
      if (closing) return await finished;
      closing = true;
      for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
      clearInterval(sweep);
      if (await socket.release(() => closeQuietly(listener), () => listener.unref())) {
        await acceptLoop;
      }
      const tasks = [...connections.values()].map((s) => s.task);
      for (const conn of connections.keys()) closeQuietly(conn);
      await Promise.all(tasks);
      resolveFinished();
    },
  };
  if (options.printReady !== false) {
    await announceReady();
  }
  return handle;
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}

/**
 * The `unix` entry of `ExternalPluginServer.serve()`.
 */
export function serveUnixTransport(
  server: ExternalPluginServer,
  options: ServeOptions,
): Promise<ServerHandle> {
  return serveUnix(server, {
    path: options.path,
    printReady: options.printReady,
    handleSignals: options.handleSignals,
    configured: server.config?.unix_socket_server_settings?.path,
  });
}
