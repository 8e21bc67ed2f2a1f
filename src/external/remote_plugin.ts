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
import { CIRCUIT_OPEN, errorRepr, PluginError } from "../errors.ts";
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
import { PluginCancelledError } from "../manager/call.ts";
import type { HealthCheckConfig } from "../types.ts";
import type { CircuitState } from "./circuit_breaker.ts";
import { HealthCheck } from "./health_check.ts";
import { configKey, replicaConfigs, resilienceOf } from "./replica_config.ts";
import { Replica, ReplicaSet } from "./replica_set.ts";

/**
 * A failure a connection reports. `retryable` is true only when the server cannot have run the
 * request (it was not delivered), so the core may reconnect and send it again (issue 9 item
 * 10: never re-send a delivered request to the same server). `connectionLost` is true when the
 * request was delivered but the connection died before any reply (reset, closed, EOF, gRPC
 * `UNAVAILABLE` after the send): never a timeout, a cancel or an error the server answered.
 * The core alone decides what to do with it (`retry_on_connection_loss`, issue 14).
 */
export class RemoteCallError extends Error {
  /** True when reconnecting and sending again is safe. */
  readonly retryable: boolean;
  /** True when the request was delivered and the connection was lost before any reply. */
  readonly connectionLost: boolean;
  /** Structured details for the `PluginError` (e.g. the gRPC status). */
  readonly details?: Record<string, unknown>;

  /** Creates the error. */
  constructor(
    message: string,
    options: {
      retryable?: boolean;
      connectionLost?: boolean;
      details?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "RemoteCallError";
    this.retryable = options.retryable ?? false;
    this.connectionLost = !this.retryable && (options.connectionLost ?? false);
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
 * A plugin hosted by an external plugin server: the transport-independent proxy. With several
 * endpoints (issue 14) it holds one connection per replica and balances calls over them
 * ({@linkcode ReplicaSet}), with per-replica health checks and circuit breakers.
 */
export class RemotePlugin extends Plugin {
  readonly #local: PluginConfig;
  readonly #hooks: HookRegistry;
  readonly #set: ReplicaSet;
  readonly #replicas: readonly Replica[];
  readonly #single: boolean;
  readonly #policy: ConnectionPolicy;
  readonly #healthCheck: HealthCheckConfig | null;
  /** Re-send a delivered call once on another replica when its connection died. */
  readonly #retryOnLoss: boolean;
  /** Replicas that did not answer at start-up (their health check starts them unhealthy). */
  readonly #down = new Set<Replica>();
  /** Counts since the last {@linkcode takeCounts}: re-sends after a loss, fail-fast calls. */
  #resent = 0;
  #rejected = 0;
  /** The replicas' agreed config entry (canonical JSON), to check a recovered replica. */
  #agreed: string | null = null;
  #closed = false;

  /**
   * Creates the proxy; `open` builds the transport's connection from the parsed entry, once
   * per endpoint. Results are decoded with `options.hookRegistry`: the loading manager's own.
   */
  constructor(
    config: PluginConfig | PluginConfigInput,
    open: (config: PluginConfig) => RemoteConnection,
    options: { hookRegistry?: HookRegistry } = {},
  ) {
    super(config);
    this.#local = this.config;
    this.#hooks = options.hookRegistry ?? getHookRegistry();
    const configs = replicaConfigs(this.config);
    const { healthCheck, circuitBreaker, retryOnConnectionLoss } = resilienceOf(
      this.config,
      configs.length,
    );
    this.#healthCheck = healthCheck;
    this.#retryOnLoss = retryOnConnectionLoss && configs.length > 1;
    this.#replicas = configs.map((c) => new Replica(open(c), circuitBreaker));
    this.#set = new ReplicaSet([...this.#replicas]);
    this.#single = configs.length === 1;
    this.#policy = this.#replicas[0].connection.policy;
  }

  /** What the connection reaches (every replica's, comma-separated). */
  get target(): string {
    return this.#replicas.map((r) => r.target).join(",");
  }

  /** Each replica's state: where it is, whether it is healthy, its breaker, its calls. */
  replicaStatus(): ReplicaStatus[] {
    return this.#replicas.map((r) => ({
      target: r.target,
      healthy: r.health?.healthy ?? true,
      circuit: r.breaker?.state ?? "closed",
      outstanding: r.outstanding,
    }));
  }

