/**
 * The raw Unix socket transport, gateway side: the plugin proxy the manager loads for
 * `kind: external` with a `unix_socket:` block.
 *
 * Each call borrows its own connection (idle ones are pooled), so concurrent hook calls never
 * queue behind one socket. A connection whose call timed out, was cancelled or failed is
 * closed, never reused: a late reply can never be read as the answer to the next request (the
 * reference reads it one request late).
 *
 * @module
 */
import { PluginError } from "../../errors.ts";
import { getHookRegistry, type HookRegistry } from "../../hooks/registry.ts";
import { type HookCallOptions, Plugin } from "../../plugin.ts";
import type { PluginContext } from "../../context.ts";
import type { PluginConfig, PluginConfigInput, PluginResult } from "../../types.ts";
import { DeadlineQueue } from "../../manager/deadlines.ts";
import { allowResult, isAllowReply } from "../allow_reply.ts";
import { decodeRemoteResult } from "../decode_result.ts";
import { decodeMessage, encodeMessage } from "../codec.ts";
import { encodeFrame, FrameReader } from "../frame.ts";
import { preflight, unixSocketPermissions } from "../permissions.ts";
import {
  fromStruct,
  pluginContextToProto,
  pluginErrorFromProto,
  toStruct,
  updateContextFromProto,
} from "../struct.ts";

const INVALID_RESPONSE = "Received invalid response from Unix socket plugin server";

/** Idle connections kept per plugin; more concurrent calls open (and later close) extra ones. */
const MAX_IDLE_CONNECTIONS = 16;

class Connection {
  readonly reader: FrameReader;
  /** Why the connection was closed under a pending exchange (timeout or abort). */
  failure: unknown = undefined;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A plugin hosted by an external plugin server on a Unix socket.
 */
export class UnixSocketExternalPlugin extends Plugin {
  readonly #path: string;
  readonly #timeoutSeconds: number;
  readonly #attempts: number;
  readonly #delayMs: number;
  readonly #idle: Connection[] = [];
  readonly #busy = new Set<Connection>();
  readonly #deadlines = new DeadlineQueue();
  readonly #hooks: HookRegistry;
  #closed = false;

  /**
   * Creates the proxy from the gateway's plugin entry (its `unix_socket` block). Results are
   * decoded with `hookRegistry`: the loading manager's own (default: the shared one).
   */
  constructor(
    config: PluginConfig | PluginConfigInput,
    options: { hookRegistry?: HookRegistry } = {},
  ) {
    super(config);
    this.#hooks = options.hookRegistry ?? getHookRegistry();
    const block = this.config.unix_socket;
    if (!block) {
      throw new PluginError({
        message: `Plugin ${this.name} has no unix_socket section`,
        plugin_name: this.name,
      });
    }
    this.#path = block.path;
    this.#timeoutSeconds = block.timeout ?? 30;
    this.#attempts = block.reconnect_attempts ?? 3;
    this.#delayMs = (block.reconnect_delay ?? 0.1) * 1000;
  }

  /** The server's socket path. */
  get socketPath(): string {
    return this.#path;
  }

