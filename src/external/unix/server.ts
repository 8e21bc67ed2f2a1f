/**
 * The raw Unix socket transport, server side: length-prefixed protobuf frames over
 * `Deno.listen({ transport: "unix" })`, one request at a time per connection, many
 * connections at once. Imports neither grpc-js nor the MCP SDK.
 *
 * @module
 */
import { closeQuietly, listenUnix, releaseListener, startLifecycle } from "../server_lifecycle.ts";
import { readEnv } from "../../config/env.ts";
import { DEFAULT_UNIX_SOCKET_PATH } from "../../config/transport_schema.ts";
import { FrameReader, MAX_FRAME_LENGTH, writeFrame } from "./frame.ts";
import { preflight, unixSocketPermissions } from "../permissions.ts";
import type { ExternalPluginServer, ServeOptions, ServerHandle } from "../server.ts";
import { dispatchFrame, replyTooLarge } from "./dispatch.ts";

/** Idle connections are closed after this long without a request (the reference's 300 s). */
export const UNIX_IDLE_TIMEOUT_MS = 300_000;

/**
 * A frame whose first byte has arrived must be complete within this many ms (default 30 s), or
 * its connection is closed: a slow sender cannot hold a connection by trickling bytes.
 */
export const UNIX_FRAME_TIMEOUT_MS = 30_000;

/**
 * Connections served at once by default; one more is closed as soon as it is accepted (see
 * {@linkcode UnixServeOptions.maxConnections}).
 */
export const UNIX_MAX_CONNECTIONS = 1024;

/** Bounds of the pause between failed accepts (out of descriptors): doubled from min to max. */
const ACCEPT_BACKOFF_MIN_MS = 10;
const ACCEPT_BACKOFF_MAX_MS = 1_000;

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
  /** Stop on SIGINT/SIGTERM/SIGHUP (default true). */
  handleSignals?: boolean;
  /** Idle timeout per connection in ms: no request for this long closes it (default 300 s). */
  idleTimeoutMs?: number;
  /** A started frame must be complete within this many ms, or its connection is closed (30 s). */
  frameTimeoutMs?: number;
  /**
   * Connections served at once (default 1024). A connection beyond it is closed at once, so
   * its client fails fast (and may retry) instead of waiting unseen in the listen backlog.
   */
  maxConnections?: number;
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
 * The connection limits in force: each option, else its environment variable
 * (`PLUGINS_UNIX_MAX_CONNECTIONS`, `PLUGINS_UNIX_IDLE_TIMEOUT` and `PLUGINS_UNIX_FRAME_TIMEOUT`,
 * the timeouts in seconds, read only where `--allow-env` grants them), else the default. A value
 * that is not a positive number is an error naming it.
 */
export function resolveUnixLimits(
  options: UnixServeOptions,
): { idleMs: number; frameMs: number; maxConnections: number } {
  return {
    idleMs: limit(
      "idleTimeoutMs",
      options.idleTimeoutMs,
      "PLUGINS_UNIX_IDLE_TIMEOUT",
      1000,
      UNIX_IDLE_TIMEOUT_MS,
    ),
    frameMs: limit(
      "frameTimeoutMs",
      options.frameTimeoutMs,
      "PLUGINS_UNIX_FRAME_TIMEOUT",
      1000,
      UNIX_FRAME_TIMEOUT_MS,
    ),
    maxConnections: Math.floor(limit(
      "maxConnections",
      options.maxConnections,
      "PLUGINS_UNIX_MAX_CONNECTIONS",
      1,
      UNIX_MAX_CONNECTIONS,
    )),
  };
}

