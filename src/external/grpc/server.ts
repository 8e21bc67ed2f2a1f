/**
 * The gRPC transport, server side: `cpex.PluginService`, `cpex.Health` and the standard
 * `grpc.health.v1.Health` over grpc-js, on `host:port` (plain, TLS or mTLS) or on a Unix socket
 * (`unix://` path, mode 0600, never TLS).
 *
 * Settings follow the reference's runtime (wire.md §4.4): the YAML `grpc_server_settings`
 * block when present (then the environment is ignored entirely, TLS included), else the
 * `PLUGINS_GRPC_SERVER_*` variables, else `127.0.0.1:50051`. Explicit `serve()` options
 * override both: `uds` binds the socket, `host`/`port` bind TCP (port 0 picks a free one), and
 * `tls` replaces the TLS block (`null` turns TLS off).
 *
 * grpc-js is imported only after the permission preflight (see `grpc_js.ts`).
 *
 * @module
 */
import type { OwnedSocket } from "../socket_file.ts";
import {
  formatHostPort,
  listenTcp,
  listenUnix,
  releaseListener,
  startLifecycle,
} from "../server_lifecycle.ts";
import { ConfigError } from "../../errors.ts";
import { grpcServerConfigFromEnv } from "../../config/from_env.ts";
import { type GrpcServerConfig, grpcServerTlsSchema } from "../../config/transport_schema.ts";
import type { ExternalPluginServer, ServeOptions, ServerHandle } from "../server.ts";
import { loadGrpcJs } from "./grpc_js.ts";
import { readTraceCarrier } from "../../observability/trace_context.ts";
import { getPluginConfig, getPluginConfigs, invokeHook } from "./handlers.ts";
import { enforceStageDeadlines, grpcServerOptions, resolveGrpcLimits } from "./limits.ts";
import { acceptConnections } from "./listener.ts";
import {
  fileReadPermissions,
  grpcBindPermissions,
  grpcEnvPermissions,
  grpcPreflight,
} from "./permissions.ts";
import {
  CPEX_HEALTH_SERVICE,
  HEALTH_SERVICE_NAMES,
  PLUGIN_SERVICE,
  STANDARD_HEALTH_SERVICE,
} from "./service.ts";
import { rejectUnverifiedPeers, serverCredentials } from "./tls.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";
import type { Duplex } from "node:stream";

/** The reference's defaults. */
export const DEFAULT_GRPC_HOST = "127.0.0.1";
/** The reference's default port. */
export const DEFAULT_GRPC_PORT = 50051;
/** How long `close()` lets in-flight calls finish before cancelling them (the reference's 5 s). */
export const GRPC_SHUTDOWN_GRACE_MS = 5_000;

/**
 * Options of {@linkcode serveGrpc}: the gRPC fields of {@linkcode ServeOptions} (`tls` takes
 * `certfile`, `keyfile`, `ca_bundle`, `client_auth`; `null` turns TLS off), unset ones from the
 * YAML block or the environment, plus the grace period of `close()`.
 */
export interface GrpcServeOptions extends
  Pick<
    ServeOptions,
    | "host"
    | "port"
    | "uds"
    | "tls"
    | "printReady"
    | "handleSignals"
    | "maxConnections"
    | "handshakeTimeoutMs"
    | "idleTimeoutMs"
  > {
  /** Grace period of `close()` for in-flight calls, in ms (default 5000). */
  graceMs?: number;
}

/**
 * Where and how the server listens, after precedence is applied.
 */
export type GrpcServerSettings = GrpcServerConfig;

/**
 * Applies the settings precedence: explicit options, else the YAML block, else the
 * environment, else the defaults. Throws a {@linkcode ConfigError} for invalid explicit TLS and
 * an `Error` for TLS over a Unix socket.
 */
export function resolveGrpcServerSettings(
  configured: GrpcServerConfig | null | undefined,
  options: GrpcServeOptions = {},
): GrpcServerSettings {
  const base: GrpcServerConfig = configured ?? grpcServerConfigFromEnv() ??
    { host: DEFAULT_GRPC_HOST, port: DEFAULT_GRPC_PORT, uds: null, tls: null };
  let { host, port, uds } = base;
  if (options.uds !== undefined) {
    if (!options.uds.startsWith("/")) {
      throw new Error(`gRPC server uds must be an absolute path, got '${options.uds}'`);
    }
    uds = options.uds;
  } else if (options.host !== undefined || options.port !== undefined) {
    host = options.host ?? host;
    port = options.port ?? port;
    uds = null;
  }
  let tls = base.tls;
  if (options.tls !== undefined) {
    if (options.tls === null) tls = null;
    else {
      const parsed = grpcServerTlsSchema.safeParse(options.tls);
      if (!parsed.success) {
        throw new ConfigError(
          "serve() options",
          parsed.error.issues.map((i) => ({
            path: ["tls", ...i.path.map(String)].join("."),
            message: i.message,
          })),
        );
      }
      tls = parsed.data;
    }
  }
  if (uds !== null && tls !== null) {
    throw new Error(
      `TLS over a Unix socket is not supported by the gRPC transport (socket ${uds}): ` +
        "bind host:port to use TLS, or remove the tls settings",
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`gRPC server port must be an integer in 0..65535, got ${port}`);
  }
  return { host, port, uds, tls };
}

