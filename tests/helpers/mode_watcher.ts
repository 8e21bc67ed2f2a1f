/**
 * Watches a path's mode from another process while servers start and stop on it:
 * `mode_watcher.ts PATH DONE_PATH` prints `READY`, then calls `lstat` on PATH in a tight loop and
 * records every mode it sees, until DONE_PATH exists (or 60 s passed), and prints the modes seen
 * as a JSON array of numbers (permission bits only).
 *
 * @module
 */
const [path, donePath] = Deno.args;
await Deno.stdout.write(new TextEncoder().encode("READY\n"));
const seen = new Set<number>();
const end = Date.now() + 60_000;
for (let i = 0; Date.now() < end; i++) {
  try {
    seen.add((Deno.lstatSync(path).mode ?? 0) & 0o7777);
  } catch {
    // Not there (yet, or any more).
  }
  if (i % 1000 === 0) {
    try {
      Deno.lstatSync(donePath);
      break;
    } catch {
      // Keep watching.
    }
  }
}
console.log(JSON.stringify([...seen]));
