/**
 * Shared pieces of the gRPC transport tests: our {@linkcode ExternalPluginServer} served over
 * gRPC in this process, gateway-side proxies with fast retries, and raw grpc-js calls that
 * send and receive bytes (to probe the server with garbage or to play a misbehaving server).
 * Nothing of the server, the client or the manager is mocked.
 *
 * Known Deno 2.9.6 problem (denoland/deno#36788; a received GOAWAY is now guarded by
 * `src/external/grpc/goaway_guard.ts`, the paths below are not): with a grpc-js client and a
 * grpc-js server in the same process,
 * node:http2 (nghttp2) occasionally crashes the whole process natively while sessions are torn
 * down: an assertion `stream->closed_next == NULL` in `find_stream_on_goaway_func` after an
 * oversized message was refused (about one in 60 in-process rounds), and a segmentation fault
 * once while an in-process server was closed under a connected client. Neither was seen with
 * client and server in two processes (1,000 rounds each), so the tests that provoke these paths
 * (oversized messages, server kill/restart) run the server as a subprocess
 * ({@linkcode Subprocess}).
 *
 * @module
 */
import { WAIT_MS } from "./subprocess.ts";
import { Buffer } from "node:buffer";
import type { Plugin, PluginConfigInput } from "../../mod.ts";
import { ExternalPluginServer, type ServeOptions, type ServerHandle } from "../../server.ts";
import { GrpcExternalPlugin, type GrpcPluginOptions } from "../../src/external/grpc/client.ts";
import { type GrpcJs, loadGrpcJs } from "../../src/external/grpc/grpc_js.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";

/**
 * A unique socket path under /tmp.
 *
 * @example
 * ```ts
 * console.log(socketPath("x").startsWith("/tmp/cpex-g-x-")); // true
 * ```
 */
export function socketPath(label: string): string {
  return `/tmp/cpex-g-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/**
 * Our plugin server served over gRPC in this process.
 *
 * @example
 * ```ts
 * const s = await startGrpcServer([], { port: 0 });
 * await s.close();
 * ```
 */
export interface RunningGrpcServer {
  /** The server. */
  readonly server: ExternalPluginServer;
  /** The transport handle. */
  readonly handle: ServerHandle;
  /** `host:port` or the socket path. */
  readonly address: string;
  /** Stops the transport and shuts the plugins down. */
  close(): Promise<void>;
}

/**
 * Hosts `plugins` and serves them over gRPC (no READY line, no signal handlers).
 *
 * @example
 * ```ts
 * const s = await startGrpcServer([], { port: 0 });
 * console.log(s.address);
 * await s.close();
 * ```
 */
export async function startGrpcServer(
  plugins: Plugin[],
  options: Omit<ServeOptions, "transport"> = {},
): Promise<RunningGrpcServer> {
  const server = new ExternalPluginServer({ plugins, manager: { logger: { warn: () => {} } } });
  const handle = await server.serve({
    transport: "grpc",
    printReady: false,
    handleSignals: false,
    ...(options.uds === undefined && options.port === undefined ? { port: 0 } : {}),
    ...options,
  });
  return {
    server,
    handle,
    address: handle.address,
    async close() {
      await handle.close();
      await server.shutdown();
    },
  };
}

/**
 * A gateway-side proxy for `name` at `address` (a socket path when it starts with `/`),
 * initialized, with millisecond retry sleeps.
 *
 * @example
 * ```ts
 * const s = await startGrpcServer([], { port: 0 });
 * await s.close();
 * ```
 */
export async function connectPlugin(
  address: string,
  config: Partial<PluginConfigInput> & { name: string },
  options: GrpcPluginOptions = {},
): Promise<GrpcExternalPlugin> {
  const grpcBlock = address.startsWith("/") ? { uds: address } : { target: address };
  const plugin = new GrpcExternalPlugin(
    { kind: "external", ...config, grpc: { ...grpcBlock, ...config.grpc } } as PluginConfigInput,
    { retryDelaysMs: [10, 20], ...options },
  );
  try {
    await plugin.initialize();
  } catch (error) {
    await plugin.shutdown();
    throw error;
  }
  return plugin;
}

/**
 * The outcome of a raw call: the reply bytes, or the gRPC status.
 *
 * @example
 * ```ts
 * const ok = (r: RawOutcome) => r.code === 0;
 * ```
 */
export interface RawOutcome {
  /** gRPC status code (0 = OK). */
  code: number;
  /** Status details. */
  details: string;
  /** The reply bytes when OK. */
  bytes: Uint8Array | null;
}

const identity = (b: Buffer) => b;

/**
 * A raw grpc-js client: unary calls with byte payloads to any path.
 *
 * @example
 * ```ts
 * const s = await startGrpcServer([], { port: 0 });
 * const raw = await RawGrpcClient.connect(s.address);
 * const r = await raw.call("/cpex.Health/Check", new Uint8Array(0));
 * raw.close();
 * await s.close();
 * ```
 */
export class RawGrpcClient {
  readonly #client: GrpcJsModule.Client;
  readonly #grpc: GrpcJs;

  private constructor(grpc: GrpcJs, client: GrpcJsModule.Client) {
    this.#grpc = grpc;
    this.#client = client;
  }

  /** Opens a channel to `address` (a socket path when it starts with `/`). */
  static async connect(
    address: string,
    credentials?: (grpc: GrpcJs) => GrpcJsModule.ChannelCredentials,
    options: Record<string, string | number> = {},
  ): Promise<RawGrpcClient> {
    const grpc = await loadGrpcJs();
    const target = address.startsWith("/") ? `unix://${address}` : address;
    const client = new grpc.Client(
      target,
      credentials ? credentials(grpc) : grpc.credentials.createInsecure(),
      { "grpc.enable_http_proxy": 0, "grpc.use_local_subchannel_pool": 1, ...options },
    );
    return new RawGrpcClient(grpc, client);
  }

  /** One unary call with `bytes` as the request message (deadline `WAIT_MS`). */
  call(path: string, bytes: Uint8Array, signal?: AbortSignal): Promise<RawOutcome> {
    return new Promise((resolve) => {
      const call = this.#client.makeUnaryRequest<Buffer, Buffer>(
        path,
        identity,
        identity,
        Buffer.from(bytes),
        new this.#grpc.Metadata(),
        { deadline: Date.now() + WAIT_MS },
        (error, value) => {
          if (error) resolve({ code: error.code, details: error.details, bytes: null });
          else resolve({ code: 0, details: "", bytes: new Uint8Array(value!) });
        },
      );
      signal?.addEventListener("abort", () => call.cancel(), { once: true });
    });
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}

