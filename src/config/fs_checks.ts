/**
 * File-system checks used while validating config paths (TLS files, STDIO scripts and working
 * directories, Unix socket paths). Checks run only where the process may read the path: without
 * read permission a check reports `"unchecked"` and the path is accepted as written, so the
 * error surfaces (with Deno's permission message) when a transport actually uses it.
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { readEnv } from "./env.ts";

/** What a path points to, or `"unchecked"` when the process may not look. */
export type PathKind = "file" | "dir" | "other" | "missing" | "unchecked";

function mayRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Stats `path` (following symlinks) if the process may read it.
 */
export function pathKind(path: string): PathKind {
  if (!mayRead(path)) return "unchecked";
  try {
    const info = Deno.statSync(path);
    return info.isFile ? "file" : info.isDirectory ? "dir" : "other";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return "missing";
    }
    return "unchecked";
  }
}

/**
 * Whether a file has any execute bit set (`true` where modes are unknown, e.g. Windows, or
 * when the process may not look).
 */
export function isExecutable(path: string): boolean {
  if (!mayRead(path)) return true;
  try {
    const mode = Deno.statSync(path).mode;
    return mode === null || (mode & 0o111) !== 0;
  } catch {
    return true;
  }
}

/**
 * Expands a leading `~` or `~/` to `$HOME` (when HOME is readable); other paths unchanged.
 */
export function expandHome(path: string): string {
  if (path !== "~" && !path.startsWith("~/")) return path;
  const home = readEnv("HOME");
  return home ? join(home, path.slice(1)) : path;
}

/**
 * The canonical (absolute, symlinks resolved) form of an existing path, or the normalised
 * absolute form when it cannot be resolved (no permission, missing).
 */
export function canonicalPath(path: string): string {
  if (mayRead(path)) {
    try {
      return Deno.realPathSync(path);
    } catch {
      // fall through
    }
  }
  return isAbsolute(path) ? normalize(path) : path;
}

/** Result of {@linkcode checkSocketPath}: the canonical path or a problem. */
export type SocketPathCheck = { path: string; warning?: string } | { error: string };

/**
 * Validates a Unix socket path the way the `uds` fields require: non-blank, `~` expanded,
 * absolute, parent directory existing; returns it canonicalised (real parent + file name) and a
 * warning when the parent directory is world-writable without the sticky bit.
 */
export function checkSocketPath(raw: string): SocketPathCheck {
  if (raw.trim() === "") return { error: "must be a non-empty path" };
  const expanded = expandHome(raw.trim());
  if (!isAbsolute(expanded)) {
    return { error: `must be an absolute path; got ${JSON.stringify(raw)}` };
  }
  const parent = dirname(normalize(expanded));
  const kind = pathKind(parent);
  if (kind === "missing" || kind === "file" || kind === "other") {
    return { error: `parent directory ${parent} does not exist` };
  }
  const path = join(canonicalPath(parent), basename(normalize(expanded)));
  if (kind === "dir") {
    try {
      const mode = Deno.statSync(parent).mode;
      if (mode !== null && (mode & 0o002) !== 0 && (mode & 0o1000) === 0) {
        return { path, warning: `socket directory ${parent} is world-writable` };
      }
    } catch {
      // ignore: only a warning
    }
  }
  return { path };
}
