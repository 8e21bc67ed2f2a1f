/**
 * Finds the `deno.json` a sandbox child needs: a `data:` main module gets no config of its
 * own, so the child is pointed at the one governing the plugin module (its import map
 * resolves `@cpex/core`, `npm:` aliases, ...), found the way Deno finds it for a file: the
 * nearest `deno.json` or `deno.jsonc` in the module's directory or above.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NAMES = ["deno.json", "deno.jsonc"];

/**
 * The config file for `specifier` (a `file:` URL), else for `fallback`; null when there is
 * none or the gateway may not look (no read permission there).
 */
export function findDenoConfig(specifier: string, fallback?: URL): string | null {
  for (const url of [specifier, fallback?.href]) {
    if (!url?.startsWith("file:")) continue;
    let dir = dirname(fileURLToPath(url));
    for (;;) {
      for (const name of NAMES) {
        const path = join(dir, name);
        try {
          if (Deno.statSync(path).isFile) return path;
        } catch {
          // Absent, or not readable by the gateway.
        }
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return null;
}
