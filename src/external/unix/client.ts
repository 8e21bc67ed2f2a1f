/**
 * The raw Unix socket transport, gateway side: the plugin proxy the manager loads for
 * `kind: external` with a `unix_socket:` block.
 *
 * Each call borrows its own connection (idle ones are pooled), so concurrent hook calls never
 * queue behind one socket. The frames carry no request id and the reference server answers one
 * request per connection at a time, so connections cannot be multiplexed; instead the pool is
 * adaptive: it keeps as many idle connections as the load has needed (up to 256) and closes
 * those unused for 30 s. A connection whose call timed out, was cancelled or failed is closed,
 * never reused: a late reply can never be read as the answer to the next request (the
 * reference reads it one request late). What is specific to the Unix socket lives here (the
 * socket pool, framing, whether a failed request was delivered); reconnecting, re-sending,
 * error mapping and decoding are the core's ({@linkcode RemotePlugin}).
 *
 * @module
 */
import { PluginError } from "../../errors.ts";
import type { HookRegistry } from "../../hooks/registry.ts";
import type { HookCallOptions, Plugin } from "../../plugin.ts";
import type { PluginConfig, PluginConfigInput } from "../../types.ts";
import { isAllowReply } from "../proto/allow_reply.ts";
import { decodeMessage, encodeMessage } from "../proto/codec.ts";
import { encodeFrame, FrameReader, FrameTooLargeError } from "./frame.ts";
import { preflight, unixSocketPermissions } from "../permissions.ts";
import { encodeInvokeRequest, replyFromProto } from "../proto/proto_call.ts";
import { RemoteCallError, RemotePlugin } from "../remote_plugin.ts";
import type {
  ConnectionPolicy,
  RemoteCall,
  RemoteConnection,
  RemoteReply,
} from "../remote_plugin.ts";
import { describe } from "../retry.ts";

const INVALID_RESPONSE = "Received invalid response from Unix socket plugin server";

/**
 * Most idle connections kept per plugin: enough for 256 calls in flight without opening a
 * connection per call (a fixed 16 opened 0.56-0.85 per call above 16 in flight, issue 13),
 * well under the server's 1024-connection cap. Calls beyond it open and then close extra ones.
 */
const MAX_IDLE_CONNECTIONS = 256;
/**
 * An idle connection unused this long is closed at the next release (the oldest sit at the
 * bottom of the LIFO pool), so the pool shrinks back after a burst. Below the servers' 300 s
 * idle timeout, so a pooled connection is rarely found closed by the server.
 */
const IDLE_EXPIRY_MS = 30_000;

class Socket {
  readonly reader: FrameReader;
  /** Why the socket was closed under a pending exchange (timeout or abort). */
  failure: unknown = undefined;
  /** When it last went back to the pool (`performance.now()`). */
  idleSince = 0;
  constructor(readonly conn: Deno.UnixConn) {
    this.reader = new FrameReader(conn);
  }
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * A plugin hosted by an external plugin server on a Unix socket.
 */
export class UnixSocketExternalPlugin extends RemotePlugin {
  readonly #path: string;

  /**
   * Creates the proxy from the gateway's plugin entry (its `unix_socket` block). Results are
   * decoded with `hookRegistry`: the loading manager's own (default: the shared one).
   */
  constructor(
    config: PluginConfig | PluginConfigInput,
    options: { hookRegistry?: HookRegistry } = {},
  ) {
    let path = "";
    super(config, (parsed) => {
      const connection = new UnixConnection(parsed);
      path = connection.target;
      return connection;
    }, options);
    this.#path = path;
  }

  /** The server's socket path. */
  get socketPath(): string {
    return this.#path;
  }
}

/**
 * Sockets to the plugin's server: each call borrows its own (idle ones are pooled). Only
 * `get_plugin_config` is verified at start-up; this transport merges nothing, so hooks and
 * mode come from the gateway's YAML.
 */
class UnixConnection implements RemoteConnection {
  readonly target: string;
  readonly policy: ConnectionPolicy;
  readonly connected = true; // Sockets are opened per call when the pool is empty.
  readonly #name: string;
  readonly #timeoutSeconds: number;
  /** LIFO: the most recently used on top, so the bottom ones are the first to expire. */
  readonly #idle: Socket[] = [];
  readonly #busy = new Set<Socket>();
  #closed = false;

  constructor(config: PluginConfig) {
    const block = config.unix_socket;
    // The core hands each replica its own block with one `path` (replica_config.ts).
    if (!block?.path) {
      throw new PluginError({
        message: `Plugin ${config.name} has no unix_socket section with a path`,
        plugin_name: config.name,
      });
    }
    this.#name = config.name;
    this.target = block.path;
    this.#timeoutSeconds = block.timeout ?? 30;
    const attempts = block.reconnect_attempts ?? 3;
    const delayMs = (block.reconnect_delay ?? 0.1) * 1000;
    this.policy = {
      initial: { attempts: 1, delayMs: 0 },
      initialFailure: (_, error) => `Failed to connect to ${this.target}: ${describe(error)}`,
      configTimeoutMs: Infinity, // The read timeout bounds the config check.
      remoteConfig: "verify",
      reconnect: { attempts, delayMs },
      sends: attempts + 1,
      resendDelayMs: delayMs,
      invalidReply: INVALID_RESPONSE,
    };
  }

  prepare(): Promise<void> {
    preflight("unix socket plugin client", unixSocketPermissions(this.target));
    this.#closed = false;
    return Promise.resolve();
  }

