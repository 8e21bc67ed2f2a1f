/**
 * The gRPC transport, gateway side: the plugin proxy the manager loads for `kind: external`
 * with a `grpc:` block (`target` or `uds`, optional `tls`).
 *
 * One grpc-js channel per server, shared by the plugins on it (same target, TLS and channel
 * options; `shared_channel.ts`); concurrent hook calls multiplex on it as HTTP/2 streams.
 * `initialize()` fetches the server's entry for the plugin (3 attempts, sleeping 1 s then 2 s,
 * as the reference) and merges it under the local one (wire.md §1.5). Hook calls carry no
 * deadline of their own: the manager's timeout aborts them through the hook's `AbortSignal`,
 * which cancels the RPC. Every failure (a gRPC status, an `error` in the reply, an empty
 * reply) surfaces as a `PluginError`.
 *
 * The channel reconnects by itself when the server restarts; its reconnect backoff is capped
 * at one second (grpc-js's default cap is two minutes) so a restarted server is found quickly.
 *
 * grpc-js is imported only in `initialize()`, after the permission preflight. What is specific
 * to gRPC lives here (the channel, unary calls, status codes); retries, error mapping and
 * decoding are the core's ({@linkcode RemotePlugin}).
 *
 * @module
 */
import { PluginError } from "../../errors.ts";
import { grpcClientTlsFromEnv } from "../../config/from_env.ts";
import type { HookRegistry } from "../../hooks/registry.ts";
import type { HookCallOptions, Plugin } from "../../plugin.ts";
import type { PluginConfig, PluginConfigInput, TlsConfig } from "../../types.ts";
import { encodeInvokeRequest, replyFromProto } from "../proto/proto_call.ts";
import { RemoteCallError, RemotePlugin } from "../remote_plugin.ts";
import type {
  ConnectionPolicy,
  RemoteCall,
  RemoteConnection,
  RemoteReply,
} from "../remote_plugin.ts";
import { describe } from "../retry.ts";
import { fromStruct } from "../proto/struct.ts";
import { type GrpcJs, loadGrpcJs } from "./grpc_js.ts";
import {
  fileReadPermissions,
  grpcEnvPermissions,
  grpcPreflight,
  grpcTargetPermissions,
} from "./permissions.ts";
import {
  CPEX_HEALTH_SERVICE,
  isAllowResponse,
  PLUGIN_SERVICE,
  preEncodedRequest,
  type UnaryMethod,
} from "./service.ts";
import { acquireChannel, channelKey, releaseChannel } from "./shared_channel.ts";
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
 * needed), a private subchannel pool (one connection per channel, closed with it; plugins on
 * the same server share the channel), and a reconnect backoff of 100 ms growing to at most 1 s.
 */
export const DEFAULT_CHANNEL_OPTIONS: Readonly<Record<string, number>> = {
  "grpc.enable_http_proxy": 0,
  "grpc.use_local_subchannel_pool": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.min_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
};

