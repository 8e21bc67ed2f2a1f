/**
 * How a module `kind` (`./plugins/deny.ts#DenyList`) names a plugin class: resolving its
 * specifier against the config file and recognising a Plugin class. Shared by the loader and by
 * `cpex check`, which must not import the loader (it reaches the transports).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Plugin } from "../plugin.ts";
import type { PluginConfig } from "../types.ts";

/**
 * A relative or absolute `kind` is a file path: joined as a path and turned into a URL by
 * `node:url`, so `#`, `%` or spaces in a directory name stay part of the path (a hand-built
 * `file://` URL read them as a fragment or an escape: issue 10).
 */
export function resolveSpecifier(specifier: string, base: URL | undefined): string {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    if (base && base.protocol !== "file:") return new URL(specifier, base).href;
    const dir = base ? dirname(fileURLToPath(base)) : Deno.cwd();
    return pathToFileURL(resolve(dir, specifier)).href;
  }
  if (specifier.startsWith("/")) return pathToFileURL(specifier).href;
  return specifier;
}

/**
 * Splits a module `kind` into its specifier and export name, or returns null when `kind` is not
 * of the form `specifier#ExportName`.
 */
export function splitModuleKind(kind: string): { specifier: string; exportName: string } | null {
  const hash = kind.lastIndexOf("#");
  if (hash <= 0 || hash === kind.length - 1) return null;
  return { specifier: kind.slice(0, hash), exportName: kind.slice(hash + 1) };
}

/** True for a class that extends {@linkcode Plugin} (what a module `kind` must export). */
export function isPluginClass(
  value: unknown,
): value is new (config: PluginConfig) => Plugin {
  return typeof value === "function" && value.prototype instanceof Plugin;
}
