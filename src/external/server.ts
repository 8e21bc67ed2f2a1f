/**
 * `ExternalPluginServer`: hosts plugins for gateways in other processes. The three operations
 * (get one config, get all configs, invoke a hook) are transport-neutral JSON; `serve()` exposes
 * them on one transport, whose module is imported only then.
 *
 * @module
 */
import { PluginContext } from "../context.ts";
import { errorRepr, PluginError } from "../errors.ts";
import type { Config } from "../config/schema.ts";
import { readEnv } from "../config/env.ts";
import {
  PluginManager,
  type PluginManagerOptions,
  type ReloadOptions,
} from "../manager/manager.ts";
import { isBlockSuppressed } from "../manager/result.ts";
import type { Plugin } from "../plugin.ts";
import type { PluginConfig, PluginContextData, PluginErrorModel, TlsConfig } from "../types.ts";
import { parseContext } from "./context_schema.ts";
import { contextHasData, dumpContext, dumpError, dumpResult } from "./dump.ts";
import type { ServerLogger } from "./server_log.ts";
import {
  metricsPreflight,
  resolveMetricsBinding,
  serveMetricsListener,
} from "./metrics_listener.ts";
import { writePrometheus } from "../observability/prometheus.ts";
import { withTraceId } from "../observability.ts";
import { OtelObservability } from "../observability/otel_tracing.ts";
import { extractTraceContext, runInContext, traceIdOf } from "../observability/trace_context.ts";

/** The reference's default config path, relative to the working directory. */
export const DEFAULT_SERVER_CONFIG_PATH = "./resources/plugins/config.yaml";

/**
 * Options of an {@linkcode ExternalPluginServer}: plugin instances, or a config (path or
 * parsed); with neither, PLUGINS_CONFIG_PATH or the reference default path is loaded.
 *
 * @example
 * ```ts
 * import type { ExternalPluginServerOptions } from "@cpex/core/server";
 * const o: ExternalPluginServerOptions = { config: "./plugins.yaml" };
 * ```
 */
export interface ExternalPluginServerOptions {
  /** Plugin instances to host (their own configs are reported to gateways). */
  plugins?: Plugin[];
  /** A config file path or a parsed config. */
  config?: string | URL | Config;
  /**
   * Options of the server's internal plugin manager; its `hookRegistry` is the one the server
   * validates payloads with.
   */
  manager?: PluginManagerOptions;
  /**
   * Where failed plugin calls are logged (plugin, hook and request id at `error`; each call and
   * error messages at `debug`; never payloads). Default: none.
   */
  logger?: ServerLogger;
}

/**
 * The answer of {@linkcode ExternalPluginServer.invokeHook}: `result` (with `context` when it
 * carries data) or `error`.
 *
 * @example
 * ```ts
 * import type { InvokeHookResponseData } from "@cpex/core/server";
 * const r: InvokeHookResponseData = { plugin_name: "p", result: { continue_processing: true } };
 * ```
 */
export interface InvokeHookResponseData {
  /** The plugin name of the request. */
  plugin_name: string;
  /** The plugin result, dumped in the reference's field order. */
  result?: Record<string, unknown>;
  /** The plugin context after the call, present only when it is not empty. */
  context?: Record<string, unknown>;
  /** The failure, when the call failed. */
  error?: Record<string, unknown>;
}

/**
 * The transports `serve()` knows. `http` (alias `streamablehttp`, `mcp`) is MCP Streamable
 * HTTP; `stdio` is MCP over stdin/stdout; `grpc` is gRPC over TCP or a Unix socket; `unix` is
 * the raw length-prefixed protobuf Unix socket.
 *
 * @example
 * ```ts
 * import type { TransportName } from "@cpex/core/server";
 * const t: TransportName = "unix";
 * ```
 */
export type TransportName = "unix" | "grpc" | "http" | "streamablehttp" | "mcp" | "stdio";

/**
 * Transport settings of {@linkcode ExternalPluginServer.serve}. Unset fields come from the
 * transport's PLUGINS_* environment variables or the config's settings block, as in the
 * reference's runtimes.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "@cpex/core/server";
 * const o: ServeOptions = { transport: "unix", path: "/tmp/cpex.sock" };
 * ```
 */