const ROUND_ROBIN = {
  "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
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

/**
 * A plugin hosted by a gRPC plugin server.
 */
export class GrpcExternalPlugin extends RemotePlugin {
  /** Creates the proxy from the gateway's plugin entry (its `grpc` block). */
  constructor(config: PluginConfig | PluginConfigInput, options: GrpcPluginOptions = {}) {
    super(config, (parsed) => new GrpcConnection(parsed, options), options);
  }
}

/** The grpc-js channel to the plugin's server, shared (it reconnects by itself). */
class GrpcConnection implements RemoteConnection {
  readonly #name: string;
  readonly #address: Address;
  readonly target: string;
  readonly #tls: TlsConfig | null;
  readonly #options: GrpcPluginOptions;
  readonly policy: ConnectionPolicy;
  #grpc: GrpcJs | null = null;
  #client: GrpcJsModule.Client | null = null;
  #channelKey = "";

  constructor(config: PluginConfig, options: GrpcPluginOptions) {
    this.#name = config.name;
    const block = config.grpc;
    if (!block || (!block.target && !block.uds)) {
      throw new PluginError({
        message: `Plugin ${config.name} has no grpc section with a target or uds`,
        plugin_name: config.name,
      });
    }
    if (block.uds) {
      this.#address = { uds: block.uds };
      this.target = `unix://${block.uds}`;
      this.#tls = null; // TLS never applies to a Unix socket (env TLS is ignored, as the reference).
    } else {
      this.#address = parseTarget(block.target!);
      this.target = block.target!;
      this.#tls = block.tls ?? grpcClientTlsFromEnv();
    }
    this.#options = options;
    const delays = options.retryDelaysMs ?? [1000, 2000];
    this.policy = {
      initial: { attempts: delays.length + 1, delayMs: delays[0] ?? 0 },
      initialFailure: (attempts, error) =>
        `gRPC plugin '${config.name}' connection failed after ${attempts} attempts: ${
          describe(error)
        }`,
      configTimeoutMs: options.configTimeoutMs ?? 10_000,
      remoteConfig: "merge",
      reconnect: null, // grpc-js reconnects the channel by itself (wire.md §3.4 step 5).
      sends: 1,
      resendDelayMs: 0,
      invalidReply: "Received invalid response from gRPC plugin server",
    };
  }

  get connected(): boolean {
    return this.#client !== null;
  }

  async prepare(): Promise<void> {
    const tls = this.#tls;
    grpcPreflight("gRPC plugin client", [
      ...grpcTargetPermissions(this.#address),
      ...grpcEnvPermissions(),
      ...fileReadPermissions(
        tls ? [tls.verify === false ? null : tls.ca_bundle, tls.certfile, tls.keyfile] : [],
      ),
    ]);
    const grpc = this.#grpc = await loadGrpcJs();
    if (this.#client) return;
    let setup;
    try {
      setup = await channelCredentials(
        grpc,
        "host" in this.#address ? this.#address.host : "",
        tls,
      );
    } catch (error) {
      throw new RemoteCallError(
        `Failed to configure TLS for plugin '${this.#name}': ${describe(error)}`,
        { cause: error },
      );
    }
    if (this.#client) return; // Another prepare() finished while the credentials were read.
    const options = {
      ...DEFAULT_CHANNEL_OPTIONS,
      // A DNS name with several addresses: grpc-js's own round_robin over them (issue 14).
      ...("host" in this.#address ? ROUND_ROBIN : {}),
      ...setup.options,
      ...this.#options.channelOptions,
    };
    const key = channelKey(this.target, tls, options);
    this.#client = acquireChannel(
      key,
      () => new grpc.Client(this.target, setup.credentials, options),
    );
    this.#channelKey = key;
  }

  /** The channel connects lazily; the config fetch is the first try. */
  connect(): Promise<void> {
    return Promise.resolve();
  }

  async fetchConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const response = await this.#unary(PLUGIN_SERVICE.GetPluginConfig, { name }, signal, true);
    if (!response.found || !response.config) {
      // The reference's message names no plugin (wire.md §3.4 step 2).
      throw new RemoteCallError("Unable to retrieve configuration for external plugin");
    }
    return fromStruct(response.config);
  }

  async invoke(call: RemoteCall, options: HookCallOptions): Promise<RemoteReply> {
    const response = await this.#unary(
      PLUGIN_SERVICE.InvokeHook,
      preEncodedRequest(encodeInvokeRequest(call)),
      options.signal,
      false,
      call.traceContext,
    );
    if (isAllowResponse(response)) return { allow: true };
    return replyFromProto(response, this.#name);
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.#unary(CPEX_HEALTH_SERVICE.Check, {}, signal, false);
  }

  close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client) releaseChannel(this.#channelKey, client);
    return Promise.resolve();
  }

  /**
   * One unary call, cancelled by `signal`. A gRPC failure is a {@linkcode RemoteCallError}
   * (`retryable` as asked: only config fetches are tried again), an abort rejects with its
   * reason.
   */
  #unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    signal: AbortSignal,
    retryable: boolean,
    traceContext: Readonly<Record<string, string>> | null = null,
  ): Promise<Res> {
    const client = this.#client;
    const grpc = this.#grpc;
    if (!client || !grpc) {
      return Promise.reject(
        new RemoteCallError(`Plugin ${this.#name} is not initialized (or shut down)`),
      );
    }
    signal.throwIfAborted();
    const metadata = new grpc.Metadata();
    // W3C trace context travels as gRPC metadata (issue 15); the reference ignores it.
    if (traceContext !== null) {
      for (const key in traceContext) metadata.set(key, traceContext[key]);
    }
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        {},
        (error, value) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) reject(signal.reason);
          else if (error) reject(this.#rpcError(method.originalName, error, retryable));
          else if (value === undefined) reject(new RemoteCallError("Empty gRPC response"));
          else resolve(value);
        },
      );
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #rpcError(
    methodName: string,
    error: GrpcJsModule.ServiceError,
    retryable: boolean,
  ): RemoteCallError {
    const name = this.#grpc?.status[error.code] ?? String(error.code);
    // grpc-js fails a call it could not start (no connection) with these: never delivered,
    // so another replica may take it (issue 14).
    const status = this.#grpc?.status;
    const unavailable = error.code === status?.UNAVAILABLE;
    const unsent = unavailable &&
      /No connection established|Channel closed before call started/.test(error.details);
    // grpc-js reports a socket that died under a started call as UNAVAILABLE, or as INTERNAL
    // "RST_STREAM ... internal client error: write EPIPE" (never a server's own INTERNAL).
    const lost = unavailable ||
      (error.code === status?.INTERNAL &&
        /internal client error: (read|write) (ECONNRESET|EPIPE)/.test(error.details));
    return new RemoteCallError(
      `gRPC ${methodName} call failed: ${name} (${error.code}): ${error.details}`,
      {
        retryable: retryable || unsent,
        // The connection dropped after the call started, before the answer: the core may
        // send it to another replica.
        connectionLost: lost,
        details: { grpc_status: name, grpc_code: error.code },
        cause: error,
      },
    );
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
