/**
 * The one place the gRPC transport loads `@grpc/grpc-js`. It is imported dynamically, after the
 * caller's permission preflight, because grpc-js reads nine `GRPC_*` environment variables
 * while its module is evaluated: a static import would crash a process without that
 * permission before any clear message could be printed.
 *
 * @module
 */
import type * as GrpcJsModule from "@grpc/grpc-js";

/**
 * The grpc-js module namespace.
 *
 * @example
 * ```ts
 * import type { GrpcJs } from "./grpc_js.ts";
 * const status = (grpc: GrpcJs) => grpc.status.OK;
 * ```
 */
export type GrpcJs = typeof GrpcJsModule;

let loaded: Promise<GrpcJs> | undefined;

/**
 * Imports grpc-js once. Call it only after the env preflight (see `permissions.ts`).
 *
 * @example
 * ```ts
 * import { loadGrpcJs } from "./grpc_js.ts";
 * const grpc = await loadGrpcJs();
 * console.log(grpc.status.UNAVAILABLE); // 14
 * ```
 */
export function loadGrpcJs(): Promise<GrpcJs> {
  return loaded ??= import("@grpc/grpc-js").catch((error) => {
    loaded = undefined;
    throw error;
  });
}
