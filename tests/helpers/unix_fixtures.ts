/**
 * Real Unix socket servers for the gateway-side Unix client tests: our
 * {@linkcode ExternalPluginServer} served in-process on a unique `/tmp` socket, and a tiny raw
 * frame server (`Deno.listen({ transport: "unix" })`) whose replies a test scripts per request,
 * to play a misbehaving plugin server (late, garbage, truncated or missing replies). Nothing of
 * the client or the manager is mocked.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Plugin, PluginResult } from "../../mod.ts";
import { ExternalPluginServer, type ServerHandle } from "../../server.ts";
import {
  decodeMessage,
  encodeMessage,
  type InvokeHookRequest,
} from "../../src/external/proto/codec.ts";
import { encodeFrame, FrameReader } from "../../src/external/unix/frame.ts";
import { fromStruct, pluginContextFromProto, toStruct } from "../../src/external/proto/struct.ts";
import type { PluginContextData } from "../../src/types.ts";

/** Every wait in the Unix client tests is bounded by this. */
export const WAIT_MS = 10_000;

/**
 * A unique socket path under /tmp (short: socket paths are limited to ~100 bytes).
 *
 * @example
 * ```ts
 * console.log(socketPath("x").startsWith("/tmp/cpex-uc-x-")); // true
 * ```
 */
