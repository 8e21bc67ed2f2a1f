/**
 * Watches a path's mode from another process while a server starts: `mode_watcher.ts PATH`
 * prints `READY`, then calls `lstat` in a tight loop and records every mode it sees, until the
 * path has existed for 1 s (or 60 s passed), and prints the modes seen as a JSON array of
 * numbers (permission bits only).
 *
 * @module
 */
const path = Deno.args[0];
await Deno.stdout.write(new TextEncoder().encode("READY\n"));
const seen = new Set<number>();
const end = Date.now() + 60_000;
let firstSeen = 0;
while (Date.now() < end) {
  try {
    const info = Deno.lstatSync(path);
    seen.add((info.mode ?? 0) & 0o7777);
    firstSeen ||= Date.now();
  } catch {
    // Not there yet.
  }
  if (firstSeen && Date.now() - firstSeen > 1_000) break;
}
console.log(JSON.stringify([...seen]));