export interface ServeOptions {
  /**
   * The transport (a built-in or one added with {@linkcode registerServerTransport}); default
   * PLUGINS_TRANSPORT (required one way or the other).
   */
  transport?: TransportName | (string & Record<never, never>);
  /** Unix socket path of the `unix` transport. */
  path?: string;
  /** Host to bind (`grpc`, `http`). */
  host?: string;
  /** Port to bind (`grpc`, `http`); 0 picks a free port. */
  port?: number;
  /** Unix socket path to bind instead of host:port (`grpc`, `http`). */
  uds?: string;
  /** TLS settings (`grpc`, `http`). */
  tls?: TlsConfig | null;
  /**
   * Print `READY <transport> <address>` on stdout once listening (default true; never for
   * `stdio`).
   */
  printReady?: boolean;
  /** Stop on SIGINT/SIGTERM/SIGHUP (default true). */
  handleSignals?: boolean;
  /** Connections open at once (`grpc`: default 1024); more are closed on accept. */
  maxConnections?: number;
  /** Bound on a TLS handshake, HTTP/2 set-up and one request (`grpc`: default 10 s). */
  handshakeTimeoutMs?: number;
  /** A connection without calls for this long is closed (`grpc`: default 300 s). */
  idleTimeoutMs?: number;
  /**
   * Port of an extra HTTP listener answering `GET /metrics` (Prometheus text) for transports
   * without an HTTP port of their own (`grpc`, `unix`; the MCP HTTP server answers `/metrics`
   * on its own port); 0 picks a free port. Default PLUGINS_METRICS_PORT, else none; null: none.
   * Needs `--allow-net=HOST:PORT`.
   */
  metricsPort?: number | null;
  /** Host of that listener (default PLUGINS_METRICS_HOST, else `127.0.0.1`). */
  metricsHost?: string;
}

/**
 * How a transport serves an {@linkcode ExternalPluginServer}: bind, answer, and return a
 * {@linkcode ServerHandle}. A transport module usually builds its handle with the shared
 * lifecycle (READY line, signals, idempotent close).
 *
 * @example
 * ```ts
 * import type { TransportServer } from "@cpex/core/server";
 * const inert: TransportServer = () => {
 *   let stop!: () => void;
 *   const finished = new Promise<void>((resolve) => stop = resolve);
 *   return Promise.resolve({ address: "inert", finished, close: () => (stop(), finished) });
 * };
 * ```
 */
export type TransportServer = (
  server: ExternalPluginServer,
  options: ServeOptions,
) => Promise<ServerHandle>;

// Each transport's module (and its dependencies: grpc-js, the MCP SDK) loads only when used.
const transports = new Map<string, () => Promise<TransportServer>>();

/**
 * Registers a server transport under `name` for `serve({ transport: name })` and
 * PLUGINS_TRANSPORT (the server-side counterpart of `registerExternalTransport`).
 * `load` runs, and its module is imported, only when the transport is served; registering a
 * built-in name replaces it.
 *
 * @example
 * ```ts
 * import { ExternalPluginServer, registerServerTransport } from "@cpex/core/server";
 * registerServerTransport("inert", () =>
 *   Promise.resolve((_server) => {
 *     let stop!: () => void;
 *     const finished = new Promise<void>((resolve) => stop = resolve);
 *     return Promise.resolve({ address: "inert", finished, close: () => (stop(), finished) });
 *   }));
 * const server = new ExternalPluginServer({ plugins: [] });
 * const handle = await server.serve({ transport: "inert" });
 * console.log(handle.address); // "inert"
 * await server.close();
 * ```
 */
export function registerServerTransport(name: string, load: () => Promise<TransportServer>): void {
  transports.set(name.toLowerCase(), load);
}

