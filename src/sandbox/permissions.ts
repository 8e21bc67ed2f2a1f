/**
 * A sandboxed plugin's `permissions:` block as a Worker's permission descriptor and as the
 * flags of a child `deno run`: exactly what is listed, nothing else (no `inherit`).
 *
 * @module
 */
import type { SandboxPermissions } from "../types.ts";
import { PERMISSION_NAMES } from "./schema.ts";

/** A Worker's `deno.permissions`: every name set, so none falls back to `inherit`. */
export function workerPermissions(p: SandboxPermissions): Deno.PermissionOptionsObject {
  const out: Record<string, boolean | string[]> = { sys: false };
  for (const name of PERMISSION_NAMES) {
    const value = p[name] ?? false;
    out[name] = Array.isArray(value) && value.length === 0 ? false : value;
  }
  return out as Deno.PermissionOptionsObject;
}

/** The `--allow-*` flags of a child `deno run` (none for an empty block). */
export function permissionFlags(p: SandboxPermissions): string[] {
  const flags: string[] = [];
  for (const name of PERMISSION_NAMES) {
    const value = p[name];
    if (value === true) flags.push(`--allow-${name}`);
    else if (Array.isArray(value) && value.length > 0) {
      flags.push(`--allow-${name}=${value.join(",")}`);
    }
  }
  return flags;
}

/** The block as `check` prints it: `read=/a,/b net` or `none`. */
export function describePermissions(p: SandboxPermissions | undefined | null): string {
  const parts: string[] = [];
  for (const name of PERMISSION_NAMES) {
    const value = p?.[name];
    if (value === true) parts.push(name);
    else if (Array.isArray(value) && value.length > 0) parts.push(`${name}=${value.join(",")}`);
  }
  return parts.length ? parts.join(" ") : "none";
}
