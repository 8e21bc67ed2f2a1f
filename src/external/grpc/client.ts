/**
 * The gRPC transport, gateway side: the plugin proxy the manager loads for `kind: external`
 * with a `grpc:` block (`target` or `uds`, optional `tls`).
 *
 * One grpc-js channel per plugin; concurrent hook calls multiplex on it as HTTP/2 streams.
 * `initialize()` fetches the server's entry for the plugin (3 attempts, sleeping 1 s then 2 s,
 * as the reference) and merges it under the local one (wire.md §1.5). Hook calls carry no
 * deadline of their own: the manager's timeout aborts them through the hook's `AbortSignal`,
 * which cancels the RPC. Every failure (a gRPC status, an `error` in the reply, an empty
 * reply) surfaces as a `PluginError`.
 *
 * The channel reconnects by itself when the server restarts; its reconnect backoff is capped
 * at one second (grpc-js's default cap is two minutes) so a restarted server is found quickly.
 *
 * grpc-js is imported only in `initialize()`, after the permission preflight.
 *
 * @module
 */
import { allowResult } from "../allow_reply.ts";
import { decodeRemoteResult } from "../decode_result.ts";
import { PluginError } from "../../errors.ts";
import { grpcClientTlsFromEnv } from "../../config/from_env.ts";
import { getHookRegistry, type HookRegistry } from "../../hooks/registry.ts";
import { type HookCallOptions, Plugin } from "../../plugin.ts";
import type { PluginContext } from "../../context.ts";
import type { PluginConfig, PluginConfigInput, PluginResult, TlsConfig } from "../../types.ts";
import { mergeRemoteConfig } from "../merge.ts";
import {
  fromStruct,
  pluginContextToProto,
  pluginErrorFromProto,
  toStruct,
  updateContextFromProto,
} from "../struct.ts";
import { type GrpcJs, loadGrpcJs } from "./grpc_js.ts";
import {
  fileReadPermissions,
  grpcEnvPermissions,
  grpcPreflight,
  grpcTargetPermissions,
} from "./permissions.ts";
import { isAllowResponse, PLUGIN_SERVICE, type UnaryMethod } from "./service.ts";
import { channelCredentials } from "./tls.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";

/**
 * Tuning of a {@linkcode GrpcExternalPlugin} (internal; the defaults are the reference's).
 */
export interface GrpcPluginOptions {
  /** Sleeps between config-fetch attempts; attempts = length + 1 (default `[1000, 2000]`). */
  retryDelaysMs?: number[];
  /** Deadline of each config-fetch attempt in ms (default 10 000). */
  configTimeoutMs?: number;
  /** Extra grpc-js channel options (override the defaults). */
  channelOptions?: Record<string, string | number>;
  /** The loading manager's hook registry, used to decode results (default: the shared one). */
  hookRegistry?: HookRegistry;
}

/**
 * Channel options of every plugin channel: no proxy lookup (so no proxy env permission is
 * needed), a private subchannel pool (one connection per plugin, closed with it), and a
 * reconnect backoff of 100 ms growing to at most 1 s.
 */
export const DEFAULT_CHANNEL_OPTIONS: Readonly<Record<string, number>> = {
  "grpc.enable_http_proxy": 0,
  "grpc.use_local_subchannel_pool": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.min_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
};

type Address = { host: string; port: number } | { uds: string };

function parseTarget(target: string): { host: string; port: number } {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(colon + 1));
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`gRPC target must be host:port, got '${target}'`);
  }
  return { host, port };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A plugin hosted by a gRPC plugin server.
 */
export class GrpcExternalPlugin extends Plugin {
  readonly #address: Address;
  readonly #target: string;
  readonly #tls: TlsConfig | null;
  readonly #options: GrpcPluginOptions;
  readonly #hooks: HookRegistry;
  #grpc: GrpcJs | null = null;
  #client: GrpcJsModule.Client | null = null;

  /** Creates the proxy from the gateway's plugin entry (its `grpc` block). */
  constructor(config: PluginConfig | PluginConfigInput, options: GrpcPluginOptions = {}) {
    super(config);
    this.#hooks = options.hookRegistry ?? getHookRegistry();
    const block = this.config.grpc;
    if (!block || (!block.target && !block.uds)) {
      throw new PluginError({
        message: `Plugin ${this.name} has no grpc section with a target or uds`,
        plugin_name: this.name,
      });
    }
    if (block.uds) {
      this.#address = { uds: block.uds };
      this.#target = `unix://${block.uds}`;
      this.#tls = null; // TLS never applies to a Unix socket (env TLS is ignored, as the reference).
    } else {
      this.#address = parseTarget(block.target!);
      this.#target = block.target!;
      this.#tls = block.tls ?? grpcClientTlsFromEnv();
    }
    this.#options = options;
  }