  /** Opens one socket into the pool. */
  async connect(): Promise<void> {
    this.#release(await this.#open());
  }

  async fetchConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const reply = await this.#call(encodeMessage("GetPluginConfigRequest", { name }), signal);
    if (reply.length === 0) return null;
    const response = decodeMessage("GetPluginConfigResponse", reply);
    return response.found ? {} : null;
  }

  async invoke(call: RemoteCall, options: HookCallOptions): Promise<RemoteReply> {
    const request = encodeInvokeRequest(call);
    const reply = await this.#call(request, options.signal, options.deadline ?? Infinity);
    if (reply.length === 0) throw new RemoteCallError(INVALID_RESPONSE);
    if (isAllowReply(reply)) return { allow: true };
    try {
      return replyFromProto(decodeMessage("InvokeHookResponse", reply), this.#name);
    } catch (error) {
      throw new RemoteCallError(`${INVALID_RESPONSE}: ${describe(error)}`, { cause: error });
    }
  }

  /** Asks for the plugin's config: the cheapest request every server answers. */
  async probe(signal: AbortSignal): Promise<void> {
    await this.#call(encodeMessage("GetPluginConfigRequest", { name: this.#name }), signal);
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.close();
    for (const s of this.#busy) s.close();
    this.#busy.clear();
    return Promise.resolve();
  }

  /**
   * One exchange on a borrowed socket. A socket whose exchange failed is closed, never reused:
   * a late reply can never be read as the answer to the next request (the reference reads it
   * one request late).
   */
  async #call(request: Uint8Array, signal: AbortSignal, deadline = Infinity): Promise<Uint8Array> {
    let socket = this.#idle.pop();
    if (!socket) {
      try {
        socket = await this.#open();
      } catch (error) {
        // Nothing was sent: safe to try again.
        throw new RemoteCallError(describe(error), { retryable: true, cause: error });
      }
    }
    this.#busy.add(socket);
    try {
      const reply = await this.#exchange(socket, encodeFrame(request), signal, deadline);
      this.#release(socket);
      return reply;
    } catch (error) {
      this.#busy.delete(socket);
      socket.close();
      // The server went away: every pooled socket is dead too.
      if (error instanceof RemoteCallError) {
        for (const idle of this.#idle.splice(0)) idle.close();
      }
      throw error;
    }
  }

  /**
   * Writes `frame` and reads one frame. The read timeout (`unix_socket.timeout`, only when it
   * ends before the manager's deadline) and the caller's signal both end the exchange by
   * closing the socket, which fails the pending read: no promise race per call.
   */
  async #exchange(
    socket: Socket,
    frame: Uint8Array,
    signal: AbortSignal,
    callerDeadline: number,
  ): Promise<Uint8Array> {
    const ms = this.#timeoutSeconds * 1000;
    // When the manager gives up first, its signal ends the exchange: no timer of our own.
    const timer = callerDeadline <= performance.now() + ms ? undefined : setTimeout(() => {
      socket.failure ??= new PluginError({
        message: `Request timed out after ${this.#timeoutSeconds}s`,
        plugin_name: this.#name,
      });
      socket.close();
    }, ms);
    const onAbort = () => {
      socket.failure ??= signal.reason;
      socket.close();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    let sent = false;
    try {
      let written = 0;
      while (written < frame.length) written += await socket.conn.write(frame.subarray(written));
      sent = true;
      const reply = await socket.reader.read();
      if (reply === null) throw new Error("connection closed by the server");
      return reply;
    } catch (error) {
      if (socket.failure !== undefined) throw socket.failure;
      // Safe to send again only when the server cannot have run the request: it was not fully
      // written (a server dispatches whole frames only), or the server closed the connection
      // with it unread, which the kernel reports as a reset (e.g. a pooled connection closed
      // by the server's idle timeout just as the request went out). Issue 9 item 10.
      const retryable = !sent || error instanceof Deno.errors.ConnectionReset;
      throw new RemoteCallError(
        retryable
          ? describe(error)
          : `Connection lost after the request was sent (not re-sent: the server may have ` +
            `run it): ${describe(error)}`,
        // Delivered, then no reply (not a bad one): the core may send it to another replica.
        { retryable, connectionLost: sent && !(error instanceof FrameTooLargeError), cause: error },
      );
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #release(socket: Socket): void {
    this.#busy.delete(socket);
    if (this.#closed || this.#idle.length >= MAX_IDLE_CONNECTIONS) {
      socket.close();
      return;
    }
    const now = performance.now();
    socket.idleSince = now;
    const idle = this.#idle;
    // Trimmed here rather than by a timer: no timer to leak, and under any traffic the bottom
    // (least recently used) connections expire. Without traffic the server's idle timeout
    // closes them, which the next call survives (a reset before the request was read is
    // re-sent).
    if (idle.length > 0 && now - idle[0].idleSince > IDLE_EXPIRY_MS) {
      let stale = 1;
      while (stale < idle.length && now - idle[stale].idleSince > IDLE_EXPIRY_MS) stale++;
      for (const old of idle.splice(0, stale)) old.close();
    }
    idle.push(socket);
  }

  async #open(): Promise<Socket> {
    return new Socket(await Deno.connect({ transport: "unix", path: this.target }));
  }
}

/**
 * Creates the proxy for a `kind: external` plugin with a `unix_socket:` block (the loader's
 * factory for this transport).
 */
export function createUnixSocketPlugin(
  config: PluginConfig,
  context: { hookRegistry: HookRegistry },
): Plugin {
  return new UnixSocketExternalPlugin(config, context);
}
