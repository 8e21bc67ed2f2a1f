/**
 * The gateway-side core of every external plugin (issue 10 item 1), split from its transports
 * as the MCP TypeScript SDK splits `Protocol` from `Transport`. {@linkcode RemotePlugin} owns
 * what every transport used to write again: connecting and reconnecting (through
 * {@linkcode retry}), the call deadline (the manager's `AbortSignal`, passed down), mapping
 * failures to `PluginError`, decoding and validating results with the manager's own hook
 * registry (with the allow-reply fast path), writing a returned context back, and fetching the
 * remote config and merging it under the local entry. A transport supplies only a
 * {@linkcode RemoteConnection}.
 *
 * @module
 */
import { errorRepr, PluginError } from "../errors.ts";
import { getHookRegistry, type HookRegistry } from "../hooks/registry.ts";
import { type HookCallOptions, Plugin } from "../plugin.ts";
import type { PluginContext } from "../context.ts";
import type { PluginConfig, PluginConfigInput, PluginErrorModel, PluginResult } from "../types.ts";
import { allowResult, decodeRemoteResult } from "./decode_result.ts";
import { mergeRemoteConfig } from "./merge.ts";
import { backoffMs, describe, RetriesExhausted, retry, type RetryPolicy, sleep } from "./retry.ts";
import { isRecord } from "./is_record.ts";
import {
  extractTraceContext,
  injectTraceContext,
  runInContext,
} from "../observability/trace_context.ts";

/**
 * A failure a connection reports. `retryable` is true only when the server cannot have run the
 * request (it was not delivered), so the core may reconnect and send it again (issue 9 item
 * 10: never re-send a delivered request).
 */
export class RemoteCallError extends Error {
  /** True when reconnecting and sending again is safe. */
  readonly retryable: boolean;
  /** Structured details for the `PluginError` (e.g. the gRPC status). */
  readonly details?: Record<string, unknown>;

