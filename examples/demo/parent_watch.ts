/**
 * Children of the demo must not outlive it (issue 12): the demo starts each child with a pipe
 * on its stdin that it never writes to. When the demo exits for any reason — Ctrl-C, SIGTERM,
 * SIGHUP (the terminal closed), or SIGKILL, which no handler sees — the kernel closes that pipe
 * and the child reads end-of-file, so it stops itself (a server closes its listener and
 * removes its socket file). A flag turns this on, so the example servers run on their own
 * (`deno task example:*`) do not stop when their stdin is closed or not a pipe.
 *
 * Reading stdin needs no permission.
 *
 * @module
 */

/** The flag the demo passes to its children. */
export const EXIT_WITH_PARENT = "--exit-with-parent";

/**
 * Splits {@linkcode EXIT_WITH_PARENT} off the command line.
 *
 * @example
 * ```ts
 * import { parentWatchFlag } from "./parent_watch.ts";
 * const { argv, watch } = parentWatchFlag(["--exit-with-parent", "/tmp/p.sock"]);
 * console.log(argv, watch); // ["/tmp/p.sock"] true
 * ```
 */
export function parentWatchFlag(argv: readonly string[]): { argv: string[]; watch: boolean } {
  return {
    argv: argv.filter((a) => a !== EXIT_WITH_PARENT),
    watch: argv.includes(EXIT_WITH_PARENT),
  };
}

/**
 * Calls `stop` once stdin reaches end-of-file (or fails): the parent is gone. The pending read
 * keeps the process alive, so a process that watches its parent ends with `Deno.exit`.
 *
 * @example
 * ```ts
 * import { whenParentExits } from "./parent_watch.ts";
 * whenParentExits(() => console.error("parent gone"));
 * ```
 */
export function whenParentExits(stop: () => unknown): void {
  (async () => {
    try {
      for await (const _ of Deno.stdin.readable) { /* the demo never writes */ }
    } catch { /* a broken pipe means the same */ }
    await stop();
  })();
}
