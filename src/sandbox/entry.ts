/**
 * The entry module of a sandbox: a `data:` module that statically imports the plugin module
 * and the sandbox runtime. Statically imported modules load without read permission, so the
 * sandbox needs none of its own (a dynamic `import()` of a local file would need
 * `--allow-read` for the plugin's source and every module it imports).
 *
 * @module
 */

/** Where a module plugin lives: its module URL and export name. */
export interface PluginModuleRef {
  /** The resolved module specifier (`file:`, `jsr:`, `npm:`, `https:`). */
  specifier: string;
  /** The exported class. */
  exportName: string;
}

/**
 * The `data:` URL of an entry module that serves `ref` with `serve` (`serveWorker` or
 * `serveProcess`) from the runtime module `runtime`.
 */
export function entryUrl(ref: PluginModuleRef, runtime: URL, serve: string): string {
  const source = `import * as plugin from ${JSON.stringify(ref.specifier)};\n` +
    `import { ${serve} } from ${JSON.stringify(runtime.href)};\n` +
    `${serve}(plugin[${JSON.stringify(ref.exportName)}]);\n`;
  return `data:application/javascript,${encodeURIComponent(source)}`;
}