  /** Creates the error. */
  constructor(
    message: string,
    options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "RemoteCallError";
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** What a returned context changes; absent parts are left alone. */
export interface ContextUpdate {
  /** The plugin's local state. */
  state?: Record<string, unknown>;
  /** The plugin's local metadata. */
  metadata?: Record<string, unknown>;
  /** The global state. */
  globalState?: Record<string, unknown>;
}

/** An error object as a server sends it (wire.md §1.6). */
export interface WireError {
  /** The message (anything else: the error is described as JSON). */
  message?: unknown;
  /** The plugin that failed (default: this plugin). */
  plugin_name?: unknown;
  /** The error code. */
  code?: unknown;
  /** Structured details. */
  details?: unknown;
  /** The MCP error code. */
  mcp_error_code?: unknown;
}

/** A server's answer to a hook call, as a connection decodes it from its wire. */
export type RemoteReply =
  | { readonly allow: true }
  | {
    readonly allow?: false;
    readonly result?: Record<string, unknown> | null;
    readonly error?: WireError | null;
    readonly context?: ContextUpdate | null;
  };

/** One hook call to send. */
export interface RemoteCall {
  /** The hook. */
  readonly hookName: string;
  /** The plugin's name on the server. */
  readonly pluginName: string;
  /** The payload. */
  readonly payload: unknown;
  /** The caller's context (sent; written back by the core). */
  readonly context: PluginContext;
  /**
   * W3C trace context headers for the server (`traceparent`, `tracestate`), null when the call
   * is not traced; a transport with a place for them sends them (gRPC metadata, MCP `_meta`).
   */
  readonly traceContext: Readonly<Record<string, string>> | null;
}

/** How the core drives a connection. */
export interface ConnectionPolicy {
  /** Tries of connect + config fetch at `initialize()`. */
  readonly initial: RetryPolicy;
  /** The message when the initial tries ran out. */
  initialFailure(attempts: number, error: unknown): string;
  /** Deadline of one config fetch, in ms (`Infinity`: the transport bounds it itself). */
  readonly configTimeoutMs: number;
  /**
   * `merge`: the remote config is merged under the local entry (wire.md §1.5);
   * `verify`: it is only checked, a failure is a warning (the Unix transport).
   */
  readonly remoteConfig: "merge" | "verify";
  /** Reconnect tries after a retryable failure (null: never reconnect). */
  readonly reconnect: RetryPolicy | null;
  /** Sends of one request while its failures are retryable, the first included. */
  readonly sends: number;
  /** Sleep after the first retryable failure (doubling), in ms. */
  readonly resendDelayMs: number;
  /** The message of a reply without result or error. */
  readonly invalidReply: string;
}

/**
 * What a transport supplies: one logical connection to a plugin server. Failures are thrown;
 * the core maps them to `PluginError` ({@linkcode RemoteCallError} carries `retryable`).
 */
export interface RemoteConnection {
  /** What the connection reaches (an address, a URL, a command line), for messages. */
  readonly target: string;
  /** How the core drives it. */
  readonly policy: ConnectionPolicy;
  /** False when the core must `connect()` before the next call. */
  readonly connected: boolean;
  /** Checks permissions and loads what the transport needs, once per `initialize()`. */
  prepare?(): Promise<void>;
  /** One connection try (the core retries). */
  connect(): Promise<void>;
  /** The server's config entry for `name`; null when the server does not know it. */
  fetchConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null>;
  /** Sends one hook call; `options.signal` is the call's deadline. */
  invoke(call: RemoteCall, options: HookCallOptions): Promise<RemoteReply>;
  /** A cheap health check (resolves when the server answers). */
  probe(signal: AbortSignal): Promise<void>;
  /** Releases everything (idempotent). */
  close(): Promise<void>;
}

/**
 * A plugin hosted by an external plugin server: the transport-independent proxy.
 */
export class RemotePlugin extends Plugin {
  readonly #local: PluginConfig;
  readonly #hooks: HookRegistry;
  readonly #connection: RemoteConnection;
  #reconnecting: Promise<void> | null = null;
  #closed = false;

  /**
   * Creates the proxy; `open` builds the transport's connection from the parsed entry.
   * Results are decoded with `options.hookRegistry`: the loading manager's own.
   */
  constructor(
    config: PluginConfig | PluginConfigInput,
    open: (config: PluginConfig) => RemoteConnection,
    options: { hookRegistry?: HookRegistry } = {},
  ) {
    super(config);
    this.#local = this.config;
    this.#hooks = options.hookRegistry ?? getHookRegistry();
    this.#connection = open(this.config);
  }

  /** What the connection reaches. */
  get target(): string {
    return this.#connection.target;
  }

  /** Connects and fetches the remote config (merged or verified, per the transport). */
  override async initialize(): Promise<void> {
    const connection = this.#connection;
    const policy = connection.policy;
    try {
      await connection.prepare?.();
    } catch (error) {
      // A permission preflight error stays as it is; the transport's own become PluginError.
      throw error instanceof RemoteCallError ? this.#toPluginError(error) : error;
    }
    this.#closed = false;
    try {
      if (policy.remoteConfig === "verify") {
        await this.#connectInitially(() => connection.connect());
        try {
          const remote = await this.#fetchConfig();
          if (!remote) console.warn(`Plugin ${this.name} not found on the server ${this.target}`);
        } catch (error) {
          console.warn(`Config check of plugin ${this.name} failed: ${describe(error)}`);
        }
      } else {
        const remote = await this.#connectInitially(async () => {
          await connection.connect();
          return await this.#fetchConfig();
        });
        if (!remote) {
          throw this.#error(`Unable to retrieve configuration for external plugin ${this.name}`);
        }
        try {
          this.config = mergeRemoteConfig(this.#local, remote);
        } catch (error) {
          throw this.#error(
            `Failed to initialize external plugin ${this.name}: ${describe(error)}`,
            error,
          );
        }
      }
    } catch (error) {
      await connection.close();
      throw this.#toPluginError(error);
    }
  }

  /** Asks the server whether it is healthy (for health checks). */
  probe(signal: AbortSignal): Promise<void> {
    return this.#connection.probe(signal);
  }

  /** Sends the hook call, decodes the answer and writes its context back. */
  override async handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    if (!this.#hooks.isRegistered(hookName)) {
      throw this.#error(`No result type registered for hook: ${hookName}`);
    }
    // The plugin span's trace context, else the caller's active OpenTelemetry span's (issue 15).
    const spanContext = options.traceContext;
    const traceContext = spanContext ?? injectTraceContext();
    const send = () =>
      this.#send({ hookName, pluginName: this.name, payload, context, traceContext }, options);
    // The plugin span is made active for the send, so spans the runtime makes for the request
    // (Deno's HTTP client spans; their `traceparent` header) belong to the same trace.
    const active = spanContext ? extractTraceContext(spanContext) : null;
    const reply = active === null ? await send() : await runInContext(active, send);
    if (reply.allow) return allowResult();
    if (reply.error) throw new PluginError(errorModel(reply.error, this.name));
    if (reply.context) writeBackContext(context, reply.context);
    const invalid = this.#connection.policy.invalidReply;
    if (!reply.result) throw this.#error(invalid);
    try {
      return decodeRemoteResult(this.#hooks, hookName, reply.result);
    } catch (error) {
      throw this.#error(`${invalid}: ${describe(error)}`, error);
    }
  }