/**
 * A raw grpc-js server whose unary handlers map request bytes to reply bytes (or a status), for
 * playing a misbehaving plugin server.
 *
 * @example
 * ```ts
 * const raw = await RawGrpcServer.start({ "/cpex.Health/Check": () => new Uint8Array([8, 1]) });
 * await raw.close();
 * ```
 */
export class RawGrpcServer {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly #server: GrpcJsModule.Server;

  private constructor(server: GrpcJsModule.Server, address: string) {
    this.#server = server;
    this.address = address;
  }

  /** Serves `handlers` (path → reply bytes or `{ code, details }`) on 127.0.0.1, a free port. */
  static async start(
    handlers: Record<
      string,
      (request: Uint8Array) => Uint8Array | { code: number; details: string }
    >,
    address = "127.0.0.1:0",
  ): Promise<RawGrpcServer> {
    const grpc = await loadGrpcJs();
    const server = new grpc.Server();
    const byService = new Map<string, Record<string, string>>();
    for (const path of Object.keys(handlers)) {
      const [, service, method] = path.split("/");
      byService.set(service, { ...byService.get(service), [method]: path });
    }
    for (const methods of byService.values()) {
      const definition: Record<string, unknown> = {};
      const implementation: Record<string, unknown> = {};
      for (const [method, path] of Object.entries(methods)) {
        definition[method] = {
          path,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        };
        implementation[method] = (
          call: GrpcJsModule.ServerUnaryCall<Buffer, Buffer>,
          callback: GrpcJsModule.sendUnaryData<Buffer>,
        ) => {
          const out = handlers[path](new Uint8Array(call.request));
          if (out instanceof Uint8Array) callback(null, Buffer.from(out));
          else callback(out);
        };
      }
      server.addService(
        definition as unknown as GrpcJsModule.ServiceDefinition,
        implementation as GrpcJsModule.UntypedServiceImplementation,
      );
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        address,
        grpc.ServerCredentials.createInsecure(),
        (e, p) => e ? reject(e) : resolve(p),
      )
    );
    return new RawGrpcServer(server, `127.0.0.1:${port}`);
  }

  /** Stops the server. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.tryShutdown(() => resolve()));
  }
}

/**
 * Waits until grpc-js's reconnect-backoff timers of closed channels have fired. grpc-js does not
 * cancel a subchannel's backoff timer when its channel closes (it is unref'd and fires once,
 * after at most `grpc.max_reconnect_backoff_ms` plus 20 % jitter: 1.2 s with our default
 * channel options), which the test sanitizers would report as a leaked timer. Call it after
 * shutting down a plugin whose channel saw connection failures.
 *
 * @example
 * ```ts
 * await settleBackoffTimers(250);
 * ```
 */
export function settleBackoffTimers(ms = 1_300): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Channel options with a 100 ms reconnect-backoff cap, for tests that fail connections on
 * purpose (then {@linkcode settleBackoffTimers} with 250 ms is enough).
 *
 * @example
 * ```ts
 * console.log(FAST_BACKOFF["grpc.max_reconnect_backoff_ms"]); // 100
 * ```
 */
export const FAST_BACKOFF: Record<string, number> = {
  "grpc.initial_reconnect_backoff_ms": 50,
  "grpc.min_reconnect_backoff_ms": 50,
  "grpc.max_reconnect_backoff_ms": 100,
};

/**
 * A free TCP port on 127.0.0.1 (bound and released at once).
 *
 * @example
 * ```ts
 * console.log(freePort() > 0); // true
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export { Subprocess, WAIT_MS, within } from "./subprocess.ts";
