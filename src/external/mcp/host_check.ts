/**
 * The reference's Host and Origin checks of the MCP HTTP server against DNS rebinding, applied
 * when it is bound to loopback or a Unix socket (wire.md §2.2).
 *
 * @module
 */

/** Bind hosts on which the Host/Origin checks apply. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set([
  "127.0.0.1",
  "localhost",
  "::1",
  "[::1]",
]);
const ALLOWED_HOST_BASES = ["127.0.0.1", "localhost", "[::1]"];

/** `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`; also without a port over a Unix socket. */
export function hostAllowed(host: string, portless: boolean): boolean {
  for (const base of ALLOWED_HOST_BASES) {
    if (host === base) return portless;
    if (host.startsWith(base + ":") && /^\d+$/.test(host.slice(base.length + 1))) return true;
  }
  return false;
}

/** `http(s)://` plus an allowed host (see {@linkcode hostAllowed}). */
export function originAllowed(origin: string, portless: boolean): boolean {
  for (const scheme of ["http://", "https://"]) {
    if (origin.startsWith(scheme)) return hostAllowed(origin.slice(scheme.length), portless);
  }
  return false;
}