  /**
   * What happened since the last call, then zeroed (the metrics read it at each collection):
   * `resent`, delivered calls re-sent to another replica after a connection loss;
   * `circuit_open`, calls failed fast because no replica could take them.
   */
  takeCounts(): { resent: number; circuit_open: number } {
    const counts = { resent: this.#resent, circuit_open: this.#rejected };
    this.#resent = this.#rejected = 0;
    return counts;
  }

  /** Connects and fetches the remote config (merged or verified, per the transport). */
  override async initialize(): Promise<void> {
    for (const replica of this.#replicas) {
      try {
        await replica.connection.prepare?.();
      } catch (error) {
        // A permission preflight error stays as it is; the transport's own become PluginError.
        throw error instanceof RemoteCallError ? this.#toPluginError(error) : error;
      }
    }
    this.#closed = false;
    try {
      if (this.#single) {
        this.#agreed = configKey(await this.#initReplica(this.#replicas[0]));
      } else {
        await this.#initReplicas();
      }
    } catch (error) {
      await Promise.all(this.#replicas.map((r) => r.connection.close()));
      throw this.#toPluginError(error);
    }
    this.#startHealthChecks();
  }

  /** Asks the server whether it is healthy (any replica answering will do). */
  probe(signal: AbortSignal): Promise<void> {
    if (this.#single) return this.#replicas[0].connection.probe(signal);
    return Promise.any(this.#replicas.map((r) => r.connection.probe(signal))).then(
      () => {},
      (error: AggregateError) => {
        throw error.errors[0];
      },
    );
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
    const invalid = this.#policy.invalidReply;
    if (!reply.result) throw this.#error(invalid);
    try {
      return decodeRemoteResult(this.#hooks, hookName, reply.result);
    } catch (error) {
      throw this.#error(`${invalid}: ${describe(error)}`, error);
    }
  }

  /** Stops the health checks and closes every connection (idempotent). */
  override async shutdown(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#replicas.map(async (replica) => {
      await replica.health?.stop();
      await replica.reconnecting?.catch(() => {});
      await replica.connection.close();
    }));
  }

  /** The replica's config entry: fetched (merge) or checked (verify). */
  async #initReplica(replica: Replica): Promise<Record<string, unknown> | null> {
    const connection = replica.connection;
    if (this.#policy.remoteConfig === "verify") {
      await this.#connectInitially(() => connection.connect());
      try {
        const remote = await this.#fetchConfig(replica);
        if (!remote) console.warn(`Plugin ${this.name} not found on the server ${replica.target}`);
        return remote;
      } catch (error) {
        console.warn(`Config check of plugin ${this.name} failed: ${describe(error)}`);
        return null;
      }
    }
    const remote = await this.#connectInitially(async () => {
      await connection.connect();
      return await this.#fetchConfig(replica);
    });
    if (!remote) {
      throw this.#error(`Unable to retrieve configuration for external plugin ${this.name}`);
    }
    if (this.#single) this.#merge(remote);
    return remote;
  }

  /**
   * Initializes every replica at once. Those that answer must agree on the plugin's config;
   * those that do not start unhealthy (their health check admits them later). At least one
   * must answer.
   */
  async #initReplicas(): Promise<void> {
    const results = await Promise.allSettled(this.#replicas.map((r) => this.#initReplica(r)));
    const groups = new Map<string, { remote: Record<string, unknown> | null; targets: string[] }>();
    const failures: string[] = [];
    results.forEach((result, i) => {
      const target = this.#replicas[i].target;
      if (result.status === "rejected") {
        failures.push(`${target}: ${describe(result.reason)}`);
        return;
      }
      const key = configKey(result.value);
      const group = groups.get(key) ?? { remote: result.value, targets: [] };
      group.targets.push(target);
      groups.set(key, group);
    });
    if (groups.size === 0) {
      throw this.#error(
        `No replica of plugin ${this.name} could be reached: ${failures.join("; ")}`,
      );
    }
    if (groups.size > 1) {
      const sides = [...groups.values()].map((g) => g.targets.join(", "));
      throw this.#error(
        `Replicas of plugin ${this.name} disagree on its config: ${sides.join(" vs ")}`,
      );
    }
    const [[key, { remote }]] = [...groups];
    this.#agreed = key;
    if (this.#policy.remoteConfig === "merge") this.#merge(remote!);
    results.forEach((result, i) => {
      if (result.status === "rejected") {
        console.warn(`Plugin ${this.name}: replica ${this.#replicas[i].target} is down at start`);
        this.#down.add(this.#replicas[i]);
      }
    });
  }

  #merge(remote: Record<string, unknown>): void {
    try {
      this.config = mergeRemoteConfig(this.#local, remote);
    } catch (error) {
      throw this.#error(
        `Failed to initialize external plugin ${this.name}: ${describe(error)}`,
        error,
      );
    }
  }

  #startHealthChecks(): void {
    const config = this.#healthCheck;
    const down = this.#down;
    if (!config) return;
    for (const replica of this.#replicas) {
      const startsHealthy = !down.has(replica);
      replica.health = new HealthCheck(
        (signal) => replica.connection.probe(signal),
        config,
        (healthy) => this.#healthChanged(replica, healthy),
        startsHealthy,
      );
      replica.health.start();
    }
    down.clear();
  }

  /** A replica turned healthy (admitted only when its config agrees) or unhealthy. */
  async #healthChanged(replica: Replica, healthy: boolean): Promise<boolean> {
    if (!healthy) {
      console.warn(`Plugin ${this.name}: replica ${replica.target} is unhealthy`);
      return false;
    }
    try {
      // A fresh connection: the old one may hold a session the restarted server forgot.
      await replica.connection.connect();
      const key = configKey(await this.#fetchConfig(replica));
      if (key !== this.#agreed) {
        console.error(
          `Plugin ${this.name}: replica ${replica.target} answers with a different config; ` +
            `it gets no calls`,
        );
        return false;
      }
    } catch (error) {
      console.warn(
        `Plugin ${this.name}: replica ${replica.target} config check failed: ${describe(error)}`,
      );
      return false;
    }
    return true;
  }

  async #connectInitially<T>(attempt: () => Promise<T>): Promise<T> {
    const policy = this.#policy;
    try {
      return await retry(attempt, policy.initial, { shouldRetry: isRetryable });
    } catch (error) {
      if (!(error instanceof RetriesExhausted)) throw error;
      throw this.#error(policy.initialFailure(error.attempts, error.cause), error.cause);
    }
  }

  async #fetchConfig(replica: Replica): Promise<Record<string, unknown> | null> {
    const controller = new AbortController();
    const ms = this.#policy.configTimeoutMs;
    const timer = Number.isFinite(ms)
      ? setTimeout(() => controller.abort(new Error(`config fetch timed out after ${ms} ms`)), ms)
      : undefined;
    try {
      return await replica.connection.fetchConfig(this.name, controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends one call to a replica picked by the set. A failure counts against that replica's
   * breaker; with several replicas, a failure that was not delivered (retryable) goes to
   * another replica at once. A delivered call whose connection died before any reply goes
   * once to another replica (`retry_on_connection_loss`, Envoy's `retry_on: reset`), within
   * the same deadline; any other delivered failure is never sent again. No eligible replica:
   * the call fails at once with `CIRCUIT_OPEN`, without touching the network.
   */
  async #send(call: RemoteCall, options: HookCallOptions): Promise<RemoteReply> {
    let tried: Set<Replica> | null = null;
    let lastError: unknown = undefined;
    let resent = false;
    for (;;) {
      if (this.#closed) throw this.#error("Plugin was shut down");
      const replica = this.#set.pick(performance.now(), tried);
      if (!replica) {
        if (tried) throw this.#toPluginError(lastError);
        this.#rejected++;
        throw this.#circuitOpen();
      }
      replica.outstanding++;
      try {
        const reply = this.#single
          ? await this.#sendOn(replica, call, options)
          : await this.#sendOnce(replica, call, options);
        replica.breaker?.success();
        return reply;
      } catch (error) {
        const signal = options.signal;
        if (signal.aborted && signal.reason instanceof PluginCancelledError) {
          replica.breaker?.cancelled(); // Not the replica's failure.
          throw error;
        }
        replica.breaker?.failure(performance.now());
        if (this.#single || signal.aborted) throw error;
        if (this.#closed) throw this.#error("Plugin was shut down", error);
        if (!(error instanceof RemoteCallError)) throw this.#toPluginError(error);
        if (!error.retryable) {
          if (!(error.connectionLost && this.#retryOnLoss && !resent)) {
            throw this.#toPluginError(error);
          }
          resent = true; // Delivered: re-sent once only, and never to the same replica.
          this.#resent++;
        }
        (tried ??= new Set()).add(replica);
        lastError = error;
      } finally {
        replica.outstanding--;
      }
    }
  }

  /** One try on one replica of several (the others are the retry). */
  async #sendOnce(
    replica: Replica,
    call: RemoteCall,
    options: HookCallOptions,
  ): Promise<RemoteReply> {
    options.signal.throwIfAborted();
    if (!replica.connection.connected) {
      try {
        await this.#reconnect(replica, { attempts: 1, delayMs: 0 });
      } catch (error) {
        // Nothing was sent: another replica may take it.
        throw new RemoteCallError(describe(error), { retryable: true, cause: error });
      }
    }
    return await replica.connection.invoke(call, options);
  }

  /**
   * Sends one call to the only replica; on a retryable failure (the request was not
   * delivered) reconnects and sends again, up to the policy's count.
   */
  async #sendOn(
    replica: Replica,
    call: RemoteCall,
    options: HookCallOptions,
  ): Promise<RemoteReply> {
    const connection = replica.connection;
    const policy = this.#policy;
    for (let attempt = 1;; attempt++) {
      if (this.#closed) throw this.#error("Plugin was shut down");
      options.signal.throwIfAborted();
      if (!connection.connected) await this.#reconnect(replica);
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
        await this.#reconnect(replica);
      }
    }
  }

  /** Reconnects one replica; concurrent callers share one reconnect. */
  #reconnect(replica: Replica, override?: RetryPolicy): Promise<void> {
    const policy = override ?? this.#policy.reconnect ?? { attempts: 1, delayMs: 0 };
    const connection = replica.connection;
    return replica.reconnecting ??= (async () => {
      try {
        await retry(() => connection.connect(), policy, { stopped: () => this.#closed });
      } catch (error) {
        if (!(error instanceof RetriesExhausted)) throw error;
        throw this.#error(
          `Failed to reconnect after ${error.attempts} attempts: ${describe(error.cause)}`,
          error.cause,
        );
      }
      if (this.#closed) {
        await connection.close();
        throw this.#error("Plugin was shut down");
      }
    })().finally(() => replica.reconnecting = null);
  }

  /** The fail-fast error when no replica may take a call. */
  #circuitOpen(): PluginError {
    return new PluginError({
      message: `Circuit open for plugin ${this.name}: no replica available (${
        this.#set.describe(performance.now())
      })`,
      plugin_name: this.name,
      code: CIRCUIT_OPEN,
    });
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

/** One replica's state, as {@linkcode RemotePlugin.replicaStatus} reports it. */
export interface ReplicaStatus {
  /** Where the replica is. */
  target: string;
  /** False while its health check keeps it out. */
  healthy: boolean;
  /** Its circuit breaker (`closed` when it has none). */
  circuit: CircuitState;
  /** Calls sent to it and not yet answered. */
  outstanding: number;
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
