/**
 * Permission preflight for the CLI commands that touch the file system (`check`, `init`): each
 * states what it needs before doing anything, and a missing permission is reported as such,
 * with the flags to add, in the same words as `serve`'s transports (issue 12), never as an
 * invalid config.
 *
 * @module
 */

/**
 * A command lacks Deno permissions; `flags` lists the flags to add. Its name matches the
 * servers' preflight error, so every command reports a missing permission the same way.
 */
export class CommandPermissionError extends Error {
  /** The missing flags. */
  readonly flags: string[];
  /** Creates the error for `what` with the missing `flags` (and an optional detail). */
  constructor(what: string, flags: string[], detail?: string) {
    super(
      `The ${what} needs Deno permissions that were not granted; run with ${flags.join(" ")}` +
        (detail ? ` (${detail})` : ""),
    );
    this.name = "PermissionPreflightError";
    this.flags = flags;
  }
}

/** One permission and the flag that grants it. */
export interface NeededPermission {
  /** What to query. */
  descriptor: Deno.PermissionDescriptor;
  /** The flag that grants it. */
  flag: string;
}

/**
 * Throws {@linkcode CommandPermissionError} unless every permission is granted (under
 * `--no-prompt` an ungranted permission reports `prompt`, so only `granted` passes).
 */
export function preflight(what: string, needed: readonly NeededPermission[]): void {
  const missing = needed.filter((p) => Deno.permissions.querySync(p.descriptor).state !== "granted")
    .map((p) => p.flag);
  if (missing.length) throw new CommandPermissionError(what, [...new Set(missing)]);
}

/** True for the errors Deno raises when a permission is missing. */
export function isPermissionError(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}
