/**
 * The Deno permissions of the MCP transports (measured on Deno 2.9, see
 * spec/deno-tls-permissions.md): an HTTP server or client needs `--allow-net=HOST:PORT`, plus
 * read access to its TLS files; over a Unix socket the three socket permissions (and, for a
 * client, net access to the URL's host, which is never dialled); a STDIO client needs
 * `--allow-run` for the command it starts. The MCP SDK itself reads no environment variables.
 *
 * @module
 */
import type { TlsConfig } from "../../types.ts";
import { type RequiredPermission, unixSocketPermissions } from "../permissions.ts";

/**
 * The net permission for `host:port` (`host` alone when the port is 0: any port may be picked).
 */
export function netPermission(host: string, port: number): RequiredPermission {
  const name = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const target = port === 0 ? name : `${name}:${port}`;
  return { descriptor: { name: "net", host: target }, flag: `--allow-net=${target}` };
}

/**
 * Read permissions for the TLS files that are set.
 */
export function tlsReadPermissions(tls: TlsConfig | null | undefined): RequiredPermission[] {
  if (!tls) return [];
  return [tls.certfile, tls.keyfile, tls.ca_bundle]
    .filter((p): p is string => typeof p === "string" && p !== "")
    .map((path) => ({ descriptor: { name: "read", path }, flag: `--allow-read=${path}` }));
}

/**
 * What the MCP Streamable HTTP server needs to listen on `host:port` or on the Unix socket
 * `uds`, with optional TLS files.
 */
export function httpServerPermissions(
  where: { host: string; port: number; uds?: string | null; tls?: TlsConfig | null },
): RequiredPermission[] {
  if (where.uds) return unixSocketPermissions(where.uds);
  return [netPermission(where.host, where.port), ...tlsReadPermissions(where.tls)];
}

/**
 * What the MCP Streamable HTTP client needs for `url` (over `uds` when set).
 */
export function httpClientPermissions(
  url: string,
  uds: string | null | undefined,
  tls: TlsConfig | null | undefined,
): RequiredPermission[] {
  const parsed = new URL(url);
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
  const host = parsed.hostname;
  const net = netPermission(host, port);
  if (uds) return [...unixSocketPermissions(uds), net];
  return [net, ...tlsReadPermissions(tls)];
}

/**
 * What the MCP STDIO client needs to start `command`.
 */
export function runPermission(command: string): RequiredPermission {
  return { descriptor: { name: "run", command }, flag: `--allow-run=${command}` };
}