/** One limit: the option, else the variable (times `scale`), else `fallback`; must be > 0. */
function limit(
  name: string,
  option: number | undefined,
  variable: string,
  scale: number,
  fallback: number,
): number {
  let value = fallback;
  let given: unknown = option;
  if (option !== undefined) value = option;
  else {
    const raw = readEnv(variable)?.trim();
    if (raw) {
      value = Number(raw) * scale;
      given = raw;
      name = variable;
    }
  }
  if (!(value >= 1 && Number.isFinite(value))) {
    throw new RangeError(`${name} must be a positive number, got '${given}'`);
  }
  return value;
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
  const { idleMs, frameMs, maxConnections } = resolveUnixLimits(options);
  preflight("unix socket plugin server", unixSocketPermissions(path));
  await server.initialize();
  // Born 0600 or refused (issue 9 item 8); removed on close only while still ours (item 9).
  const { listener, socket } = await listenUnix(path, "unix");
  const connections = new Map<Deno.Conn, ConnectionState>();
  let closing = false;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [conn, state] of connections) {
      // Only connections waiting for a request are idle; a running hook is not.
      if (state.busy) continue;
      if (now - state.last > idleMs) closeQuietly(conn);
      else if (!state.reader.partial) state.partialSince = 0;
      else if (state.partialSince === 0 || state.partialFrame !== state.frames) {
        // A frame has started since the last sweep: its clock starts now (item 3, slowloris).
        state.partialSince = now;
        state.partialFrame = state.frames;
      } else if (now - state.partialSince > frameMs) closeQuietly(conn);
    }
  }, Math.max(25, Math.min(idleMs / 4, frameMs / 4, 5_000)));

  const serveConnection = async (conn: Deno.Conn, state: ConnectionState): Promise<void> => {
    const reader = state.reader;
    try {
      while (true) {
        const frame = await reader.read();
        if (frame === null) break;
        state.busy = true;
        state.frames++;
        const reply = await dispatchFrame(server, frame);
        state.busy = false;
        state.last = Date.now();
        // A reply past the frame limit would close the connection unanswered (item 10).
        await writeFrame(
          conn,
          reply.byteLength <= MAX_FRAME_LENGTH ? reply : replyTooLarge(reply.byteLength),
        );
        state.last = Date.now();
      }
    } catch {
      // Oversized, truncated or unreadable input: drop this connection only.
    } finally {
      connections.delete(conn);
      closeQuietly(conn);
    }
  };

  // Waiting out a failed accept; close() cuts it short.
  let backoffTimer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      backoffTimer = setTimeout(resolve, ms);
    });

  const acceptLoop = (async () => {
    let backoff = 0;
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) return;
        // Out of descriptors (EMFILE/ENFILE) or another passing failure: the listener is still
        // good, so wait (bounded, doubling) and accept again. Item 3: this loop used to end
        // here and the server never accepted again.
        if (backoff === 0) {
          console.error(
            `Unix socket server ${path}: accept failed (${describe(error)}); retrying`,
          );
        }
        backoff = Math.min(ACCEPT_BACKOFF_MAX_MS, Math.max(ACCEPT_BACKOFF_MIN_MS, backoff * 2));
        await pause(backoff);
        continue;
      }
      backoff = 0;
      if (closing || connections.size >= maxConnections) {
        closeQuietly(conn);
        continue;
      }
      const state: ConnectionState = {
        last: Date.now(),
        busy: false,
        reader: new FrameReader(conn),
        frames: 0,
        partialSince: 0,
        partialFrame: 0,
        task: Promise.resolve(),
      };
      connections.set(conn, state);
      state.task = serveConnection(conn, state);
    }
  })();

  const { handle } = await startLifecycle({
    transport: "unix",
    address: path,
    printReady: options.printReady,
    handleSignals: options.handleSignals,
    async stop(): Promise<void> {
      closing = true;
      clearInterval(sweep);
      clearTimeout(backoffTimer);
      wake?.();
      if (await releaseListener(listener, socket)) await acceptLoop;
      const tasks = [...connections.values()].map((s) => s.task);
      for (const conn of connections.keys()) closeQuietly(conn);
      await Promise.all(tasks);
    },
  });
  return handle;
}

/** What the server tracks per connection. */
interface ConnectionState {
  /** When the last request was answered (or the connection accepted), in ms. */
  last: number;
  /** A request is being dispatched (never idle then). */
  busy: boolean;
  reader: FrameReader;
  /** Requests read so far. */
  frames: number;
  /** When the sweep first saw the current frame started (0: none), and which frame it was. */
  partialSince: number;
  partialFrame: number;
  task: Promise<void>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