/** Binds TCP, or the Unix socket (born 0600, issue 9 item 8); errors name the address. */
async function listen(
  settings: GrpcServerSettings,
): Promise<{ listener: Deno.Listener; socket: OwnedSocket | null }> {
  if (settings.uds) return await listenUnix(settings.uds, "grpc");
  return { listener: listenTcp(settings.host, settings.port, "grpc"), socket: null };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Serves `server` over gRPC. Checks the Deno permissions first (network or socket path, the
 * nine `GRPC_*` env names, the certificate files) and fails naming every missing flag.
 */
export async function serveGrpc(
  server: ExternalPluginServer,
  options: GrpcServeOptions = {},
): Promise<ServerHandle> {
  const settings = resolveGrpcServerSettings(server.config?.grpc_server_settings, options);
  const limits = resolveGrpcLimits(options);
  const tls = settings.tls;
  grpcPreflight("gRPC plugin server", [
    ...grpcBindPermissions(
      settings.uds ? { uds: settings.uds } : { host: settings.host, port: settings.port },
    ),
    ...grpcEnvPermissions(),
    ...fileReadPermissions([tls?.certfile, tls?.keyfile, tls?.ca_bundle]),
  ]);
  await server.initialize();
  const grpc = await loadGrpcJs();
  const creds = await serverCredentials(grpc, tls);

  const gserver = new grpc.Server(grpcServerOptions(limits));
  if (creds.rejectUnverifiedPeers) rejectUnverifiedPeers(gserver);
  enforceStageDeadlines(gserver, creds.credentials, limits);
  const internal = (details: string) => ({ code: grpc.status.INTERNAL, details });
  gserver.addService(PLUGIN_SERVICE as unknown as GrpcJsModule.ServiceDefinition, {
    GetPluginConfig: (
      call: GrpcJsModule.ServerUnaryCall<Parameters<typeof getPluginConfig>[1], unknown>,
      callback: GrpcJsModule.sendUnaryData<unknown>,
    ) => {
      try {
        callback(null, getPluginConfig(server, call.request));
      } catch (error) {
        callback(internal(describe(error)));
      }
    },
    GetPluginConfigs: (
      _call: GrpcJsModule.ServerUnaryCall<unknown, unknown>,
      callback: GrpcJsModule.sendUnaryData<unknown>,
    ) => {
      try {
        callback(null, getPluginConfigs(server));
      } catch (error) {
        callback(internal(describe(error)));
      }
    },
    InvokeHook: (
      call: GrpcJsModule.ServerUnaryCall<Parameters<typeof invokeHook>[1], unknown>,
      callback: GrpcJsModule.sendUnaryData<unknown>,
    ) => {
      // W3C trace context from the metadata (issue 15); absent from the reference's gateway.
      const traceContext = readTraceCarrier((key) => call.metadata.get(key)[0]);
      invokeHook(server, call.request, traceContext).then(
        (response) => callback(null, response),
        (error) => callback(internal(describe(error))),
      );
    },
  });
  gserver.addService(CPEX_HEALTH_SERVICE as unknown as GrpcJsModule.ServiceDefinition, {
    Check: (
      _call: GrpcJsModule.ServerUnaryCall<unknown, unknown>,
      callback: GrpcJsModule.sendUnaryData<unknown>,
    ) => callback(null, { status: 1 }),
  });
  gserver.addService(STANDARD_HEALTH_SERVICE as unknown as GrpcJsModule.ServiceDefinition, {
    Check: (
      call: GrpcJsModule.ServerUnaryCall<{ service?: string }, unknown>,
      callback: GrpcJsModule.sendUnaryData<unknown>,
    ) => {
      const service = call.request.service ?? "";
      if (HEALTH_SERVICE_NAMES.has(service)) callback(null, { status: 1 });
      else callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${service}` });
    },
  });

  // Our own accept loop (issue 9 item 3): grpc-js's bindAsync goes through Deno's node:net
  // loop, which stops for good at the first EMFILE.
  let bound: { listener: Deno.Listener; socket: OwnedSocket | null };
  try {
    bound = await listen(settings);
  } catch (error) {
    gserver.forceShutdown();
    throw error;
  }
  const { listener, socket } = bound;
  const injector = gserver.createConnectionInjector(creds.credentials);
  const accepting = acceptConnections(
    listener,
    (stream) => injector.injectConnection(stream as unknown as Duplex),
    limits.maxConnections,
  );
  const address = settings.uds ??
    formatHostPort(settings.host, (listener.addr as Deno.NetAddr).port);
  const graceMs = options.graceMs ?? GRPC_SHUTDOWN_GRACE_MS;
  const stop = async (): Promise<void> => {
    accepting.stop();
    if (await releaseListener(listener, socket)) await accepting.finished;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        gserver.forceShutdown();
        resolve();
      }, graceMs);
      gserver.tryShutdown(() => resolve());
    });
    clearTimeout(timer);
    // Connections still in their TLS handshake are not grpc-js sessions yet.
    accepting.destroyAll();
  };
  const { handle } = await startLifecycle({
    transport: "grpc",
    address,
    printReady: options.printReady,
    handleSignals: options.handleSignals,
    stop,
  });
  return handle;
}
