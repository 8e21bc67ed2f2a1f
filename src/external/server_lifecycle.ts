/**
 * What every transport server does around its own listening (issue 10 item 2): the `READY`
 * line, stopping on SIGINT/SIGTERM/SIGHUP, an idempotent `close()`, `finished`, and binding
 * with errors that name the address (issue 12). A transport supplies only how it stops.
 *
 * @module
 */
import type { ServerHandle } from "./server.ts";
import { bindPrivateSocket, type OwnedSocket } from "./socket_file.ts";

/** What {@linkcode startLifecycle} needs from a transport. */
export interface LifecycleOptions {
  /** The transport's name in the `READY` line (`unix`, `grpc`, `http`). */
  transport: string;
  /** The bound address (`host:port` or a socket path). */
  address: string;
  /** Print `READY <transport> <address>` on stdout once listening (default true). */
  printReady?: boolean;
  /** Stop on SIGINT/SIGTERM/SIGHUP (default true). */
  handleSignals?: boolean;
  /** Stops the transport; called once, by the first `close()` or signal. */
  stop(): Promise<void>;
}

/** A running lifecycle: the handle, and `end()` for a transport that stops on its own. */
export interface Lifecycle {
  /** The handle `serve()` returns. */
  handle: ServerHandle;
  /** Marks the server stopped without `close()` (stdio: stdin ended). Idempotent. */
  end(): void;
}

// SIGHUP too: a server started from a terminal that closes removes its socket (issue 12).
const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Wires signals, `close()` and `finished` around `options.stop`, then prints the `READY` line.
 * `READY` stays its first token: the reference's harnesses read only that.
 */
export async function startLifecycle(options: LifecycleOptions): Promise<Lifecycle> {
  let closing: Promise<void> | null = null;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => resolveFinished = resolve);
  const signals = options.handleSignals === false ? [] : SIGNALS;
  const onSignal = () => void handle.close();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
    resolveFinished();
  };
  const handle: ServerHandle = {
    address: options.address,
    finished,
    close: () =>
      closing ??= (async () => {
        for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
        try {
          await options.stop();
        } finally {
          end();
        }
      })(),
  };
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  if (options.printReady !== false) {
    await announceReady(`READY ${options.transport} ${options.address}`);
  }
  return { handle, end };
}

/** Writes one line on stdout, all of it (the ready line a parent process waits for). */
export async function announceReady(line = "READY"): Promise<void> {
  const bytes = new TextEncoder().encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(hostname: string, port: number): string {
  const host = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  return `${host}:${port}`;
}

/**
 * The error of a failed bind, naming the address and transport: `address 127.0.0.1:50051
 * already in use (grpc)` for a clash, `cannot bind ADDRESS (transport): cause` otherwise.
 */
export function bindError(error: unknown, address: string, transport: string): Error {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return new Deno.errors.AddrInUse(`address ${address} already in use (${transport})`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`cannot bind ${address} (${transport}): ${message}`, { cause: error });
}

/** Binds TCP; a clash or refusal is an error naming the address and transport. */
export function listenTcp(hostname: string, port: number, transport: string): Deno.Listener {
  const host = hostname.replace(/^\[|\]$/g, "");
  try {
    return Deno.listen({ hostname: host, port });
  } catch (error) {
    throw bindError(error, formatHostPort(host, port), transport);
  }
}

/**
 * Binds a Unix socket born 0600 (issue 9 item 8), removed on close only while still ours
 * (item 9). A live server on the path is an error naming it and the transport.
 */
export async function listenUnix(
  path: string,
  transport: string,
): Promise<{ listener: Deno.Listener; socket: OwnedSocket }> {
  try {
    return await bindPrivateSocket(
      path,
      () => Deno.listen({ transport: "unix", path }),
      (l) => l.close(),
    );
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw bindError(error, path, transport);
    throw error;
  }
}

/**
 * Stops listening: closes `listener` and removes its socket file while it is still ours; a path
 * that now names someone else's file is left alone and the listener only unref'd (issue 9
 * item 9). Returns whether the listener was closed.
 */
export async function releaseListener(
  listener: Deno.Listener,
  socket: OwnedSocket | null,
): Promise<boolean> {
  if (!socket) {
    closeQuietly(listener);
    return true;
  }
  return await socket.release(() => closeQuietly(listener), () => listener.unref());
}

/** Closes a listener or connection that may be closed already. */
export function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