  /** Closes the connection (idempotent). */
  override async shutdown(): Promise<void> {
    this.#closed = true;
    await this.#reconnecting?.catch(() => {});
    await this.#connection.close();
  }

  async #connectInitially<T>(attempt: () => Promise<T>): Promise<T> {
    const policy = this.#connection.policy;
    try {
      return await retry(attempt, policy.initial, { shouldRetry: isRetryable });
    } catch (error) {
      if (!(error instanceof RetriesExhausted)) throw error;
      throw this.#error(policy.initialFailure(error.attempts, error.cause), error.cause);
    }
  }

  async #fetchConfig(): Promise<Record<string, unknown> | null> {
    const controller = new AbortController();
    const ms = this.#connection.policy.configTimeoutMs;
    const timer = Number.isFinite(ms)
      ? setTimeout(() => controller.abort(new Error(`config fetch timed out after ${ms} ms`)), ms)
      : undefined;
    try {
      return await this.#connection.fetchConfig(this.name, controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends one call; on a retryable failure (the request was not delivered) reconnects and
   * sends again, up to the policy's count.
   */
  async #send(call: RemoteCall, options: HookCallOptions): Promise<RemoteReply> {
    const connection = this.#connection;
    const policy = connection.policy;
    for (let attempt = 1;; attempt++) {
      if (this.#closed) throw this.#error("Plugin was shut down");
      options.signal.throwIfAborted();
      if (!connection.connected) await this.#reconnect();
      try {
        return await connection.invoke(call, options);
      } catch (error) {
        if (options.signal.aborted) throw error;
        if (this.#closed) throw this.#error("Plugin was shut down", error);
        if (!isRetryable(error) || !(error instanceof RemoteCallError) || !policy.reconnect) {
          throw this.#toPluginError(error);
        }
        if (attempt >= policy.sends) {
          throw this.#error(
            `Request failed after ${policy.sends} attempts: ${describe(error)}`,
            error.cause,
          );
        }
        if (policy.resendDelayMs > 0) {
          await sleep(
            backoffMs({ attempts: policy.sends, delayMs: policy.resendDelayMs }, attempt),
          );
        }
        await this.#reconnect();
      }
    }
  }

  /** Reconnects; concurrent callers share one reconnect. */
  #reconnect(): Promise<void> {
    const policy = this.#connection.policy.reconnect ?? { attempts: 1, delayMs: 0 };
    return this.#reconnecting ??= (async () => {
      try {
        await retry(() => this.#connection.connect(), policy, { stopped: () => this.#closed });
      } catch (error) {
        if (!(error instanceof RetriesExhausted)) throw error;
        throw this.#error(
          `Failed to reconnect after ${error.attempts} attempts: ${describe(error.cause)}`,
          error.cause,
        );
      }
      if (this.#closed) {
        await this.#connection.close();
        throw this.#error("Plugin was shut down");
      }
    })().finally(() => this.#reconnecting = null);
  }

  #toPluginError(error: unknown): PluginError {
    if (error instanceof PluginError) return error;
    if (error instanceof RemoteCallError) {
      const model: PluginErrorModel = { message: error.message, plugin_name: this.name };
      if (error.details) model.details = error.details;
      return new PluginError(model, { cause: error.cause ?? error });
    }
    return this.#error(errorRepr(error), error);
  }

  #error(message: string, cause?: unknown): PluginError {
    return new PluginError({ message, plugin_name: this.name }, { cause });
  }
}

/** Failures other than a non-retryable {@linkcode RemoteCallError} may be tried again. */
function isRetryable(error: unknown): boolean {
  return !(error instanceof RemoteCallError) || error.retryable;
}

/** A server's error object as a {@linkcode PluginErrorModel} (one mapping for every wire). */
function errorModel(error: WireError, pluginName: string): PluginErrorModel {
  const model: PluginErrorModel = {
    message: typeof error.message === "string" ? error.message : JSON.stringify(error),
    plugin_name: typeof error.plugin_name === "string" && error.plugin_name
      ? error.plugin_name
      : pluginName,
  };
  if (typeof error.code === "string") model.code = error.code;
  if (isRecord(error.details)) model.details = error.details;
  if (typeof error.mcp_error_code === "number") model.mcp_error_code = error.mcp_error_code;
  return model;
}

/** Applies a returned context in place (wire.md §1.6): what it carries replaces ours. */
function writeBackContext(target: PluginContext, update: ContextUpdate): void {
  if (update.state) target.state = update.state;
  if (update.metadata) target.metadata = update.metadata;
  if (update.globalState) target.global_context.state = update.globalState;
}