export function socketPath(label: string): string {
  return `/tmp/cpex-uc-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/**
 * Resolves like `promise`, or rejects after `ms` naming `what`; the timer is always cleared.
 *
 * @example
 * ```ts
 * await within(Promise.resolve(1), "one");
 * ```
 */
export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` every 5 ms until it holds; fails after `ms` naming `what`.
 *
 * @example
 * ```ts
 * await until(() => true, "always");
 * ```
 */
export async function until(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Our plugin server, served on a Unix socket in this process.
 *
 * @example
 * ```ts
 * const s = await startPluginServer([], socketPath("doc"));
 * await s.close();
 * ```
 */
export interface RunningPluginServer {
  /** The socket path. */
  readonly path: string;
  /** The server (its plugins stay initialized across `stop()`/`start()`). */
  readonly server: ExternalPluginServer;
  /** Stops listening (closes every connection, removes the socket); plugins stay up. */
  stop(): Promise<void>;
  /** Listens again on the same path. */
  start(): Promise<void>;
  /** Stops listening and shuts the plugins down. */
  close(): Promise<void>;
}

/**
 * Hosts `plugins` in an {@linkcode ExternalPluginServer} served on `path`.
 *
 * @example
 * ```ts
 * const s = await startPluginServer([], socketPath("doc"));
 * await s.stop();
 * await s.start();
 * await s.close();
 * ```
 */
export async function startPluginServer(
  plugins: Plugin[],
  path: string,
): Promise<RunningPluginServer> {
  const server = new ExternalPluginServer({ plugins, manager: { logger: { warn: () => {} } } });
  let handle: ServerHandle | null = await server.serve({
    transport: "unix",
    path,
    printReady: false,
  });
  return {
    path,
    server,
    async stop() {
      const h = handle;
      handle = null;
      await h?.close();
    },
    async start() {
      assert.equal(handle, null, "the server is already listening");
      handle = await server.serve({ transport: "unix", path, printReady: false });
    },
    async close() {
      const h = handle;
      handle = null;
      await h?.close();
      await server.shutdown();
      await Deno.remove(path).catch(() => {});
    },
  };
}

/**
 * One `InvokeHookRequest` seen by a {@linkcode RawUnixServer}, decoded.
 *
 * @example
 * ```ts
 * const seen = (r: RawRequest) => r.payload.name;
 * ```
 */
export interface RawRequest {
  /** Which connection (1-based, in accept order) carried it. */
  connection: number;
  /** The hook. */
  hook_type: string;
  /** The plugin name the gateway sent. */
  plugin_name: string;
  /** The payload, as JSON. */
  // deno-lint-ignore no-explicit-any
  payload: Record<string, any>;
  /** The plugin context, as JSON. */
  context: PluginContextData;
}

/**
 * The connection a {@linkcode RawHandler} answers on.
 *
 * @example
 * ```ts
 * const h: RawHandler = (req, peer) => peer.reply(allowReply(req));
 * ```
 */
export interface RawPeer {
  /** The connection number (1-based). */
  readonly id: number;
  /** Aborted when the raw server closes (handlers that wait must honour it). */
  readonly signal: AbortSignal;
  /** Writes one frame carrying `message`; a write to a closed peer is ignored. */
  reply(message: Uint8Array): Promise<void>;
  /** Writes raw bytes (no framing); a write to a closed peer is ignored. */
  writeRaw(bytes: Uint8Array): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/**
 * What a {@linkcode RawUnixServer} does with one hook request; returning without a reply leaves
 * the request unanswered (the connection keeps reading).
 *
 * @example
 * ```ts
 * const never: RawHandler = () => {};
 * ```
 */
export type RawHandler = (request: RawRequest, peer: RawPeer) => void | Promise<void>;

/**
 * An `InvokeHookResponse` for `request` carrying `result` (default: allow, with the payload's
 * `name` echoed back as `answered:<name>` in `modified_payload`, so every answer is distinct).
 *
 * @example
 * ```ts
 * declare const req: RawRequest;
 * const bytes = allowReply(req);
 * ```
 */
export function allowReply(request: RawRequest, result?: PluginResult): Uint8Array {
  return encodeMessage("InvokeHookResponse", {
    plugin_name: request.plugin_name,
    result: toStruct(
      (result ?? {
        continue_processing: true,
        modified_payload: { name: `answered:${request.payload.name}`, args: {} },
      }) as Record<string, unknown>,
    ),
  });
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}

/**
 * A scriptable raw frame server: answers config queries with `found: true` and hands every
 * `InvokeHookRequest` to the handler. Records requests and which connections the peer closed.
 *
 * @example
 * ```ts
 * const raw = RawUnixServer.listen(socketPath("doc"), (req, peer) => peer.reply(allowReply(req)));
 * await raw.close();
 * ```
 */
export class RawUnixServer {
  /** Every hook request, in arrival order. */
  readonly requests: RawRequest[] = [];
  /** Connections whose serving loop ended (peer closed, or the handler closed it). */
  readonly closed: Set<number> = new Set();
  /** Number of config queries answered. */
  configQueries = 0;
  /** Connections accepted so far. */
  opened = 0;
  readonly #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  readonly #handler: RawHandler;
  readonly #conns = new Map<number, Deno.UnixConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #accepting: Promise<void>;

  private constructor(readonly path: string, handler: RawHandler) {
    this.#handler = handler;
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#accepting = this.#accept();
  }

  /** Listens on `path` (which must not exist). */
  static listen(path: string, handler: RawHandler): RawUnixServer {
    return new RawUnixServer(path, handler);
  }

  /** Connections currently open on the server side. */
  get openCount(): number {
    return this.#conns.size;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const id = ++this.opened;
        this.#conns.set(id, conn);
        const task = this.#serve(id, conn);
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
      }
    } catch {
      // Listener closed.
    }
  }

  async #serve(id: number, conn: Deno.UnixConn): Promise<void> {
    const reader = new FrameReader(conn);
    const write = async (bytes: Uint8Array) => {
      try {
        let written = 0;
        while (written < bytes.length) written += await conn.write(bytes.subarray(written));
      } catch {
        // The client went away.
      }
    };
    const peer: RawPeer = {
      id,
      signal: this.#abort.signal,
      reply: (message) => write(encodeFrame(message)),
      writeRaw: write,
      close: () => closeQuietly(conn),
    };
    try {
      while (true) {
        const frame = await reader.read();
        if (frame === null) break;
        let invoke: InvokeHookRequest | null = null;
        try {
          invoke = decodeMessage("InvokeHookRequest", frame);
        } catch {
          invoke = null;
        }
        if (invoke?.hook_type && invoke.plugin_name) {
          const request: RawRequest = {
            connection: id,
            hook_type: invoke.hook_type,
            plugin_name: invoke.plugin_name,
            payload: fromStruct(invoke.payload),
            context: pluginContextFromProto(invoke.context!),
          };
          this.requests.push(request);
          await this.#handler(request, peer);
        } else {
          const query = decodeMessage("GetPluginConfigRequest", frame);
          this.configQueries++;
          await peer.reply(
            encodeMessage("GetPluginConfigResponse", {
              found: true,
              config: toStruct({ name: query.name, kind: "raw", hooks: [] }),
            }),
          );
        }
      }
    } catch {
      // Closed under us (by the handler, the client or close()).
    } finally {
      this.#conns.delete(id);
      this.closed.add(id);
      closeQuietly(conn);
    }
  }

  /** Stops listening, aborts waiting handlers, closes every connection, removes the socket. */
  async close(): Promise<void> {
    this.#abort.abort(new Error("raw server closed"));
    closeQuietly(this.#listener);
    await this.#accepting;
    for (const conn of this.#conns.values()) closeQuietly(conn);
    await within(Promise.all([...this.#tasks]), "raw server connections to finish");
    await Deno.remove(this.path).catch(() => {});
  }
}
