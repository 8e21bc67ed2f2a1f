/**
 * Permission preflight: before a transport listens or connects, check exactly the Deno
 * permissions it needs and fail with a message naming every missing flag.
 *
 * @module
 */

/**
 * One permission a transport needs, with the flag that grants it.
 */
export interface RequiredPermission {
  /** What to query. */
  descriptor: Deno.PermissionDescriptor;
  /** The command-line flag that grants it. */
  flag: string;
}

/**
 * Raised when permissions are missing; `flags` lists the flags to add.
 *
 * @example
 * ```ts
 * import { PermissionPreflightError } from "@cpex/core";
 * const e = new PermissionPreflightError("unix socket server", ["--allow-read=/tmp/p.sock"]);
 * console.log(e.flags.length); // 1
 * ```
 */
export class PermissionPreflightError extends Error {
  /** The missing flags. */
  readonly flags: string[];
  /** Creates the error for `what` with the missing `flags`. */
  constructor(what: string, flags: string[]) {
    super(`The ${what} needs Deno permissions that were not granted; run with ${flags.join(" ")}`);
    this.name = "PermissionPreflightError";
    this.flags = flags;
  }
}

/**
 * Throws {@linkcode PermissionPreflightError} unless every permission is granted. Under
 * `--no-prompt` an ungranted permission reports `prompt`, so only `granted` passes.
 */
export function preflight(what: string, needed: RequiredPermission[]): void {
  const missing = needed
    .filter((p) => Deno.permissions.querySync(p.descriptor).state !== "granted")
    .map((p) => p.flag);
  if (missing.length) throw new PermissionPreflightError(what, missing);
}

/**
 * The permissions a Unix socket listener or client needs for `path` (read, write and
 * `net=unix:PATH`, as measured on Deno 2.9).
 */
export function unixSocketPermissions(path: string): RequiredPermission[] {
  return [
    { descriptor: { name: "read", path }, flag: `--allow-read=${path}` },
    { descriptor: { name: "write", path }, flag: `--allow-write=${path}` },
    { descriptor: { name: "net", host: `unix:${path}` }, flag: `--allow-net=unix:${path}` },
  ];
}