registerServerTransport("unix", async () => (await import("./unix/server.ts")).serveUnixTransport);
registerServerTransport("grpc", async () => (await import("./grpc/server.ts")).serveGrpc);
for (const name of ["http", "streamablehttp", "mcp"]) {
  registerServerTransport(name, async () => (await import("./mcp/http_server.ts")).serveMcpHttp);
}
registerServerTransport(
  "stdio",
  async () => (await import("./mcp/stdio_server.ts")).serveMcpStdioTransport,
);

/**
 * A running transport; `close()` stops listening, closes connections and removes the socket.
 *
 * @example
 * ```ts
 * import type { ServerHandle } from "@cpex/core/server";
 * async function stop(h: ServerHandle) {
 *   await h.close();
 * }
 * ```
 */
export interface ServerHandle {
  /** Where the server listens (a socket path or `host:port`). */
  readonly address: string;
  /** `host:port` of the `/metrics` listener, when one was asked for. */
  readonly metricsAddress?: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Hosts plugins for gateways in other processes (the Deno counterpart of the reference's
 * plugin server runtimes).
 *
 * @example
 * ```ts
 * import { Plugin } from "@cpex/core";
 * import { ExternalPluginServer } from "@cpex/core/server";
 * class Allow extends Plugin {
 *   tool_pre_invoke() {
 *     return {};
 *   }
 * }
 * const server = new ExternalPluginServer({
 *   plugins: [new Allow({ name: "allow", kind: "inline", hooks: ["tool_pre_invoke"] })],
 * });
 * await server.initialize();
 * const reply = await server.invokeHook("tool_pre_invoke", "allow", { name: "t" }, {
 *   global_context: { request_id: "r1" },
 * });
 * console.log(reply.result?.continue_processing); // true
 * await server.shutdown();
 * ```
 */
export class ExternalPluginServer {
  readonly #options: ExternalPluginServerOptions;
  #manager: PluginManager | null = null;
  #configs: PluginConfig[] = [];
  #ready: Promise<void> | null = null;
  readonly #handles = new Set<ServerHandle>();

  /** Creates a server; nothing is loaded until `initialize()` (or `serve()`). */
  constructor(options: ExternalPluginServerOptions = {}) {
    this.#options = options;
  }

  /** The internal plugin manager (after `initialize()`). */
  get manager(): PluginManager | null {
    return this.#manager;
  }

