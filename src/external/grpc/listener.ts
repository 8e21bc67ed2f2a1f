/**
 * The gRPC server's own accept loop (issue 9 item 3): accepts on a `Deno.Listener` (TCP or
 * Unix), survives descriptor exhaustion and caps concurrent connections; each accepted
 * connection is handed on as a {@linkcode DenoConnStream}. Slow and idle connections are bounded
 * at the TLS and HTTP/2 level (`limits.ts`), where a running call can be told from a silent peer.
 *
 * - EMFILE/ENFILE (or any other accept failure while open): the loop waits (50 ms doubling to
 *   1 s) and accepts again, so it serves again as soon as descriptors are free. Deno's `node:net`
 *   loop, which grpc-js's `bindAsync` uses, stops for good instead.
 * - At the cap, a new connection is accepted and closed at once: the client fails fast, and the
 *   backlog keeps moving.
 *
 * @module
 */
import { DenoConnStream } from "./conn_stream.ts";

const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 1_000;

/**
 * A running accept loop.
 */
export interface AcceptLoop {
  /** Connections currently open. */
  readonly open: number;
  /** Connections refused at the cap so far. */
  readonly refused: number;
  /** Resolves when the loop has ended (after `stop()` and the listener's close). */
  readonly finished: Promise<void>;
  /** Stops accepting; the loop ends once the caller closes the listener. */
  stop(): void;
  /** Destroys every connection still open. */
  destroyAll(): void;
}

/**
 * Accepts on `listener` until stopped, handing each connection to `inject`; at
 * `maxConnections` open, new connections are closed on accept.
 */
export function acceptConnections(
  listener: Deno.Listener,
  inject: (stream: DenoConnStream) => void,
  maxConnections: number,
): AcceptLoop {
  const open = new Set<DenoConnStream>();
  let refused = 0;
  let stopped = false;
  let wake: (() => void) | null = null;
  let backoffTimer: ReturnType<typeof setTimeout> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      backoffTimer = setTimeout(resolve, ms);
    }).finally(() => {
      wake = null;
      clearTimeout(backoffTimer);
    });

  const loop = (async () => {
    let backoff = BACKOFF_FIRST_MS;
    while (!stopped) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        if (stopped) break;
        // EMFILE/ENFILE and the like: wait for descriptors to be freed, then accept again.
        await sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        continue;
      }
      backoff = BACKOFF_FIRST_MS;
      if (stopped || open.size >= maxConnections) {
        if (!stopped) refused++;
        try {
          conn.close();
        } catch {
          // Already closed.
        }
        continue;
      }
      if (conn.remoteAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
      const stream = new DenoConnStream(conn);
      open.add(stream);
      stream.once("close", () => open.delete(stream));
      // Errors surface through the HTTP/2 session or TLS socket; keep them off the process.
      stream.on("error", () => {});
      try {
        inject(stream);
      } catch {
        stream.destroy();
      }
    }
  })();

  return {
    get open() {
      return open.size;
    },
    get refused() {
      return refused;
    },
    finished: loop,
    stop() {
      stopped = true;
      wake?.();
    },
    destroyAll() {
      for (const stream of open) stream.destroy();
    },
  };
}