  /** The grpc-js channel target (`host:port` or `unix:///path`). */
  get target(): string {
    return this.#target;
  }

  /** Opens the channel, fetches the remote config and merges it under the local entry. */
  override async initialize(): Promise<void> {
    const tls = this.#tls;
    grpcPreflight("gRPC plugin client", [
      ...grpcTargetPermissions(this.#address),
      ...grpcEnvPermissions(),
      ...fileReadPermissions(
        tls ? [tls.verify === false ? null : tls.ca_bundle, tls.certfile, tls.keyfile] : [],
      ),
    ]);
    const grpc = this.#grpc = await loadGrpcJs();
    if (!this.#client) {
      let setup;
      try {
        setup = await channelCredentials(
          grpc,
          "host" in this.#address ? this.#address.host : "",
          tls,
        );
      } catch (error) {
        throw this.#error(`Failed to configure TLS for plugin '${this.name}': ${describe(error)}`, {
          cause: error,
        });
      }
      this.#client = new grpc.Client(this.#target, setup.credentials, {
        ...DEFAULT_CHANNEL_OPTIONS,
        ...setup.options,
        ...this.#options.channelOptions,
      });
    }
    const delays = this.#options.retryDelaysMs ?? [1000, 2000];
    const timeoutMs = this.#options.configTimeoutMs ?? 10_000;
    let response;
    let lastError: unknown;
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      try {
        response = await this.#unary(PLUGIN_SERVICE.GetPluginConfig, { name: this.name }, {
          deadline: Date.now() + timeoutMs,
        });
        break;
      } catch (error) {
        lastError = error;
        if (attempt < delays.length) await sleep(delays[attempt]);
      }
    }
    if (!response) {
      throw this.#error(
        `gRPC plugin '${this.name}' connection failed after ${delays.length + 1} attempts: ` +
          describe(lastError),
        { cause: lastError },
      );
    }
    if (!response.found || !response.config) {
      throw this.#error("Unable to retrieve configuration for external plugin");
    }
    this.config = mergeRemoteConfig(this.config, fromStruct(response.config));
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
    const response = await this.#unary(PLUGIN_SERVICE.InvokeHook, {
      hook_type: hookName,
      plugin_name: this.name,
      payload: toStruct(payload as Record<string, unknown>),
      context: pluginContextToProto(context),
    }, { signal: options.signal });
    if (isAllowResponse(response)) return allowResult();
    if (response.error && response.error.message) {
      throw new PluginError(pluginErrorFromProto(response.error, this.name));
    }
    if (response.context) updateContextFromProto(context, response.context);
    if (!response.result) {
      throw this.#error("Received invalid response from gRPC plugin server");
    }
    return decodeRemoteResult(this.#hooks, hookName, fromStruct(response.result));
  }

  /** Closes the channel (idempotent). */
  override shutdown(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    client?.close();
    return Promise.resolve();
  }

  /** One unary call; gRPC failures become `PluginError`, an abort rejects with its reason. */
  #unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    { signal, deadline }: { signal?: AbortSignal; deadline?: number },
  ): Promise<Res> {
    const client = this.#client;
    const grpc = this.#grpc;
    if (!client || !grpc) {
      return Promise.reject(this.#error(`Plugin ${this.name} is not initialized (or shut down)`));
    }
    signal?.throwIfAborted();
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
        deadline ? { deadline } : {},
        (error, value) => {
          signal?.removeEventListener("abort", onAbort);
          if (signal?.aborted) reject(signal.reason);
          else if (error) reject(this.#rpcError(method.originalName, error));
          else if (value === undefined) reject(this.#error("Empty gRPC response"));
          else resolve(value);
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #rpcError(methodName: string, error: GrpcJsModule.ServiceError): PluginError {
    const name = this.#grpc?.status[error.code] ?? String(error.code);
    return new PluginError({
      message: `gRPC ${methodName} call failed: ${name} (${error.code}): ${error.details}`,
      plugin_name: this.name,
      details: { grpc_status: name, grpc_code: error.code },
    }, { cause: error });
  }

  #error(message: string, options?: ErrorOptions): PluginError {
    return new PluginError({ message, plugin_name: this.name }, options);
  }
}

/**
 * Creates the proxy for a `kind: external` plugin with a `grpc:` block (the loader's factory
 * for this transport).
 */
export function createGrpcPlugin(
  config: PluginConfig,
  context: { hookRegistry: HookRegistry },
): Plugin {
  return new GrpcExternalPlugin(config, context);
}