  /** Loads the config or registers the given plugins. Idempotent. */
  initialize(): Promise<void> {
    return this.#ready ??= this.#initialize().catch((error) => {
      this.#ready = null;
      throw error;
    });
  }

  async #initialize(): Promise<void> {
    const { plugins, config } = this.#options;
    // Spans through OpenTelemetry unless told otherwise: without an SDK they cost nothing, with
    // one they join the gateway's trace (issue 15).
    const managerOptions: PluginManagerOptions = {
      ...this.#options.manager,
      observability: this.#options.manager?.observability === undefined
        ? new OtelObservability()
        : this.#options.manager.observability,
    };
    if (plugins) {
      const manager = new PluginManager(null, managerOptions);
      await manager.initialize();
      for (const plugin of plugins) await manager.registerPlugin(plugin);
      this.#configs = plugins.map((p) => p.config);
      this.#manager = manager;
      return;
    }
    // The manager reads and parses the file; its config is ours (read once, issue 10 item 2).
    const source = config ?? readEnv("PLUGINS_CONFIG_PATH") ?? DEFAULT_SERVER_CONFIG_PATH;
    const manager = new PluginManager(source, managerOptions);
    await manager.initialize();
    this.#configs = manager.config?.plugins ?? [];
    this.#manager = manager;
  }

  /**
   * Replaces the served plugin set (issue 14 item 4; `cpex serve` does it on SIGHUP): the
   * manager's {@linkcode PluginManager.reload} with `config`, by default the file the server
   * was started from. Transports keep serving throughout: calls in flight finish on the old
   * plugins, later ones reach the new set; a failed reload keeps the old set and rejects.
   *
   * @example
   * ```ts
   * import { ExternalPluginServer } from "@cpex/core/server";
   * const server = new ExternalPluginServer({ config: "./plugins.yaml" });
   * await server.initialize();
   * await server.reload(); // re-reads ./plugins.yaml
   * await server.shutdown();
   * ```
   */
  async reload(config?: string | URL | Config, options?: ReloadOptions): Promise<void> {
    const manager = this.#manager;
    if (!manager) throw new Error("Plugin server not initialized");
    if (this.#options.plugins) {
      throw new Error("reload() needs a server made from a config, not from plugin instances");
    }
    await manager.reload(config, options);
    // The manager that reloaded is still ours (no shutdown ran meanwhile).
    if (this.#manager === manager) this.#configs = manager.config?.plugins ?? [];
  }

  /** The config of the first plugin whose name matches case-insensitively, or null. */
  getPluginConfig(name: string): Record<string, unknown> | null {
    const wanted = name.toLowerCase();
    const found = this.#configs.find((c) => c.name.toLowerCase() === wanted);
    return found ? configDump(found) : null;
  }

  /** Every plugin config the server knows (also disabled or failed ones, as the reference). */
  getPluginConfigs(): Record<string, unknown>[] {
    return this.#configs.map(configDump);
  }

  /**
   * Runs `pluginName`'s `hookType` hook with the server's own mode and on_error semantics.
   * Never throws: failures come back as `error`. `traceContext` holds the gateway's W3C trace
   * context headers (`traceparent`, `tracestate`) when its transport carried them: the call's
   * span is then a child of the gateway's.
   */
  async invokeHook(
    hookType: string,
    pluginName: string,
    payload: unknown,
    context: unknown,
    traceContext?: Readonly<Record<string, string>> | null,
  ): Promise<InvokeHookResponseData> {
    let contextData: PluginContextData;
    try {
      contextData = parseContext(context);
    } catch (error) {
      return { plugin_name: pluginName, error: dumpError(errorModel(error, pluginName)) };
    }
    return await this.invokeHookWithContext(
      hookType,
      pluginName,
      payload,
      contextData,
      traceContext,
    );
  }

  /**
   * {@linkcode ExternalPluginServer.invokeHook} for a context that is already well-typed (a
   * transport that decoded it from protobuf); skips validating it again.
   */
  async invokeHookWithContext(
    hookType: string,
    pluginName: string,
    payload: unknown,
    contextData: PluginContextData,
    traceContext?: Readonly<Record<string, string>> | null,
  ): Promise<InvokeHookResponseData> {
    try {
      const manager = this.#manager;
      if (!manager) throw new Error("Plugin server not initialized");
      const pluginContext = new PluginContext(
        contextData.global_context,
        contextData.state,
        contextData.metadata,
      );
      // The manager's own registry (issue 10 item 3): a server built with custom hooks
      // validates them like built-ins. The manager finds the plugin ("Unable to find ...")
      // before it validates the payload, as the reference: one lookup per call (issue 10).
      const registered = manager.hookRegistry.isRegistered(hookType);
      if (!registered && (typeof payload !== "object" || payload === null)) {
        throw new TypeError(`Payload for ${hookType} must be an object`);
      }
      const call = () =>
        manager.invokeHookForPlugin(
          pluginName,
          hookType,
          payload as Record<string, unknown>,
          pluginContext,
          { payloadAsJson: registered },
        );
      // The gateway's trace context (issue 15): the plugin's span joins the gateway's trace.
      const remote = traceContext && manager.observability !== null
        ? extractTraceContext(traceContext)
        : null;
      const result = remote === null
        ? await call()
        : await runInContext(remote, () => withTraceId(traceIdOf(remote)!, call));
      const dumped = dumpResult(result);
      // A blocked result carries no metadata on the wire, nor does a TRANSFORM/AUDIT plugin's
      // suppressed block (reference behaviour; issue 11 item 8).
      if (!result.continue_processing || isBlockSuppressed(result)) dumped.metadata = null;
      const reply: InvokeHookResponseData = { plugin_name: pluginName, result: dumped };
      const after: PluginContextData = pluginContext;
      if (contextHasData(after)) reply.context = dumpContext(after);
      if (this.#options.logger?.level === "debug") {
        this.#options.logger.debug("plugin call", {
          plugin: pluginName,
          hook: hookType,
          request_id: contextData.global_context?.request_id,
          continue_processing: result.continue_processing !== false,
        });
      }
      return reply;
    } catch (error) {
      const model = errorModel(error, pluginName);
      this.#logFailure(hookType, pluginName, contextData, error, model);
      return { plugin_name: pluginName, error: dumpError(model) };
    }
  }

  /** Logs a failed call: who, which hook, which request; the message only at debug. */
  #logFailure(
    hookType: string,
    pluginName: string,
    contextData: PluginContextData,
    error: unknown,
    model: PluginErrorModel,
  ): void {
    const logger = this.#options.logger;
    if (!logger) return;
    const fields = {
      plugin: pluginName.slice(0, 256),
      hook: hookType.slice(0, 256),
      request_id: String(contextData.global_context?.request_id ?? "").slice(0, 256),
      error: model.code ?? (error instanceof Error ? error.name : "Error"),
    };
    logger.error("plugin call failed", fields);
    logger.debug("plugin call failed: message", { ...fields, message: model.message });
  }

  /**
   * Serves the plugins on one transport. Checks the transport's Deno permissions first and
   * fails with a message naming any missing flag.
   */
  async serve(options: ServeOptions = {}): Promise<ServerHandle> {
    const name = options.transport ?? readEnv("PLUGINS_TRANSPORT")?.toLowerCase();
    const load = name ? transports.get(name.toLowerCase()) : undefined;
    if (!load) {
      throw new Error(
        `Unknown or missing transport '${name ?? ""}': pass serve({ transport }) or set ` +
          `PLUGINS_TRANSPORT to one of ${[...transports.keys()].join(", ")}`,
      );
    }
    const serveTransport = await load();
    const binding = resolveMetricsBinding(options);
    // Checked with the transport's, before anything listens (issue 15).
    if (binding) metricsPreflight(binding);
    await this.initialize();
    // Up before the transport says READY, so a scrape right after READY finds it.
    const metrics = binding ? serveMetricsListener(binding, () => this.metricsText()) : null;
    let handle: ServerHandle;
    try {
      handle = await serveTransport(this, options);
    } catch (error) {
      await metrics?.close();
      throw error;
    }
    if (metrics) {
      const stop = handle.close;
      const transportHandle = handle;
      let closing: Promise<void> | null = null;
      // The built-in transports' handles are plain objects; a frozen one is wrapped instead.
      if (!Object.isExtensible(handle)) handle = Object.create(handle) as ServerHandle;
      Object.defineProperties(handle, {
        metricsAddress: { value: metrics.address, enumerable: true },
        close: {
          value: () => closing ??= stop.call(transportHandle).finally(() => metrics.close()),
          enumerable: true,
        },
      });
      // A transport stopped by a signal takes its listener along.
      void handle.finished.then(() => metrics.close());
    }
    this.#handles.add(handle);
    handle.finished.finally(() => this.#handles.delete(handle));
    return handle;
  }

  /**
   * The metrics of the plugins this server hosts (its manager's; by default the process-wide
   * `defaultMetrics()`) in the Prometheus text format: what `/metrics` answers.
   */
  metricsText(): string {
    const metrics = this.#manager?.metrics;
    return metrics ? writePrometheus(metrics) : "";
  }

  /** The loaded config, when the server was built from one. */
  get config(): Config | null {
    return this.#manager?.config ?? null;
  }

  /** Stops every transport, then shuts the plugins down. */
  async close(): Promise<void> {
    await Promise.all([...this.#handles].map((h) => h.close()));
    await this.shutdown();
  }

  /** Shuts the plugins down (transports keep running until closed). */
  async shutdown(): Promise<void> {
    const manager = this.#manager;
    this.#manager = null;
    this.#ready = null;
    await manager?.shutdown();
  }
}

function errorModel(error: unknown, pluginName: string): PluginErrorModel {
  if (error instanceof PluginError) return error.error;
  return { message: errorRepr(error), plugin_name: pluginName };
}

function configDump(config: PluginConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config));
}
