/**
 * Permission preflight of a sandboxed plugin: the gateway must hold every permission it grants
 * the plugin (a Worker cannot be given more than its parent), and `process` isolation needs the
 * right to run `deno`. Fails with the flags to add.
 *
 * @module
 */
import { PermissionPreflightError, type RequiredPermission } from "../external/permissions.ts";
import type { PluginConfig } from "../types.ts";
import { PERMISSION_NAMES } from "./schema.ts";

/** The permissions the gateway needs for `config`'s sandbox. */
export function sandboxPermissions(config: PluginConfig): RequiredPermission[] {
  const needed: RequiredPermission[] = [];
  if (config.isolation === "process") {
    const deno = Deno.execPath();
    needed.push({ descriptor: { name: "run", command: deno }, flag: `--allow-run=${deno}` });
    return needed;
  }
  const p = config.permissions ?? {};
  for (const name of PERMISSION_NAMES) {
    const value = p[name];
    if (value === true) {
      needed.push({ descriptor: { name } as Deno.PermissionDescriptor, flag: `--allow-${name}` });
      continue;
    }
    if (!Array.isArray(value)) continue;
    for (const item of value) {
      needed.push({ descriptor: descriptorOf(name, item), flag: `--allow-${name}=${item}` });
    }
  }
  return needed;
}

function descriptorOf(name: string, item: string): Deno.PermissionDescriptor {
  switch (name) {
    case "read":
    case "write":
    case "ffi":
      return { name, path: item } as Deno.PermissionDescriptor;
    case "net":
    case "import":
      return { name, host: item } as Deno.PermissionDescriptor;
    case "env":
      return { name: "env", variable: item };
    default:
      return { name: "run", command: item };
  }
}

/** Throws {@linkcode PermissionPreflightError} naming every missing flag. */
export function preflightSandbox(config: PluginConfig): void {
  const missing = sandboxPermissions(config)
    .filter((p) => Deno.permissions.querySync(p.descriptor).state !== "granted")
    .map((p) => p.flag);
  if (missing.length) {
    throw new PermissionPreflightError(
      `${config.isolation} sandbox of plugin ${JSON.stringify(config.name)}`,
      missing,
    );
  }
}
