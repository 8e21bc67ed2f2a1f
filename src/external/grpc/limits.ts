/**
 * Connection bounds of the gRPC server (issue 9 item 3): how many connections may be open, and
 * how long a peer may take at each stage before its connection is closed. With 500 slow
 * connections a server without them kept every one open for as long as the peer liked.
 *
 * - TLS handshake: `handshakeTimeout` of `node:tls` (its default is 120 s).
 * - HTTP/2 set-up: the client's preface and SETTINGS must arrive within the same bound after
 *   the session is created, else the session is destroyed.
 * - A request: from its HEADERS to its last byte within the same bound, else the stream is
 *   reset (every method we serve is unary; a running hook is not affected).
 * - Idle: a session without calls for `idleTimeoutMs` is closed with GOAWAY (grpc-js
 *   `grpc.max_connection_idle_ms`); clients reconnect on their next call.
 *
 * @module
 */
import { constants as http2Constants } from "node:http2";
import type * as GrpcJsModule from "@grpc/grpc-js";

/**
 * The bounds; see {@linkcode DEFAULT_GRPC_LIMITS}.
 */
export interface GrpcConnectionLimits {
  /** Connections open at once; more are closed on accept. */
  maxConnections: number;
  /** Bound on the TLS handshake, on the HTTP/2 preface and SETTINGS, and on receiving a request. */
  handshakeTimeoutMs: number;
  /** A connection without calls for this long is closed (GOAWAY). */
  idleTimeoutMs: number;
}

/**
 * Defaults: 1024 connections, 10 s per stage, 300 s idle (the Unix transport's idle bound,
 * after the reference's Unix server).
 */
export const DEFAULT_GRPC_LIMITS: Readonly<GrpcConnectionLimits> = Object.freeze({
  maxConnections: 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
});

/**
 * Resolves and checks the bounds (each a positive integer).
 */
export function resolveGrpcLimits(
  options: Partial<GrpcConnectionLimits> = {},
): GrpcConnectionLimits {
  const limits = {
    maxConnections: options.maxConnections ?? DEFAULT_GRPC_LIMITS.maxConnections,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_GRPC_LIMITS.handshakeTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_GRPC_LIMITS.idleTimeoutMs,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`gRPC server ${name} must be a positive integer, got ${value}`);
    }
  }
  return limits;
}

/**
 * The grpc-js server options for `limits`.
 */
export function grpcServerOptions(limits: GrpcConnectionLimits): GrpcJsModule.ServerOptions {
  return { "grpc.max_connection_idle_ms": limits.idleTimeoutMs };
}

interface Http2Stream {
  readonly readableEnded: boolean;
  once(event: string, fn: () => void): void;
  close(code: number): void;
}

interface Http2Session {
  once(event: string, fn: () => void): void;
  destroy(): void;
}

interface Http2Server {
  on(event: "session", fn: (session: Http2Session) => void): void;
  on(event: "stream", fn: (stream: Http2Stream) => void): void;
}

/** Runs `onLate` unless one of `events` of `target` came first. */
function deadline(
  target: { once(event: string, fn: () => void): void },
  events: string[],
  ms: number,
  onLate: () => void,
): void {
  const timer = setTimeout(onLate, ms);
  const clear = () => clearTimeout(timer);
  for (const event of events) target.once(event, clear);
}

/**
 * Applies the stage deadlines of `limits` to every HTTP/2 server `server` creates (hooks
 * grpc-js's internal `createHttp2Server`, as `tls.ts` does; throws if this grpc-js version lacks
 * it), and the TLS handshake bound to `credentials` when they are secure.
 */
export function enforceStageDeadlines(
  server: GrpcJsModule.Server,
  credentials: GrpcJsModule.ServerCredentials,
  limits: GrpcConnectionLimits,
): void {
  const ms = limits.handshakeTimeoutMs;
  const internal = server as unknown as {
    createHttp2Server?: (credentials: unknown) => Http2Server;
  };
  const original = internal.createHttp2Server;
  if (typeof original !== "function") {
    throw new Error("gRPC connection limits are not supported by this grpc-js version");
  }
  internal.createHttp2Server = function (this: unknown, creds: unknown): Http2Server {
    const http2Server = original.call(this, creds);
    http2Server.on("session", (session) => {
      deadline(session, ["remoteSettings", "close"], ms, () => session.destroy());
    });
    http2Server.on("stream", (stream) => {
      if (stream.readableEnded) return;
      deadline(
        stream,
        ["end", "close"],
        ms,
        () => stream.close(http2Constants.NGHTTP2_CANCEL),
      );
    });
    return http2Server;
  };
  if (credentials._isSecure()) {
    const secure = credentials as unknown as {
      _getConstructorOptions?: () => Record<string, unknown> | null;
    };
    const options = secure._getConstructorOptions;
    if (typeof options !== "function") {
      throw new Error("gRPC connection limits are not supported by this grpc-js version");
    }
    secure._getConstructorOptions = () => ({ ...options.call(credentials), handshakeTimeout: ms });
  }
}
