/**
 * The Deno permissions of the gRPC transport (measured with Deno 2.9.6 and grpc-js 1.14.7,
 * spec/deno-tls-permissions.md "Exact flags" (c) and (d)): the nine `GRPC_*` environment
 * variables grpc-js reads while its module is evaluated, network access to the bind address or
 * target (or read, write and `net=unix:` on a socket path), and read access to certificate
 * files. Proxy variables are not needed: our channels set `grpc.enable_http_proxy: 0`.
 *
 * @module
 */
import {
  PermissionPreflightError,
  type RequiredPermission,
  unixSocketPermissions,
} from "../permissions.ts";

/**
 * The environment variables grpc-js reads when it is imported; without read access to every
 * one of them the import fails with `NotCapable`.
 */
export const GRPC_ENV_VARS: readonly string[] = [
  "GRPC_TRACE",
  "GRPC_VERBOSITY",
  "GRPC_NODE_TRACE",
  "GRPC_NODE_VERBOSITY",
  "GRPC_SSL_CIPHER_SUITES",
  "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
  "GRPC_NODE_USE_ALTERNATIVE_RESOLVER",
  "GRPC_NODE_DEBUG_SEND_ERROR_DETAILS",
  "GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION",
];

/**
 * The `--allow-env` flag that covers {@linkcode GRPC_ENV_VARS}.
 */
export const GRPC_ENV_FLAG: string = `--allow-env=${GRPC_ENV_VARS.join(",")}`;

/**
 * Env permissions for importing grpc-js. Missing ones are reported together as one flag
 * listing all nine names (a partial grant is as useless as none).
 */
export function grpcEnvPermissions(): RequiredPermission[] {
  return GRPC_ENV_VARS.map((variable) => ({
    descriptor: { name: "env", variable },
    flag: GRPC_ENV_FLAG,
  }));
}

/**
 * Read permissions for the given files (certificates, keys, CA bundles); null entries are
 * skipped.
 */
export function fileReadPermissions(files: (string | null | undefined)[]): RequiredPermission[] {
  return files.filter((f): f is string => typeof f === "string" && f !== "").map((path) => ({
    descriptor: { name: "read", path },
    flag: `--allow-read=${path}`,
  }));
}

/** `host:port` with IPv6 literals bracketed. */
function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Network permission for listening on `host:port` (port 0: any port of the host), or the
 * three socket-path permissions for a Unix socket.
 */
export function grpcBindPermissions(
  bind: { host: string; port: number } | { uds: string },
): RequiredPermission[] {
  if ("uds" in bind) return unixSocketPermissions(bind.uds);
  const host = bind.port === 0 ? bind.host : hostPort(bind.host, bind.port);
  return [{ descriptor: { name: "net", host }, flag: `--allow-net=${host}` }];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Network permissions of a client channel to `target` (`host:port`): the address itself, and
 * for a DNS name also the bare host (Deno checks it for the name lookup). A `unix:` target
 * needs the socket-path permissions.
 */
export function grpcTargetPermissions(
  target: { host: string; port: number } | { uds: string },
): RequiredPermission[] {
  if ("uds" in target) return unixSocketPermissions(target.uds);
  const ip = IPV4.test(target.host) || target.host.includes(":");
  // `--allow-net=NAME` (no port) covers both the lookup and the connection to NAME:PORT.
  const host = ip ? hostPort(target.host, target.port) : target.host;
  return [{ descriptor: { name: "net", host }, flag: `--allow-net=${host}` }];
}

/**
 * Like `preflight()` from `../permissions.ts`, but names each missing flag once (the nine env
 * permissions share one flag).
 */
export function grpcPreflight(what: string, needed: RequiredPermission[]): void {
  const missing = new Set<string>();
  for (const p of needed) {
    if (Deno.permissions.querySync(p.descriptor).state !== "granted") missing.add(p.flag);
  }
  if (missing.size) throw new PermissionPreflightError(what, [...missing]);
}