  /**
   * Connects and asks the server for this plugin's config (only to verify it; this transport
   * merges nothing, so hooks and mode come from the gateway's YAML).
   */
  override async initialize(): Promise<void> {
    preflight("unix socket plugin client", unixSocketPermissions(this.#path));
    this.#closed = false;
    let connection: Connection;
    try {
      connection = await this.#connect();
    } catch (error) {
      throw this.#error(`Failed to connect to ${this.#path}: ${describe(error)}`, error);
    }
    try {
      const reply = await this.#exchange(
        connection,
        encodeMessage("GetPluginConfigRequest", { name: this.name }),
        this.#timeoutSeconds,
      );
      if (reply.length === 0 || !decodeMessage("GetPluginConfigResponse", reply).found) {
        console.warn(`Plugin ${this.name} not found on the Unix socket server ${this.#path}`);
      }
      this.#release(connection);
    } catch (error) {
      connection.close();
      console.warn(`Config check of plugin ${this.name} failed: ${describe(error)}`);
    }
  }

  /** Sends every hook call to the server. */
  override async handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    if (!this.#hooks.isRegistered(hookName)) {
      throw this.#error(`No result type registered for hook: ${hookName}`);
    }
    const request = encodeMessage("InvokeHookRequest", {
      hook_type: hookName,
      plugin_name: this.name,
      payload: toStruct(payload as Record<string, unknown>),
      context: pluginContextToProto(context),
    });
    const reply = await this.#call(request, options.signal, options.deadline ?? Infinity);
    if (reply.length === 0) throw this.#error(INVALID_RESPONSE);
    if (isAllowReply(reply)) return allowResult();
    let response;
    try {
      response = decodeMessage("InvokeHookResponse", reply);
    } catch (error) {
      throw this.#error(`${INVALID_RESPONSE}: ${describe(error)}`, error);
    }
    if (response.error && response.error.message) {
      throw new PluginError(pluginErrorFromProto(response.error, this.name));
    }
    if (response.context) updateContextFromProto(context, response.context);
    if (!response.result) throw this.#error(INVALID_RESPONSE);
    try {
      const json = fromStruct(response.result);
      // Nothing to validate against the hook's schema: the executor checks the rest.
      return decodeRemoteResult(this.#hooks, hookName, json);
    } catch (error) {
      throw this.#error(`${INVALID_RESPONSE}: ${describe(error)}`, error);
    }
  }

  /** Closes every connection. */
  override shutdown(): Promise<void> {
    this.#closed = true;
    this.#deadlines.close();
    for (const c of this.#idle.splice(0)) c.close();
    for (const c of this.#busy) c.close();
    this.#busy.clear();
    return Promise.resolve();
  }

  /**
   * Sends one request; retries on connection failures, but only when the server cannot have run
   * the request (issue 9 item 10; the reference re-sends whatever happened).
   */
  async #call(request: Uint8Array, signal: AbortSignal, deadline: number): Promise<Uint8Array> {
    const frame = encodeFrame(request);
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#attempts; attempt++) {
      if (this.#closed) throw this.#error("Plugin was shut down");
      signal.throwIfAborted();
      const connection = this.#idle.pop() ?? await this.#reconnect();
      this.#busy.add(connection);
      try {
        const reply = await this.#exchange(
          connection,
          frame,
          this.#timeoutSeconds,
          signal,
          true,
          deadline,
        );
        this.#release(connection);
        return reply;
      } catch (error) {
        this.#busy.delete(connection);
        connection.close();
        if (!(error instanceof BrokenConnection)) throw error;
        // The server went away: every pooled connection is dead too.
        for (const idle of this.#idle.splice(0)) idle.close();
        if (this.#closed) throw this.#error("Plugin was shut down", error.cause);
        if (!error.retryable) {
          throw this.#error(
            `Connection lost after the request was sent (not re-sent: the server may have ` +
              `run it): ${describe(error.cause)}`,
            error.cause,
          );
        }
        lastError = error.cause;
        if (attempt < this.#attempts) await sleep(this.#delayMs * (attempt + 1));
      }
    }
    throw this.#error(
      `Request failed after ${this.#attempts + 1} attempts: ${describe(lastError)}`,
      lastError,
    );
  }

  /**
   * Writes `bytes` and reads one frame. The timeout (on the plugin's shared deadline timer)
   * and the caller's signal both end the exchange by closing the connection, which fails the
   * pending read: no timer or promise race per call.
   */
  async #exchange(
    connection: Connection,
    bytes: Uint8Array,
    timeoutSeconds: number,
    signal?: AbortSignal,
    framed = false,
    callerDeadline = Infinity,
  ): Promise<Uint8Array> {
    const out = framed ? bytes : encodeFrame(bytes);
    const ms = timeoutSeconds * 1000;
    // When the manager gives up first, its signal ends the exchange: no timer of our own.
    const deadline = callerDeadline <= performance.now() + ms
      ? null
      : this.#deadlines.add(ms, () => {
        connection.failure ??= this.#error(`Request timed out after ${timeoutSeconds}s`);
        connection.close();
      });
    const onAbort = signal
      ? () => {
        connection.failure ??= signal.reason;
        connection.close();
      }
      : undefined;
    if (onAbort) signal!.addEventListener("abort", onAbort, { once: true });
    let sent = false;
    try {
      let written = 0;
      while (written < out.length) written += await connection.conn.write(out.subarray(written));
      sent = true;
      const frame = await connection.reader.read();
      if (frame === null) throw new Error("connection closed by the server");
      return frame;
    } catch (error) {
      if (connection.failure !== undefined) throw connection.failure;
      // Safe to send again only when the server cannot have run the request: it was not fully
      // written (a server dispatches whole frames only), or the server closed the connection
      // with it unread, which the kernel reports as a reset (e.g. a pooled connection closed
      // by the server's idle timeout just as the request went out).
      throw new BrokenConnection(error, !sent || error instanceof Deno.errors.ConnectionReset);
    } finally {
      deadline?.settle();
      if (onAbort) signal!.removeEventListener("abort", onAbort);
    }
  }

  #release(connection: Connection): void {
    this.#busy.delete(connection);
    if (this.#closed || this.#idle.length >= MAX_IDLE_CONNECTIONS) connection.close();
    else this.#idle.push(connection);
  }

  async #connect(): Promise<Connection> {
    return new Connection(await Deno.connect({ transport: "unix", path: this.#path }));
  }

  /** Opens a connection, retrying with linear backoff (the server may be restarting). */
  async #reconnect(): Promise<Connection> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= Math.max(1, this.#attempts); attempt++) {
      try {
        return await this.#connect();
      } catch (error) {
        lastError = error;
        if (attempt < this.#attempts) await sleep(this.#delayMs * attempt);
      }
    }
    throw this.#error(
      `Failed to reconnect after ${Math.max(1, this.#attempts)} attempts: ${describe(lastError)}`,
      lastError,
    );
  }

  #error(message: string, cause?: unknown): PluginError {
    return new PluginError({ message, plugin_name: this.name }, { cause });
  }
}

/** An I/O failure on a connection; `retryable` when the request cannot have been run. */
class BrokenConnection extends Error {
  constructor(cause: unknown, readonly retryable: boolean) {
    super(describe(cause), { cause });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
