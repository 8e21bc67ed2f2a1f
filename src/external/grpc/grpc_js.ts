/**
 * The one place the gRPC transport loads `@grpc/grpc-js`. It is imported dynamically, after the
 * caller's permission preflight, because grpc-js reads nine `GRPC_*` environment variables
 * while its module is evaluated: a static import would crash a process without that
 * permission before any clear message could be printed.
 *
 * Before grpc-js is imported, the `node:http2` GOAWAY guard is installed (see
 * `goaway_guard.ts`): without it, a graceful shutdown of the peer can crash this process
 * natively on Deno 2.9 (denoland/deno#36788).
 *
 * @module
 */
import type * as GrpcJsModule from "@grpc/grpc-js";
import { type Http2Factories, installGoawayGuard } from "./goaway_guard.ts";

/**
 * The grpc-js module namespace.
 */
export type GrpcJs = typeof GrpcJsModule;

let loaded: Promise<GrpcJs> | undefined;

async function load(): Promise<GrpcJs> {
  const http2 = await import("node:http2");
  installGoawayGuard(http2.default as unknown as Http2Factories);
  return await import("@grpc/grpc-js");
}

/**
 * Imports grpc-js once, with the `node:http2` GOAWAY guard installed. Call it only after the
 * env preflight (see `permissions.ts`).
 */
export function loadGrpcJs(): Promise<GrpcJs> {
  return loaded ??= load().catch((error) => {
    loaded = undefined;
    throw error;
  });
}
