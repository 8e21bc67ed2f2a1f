/**
 * Config schema of sandboxed plugins (issue 16): the `isolation`, `permissions`, `memory_mb`
 * and `workers` keys of a plugin entry, and the checks across them. The reference ignores
 * these keys, so a file using them still loads there (running the plugin unsandboxed).
 *
 * @module
 */
import { z } from "zod";
import { choiceField, describeValue, integerField } from "../config/scalars.ts";
import type { Isolation, SandboxPermissions } from "../types.ts";

/** The isolation levels. */
export const ISOLATION_LEVELS = ["none", "worker", "process"] as const;

/** The permission names a sandboxed plugin may be granted. */
export const PERMISSION_NAMES = ["read", "write", "net", "env", "run", "ffi", "import"] as const;

/** Most workers or processes one plugin may have. */
export const MAX_SANDBOX_WORKERS = 64;

/**
 * Default `max_stuck`: how many Worker threads stuck in synchronous code (which Deno 2.9
 * cannot stop) one plugin may leak before it gets no more workers.
 */
export const DEFAULT_MAX_STUCK = 2;

const permissionValue = z.unknown().transform((value, ctx): boolean | string[] => {
  if (typeof value === "boolean") return value;
  if (Array.isArray(value) && value.every((v) => typeof v === "string" && v.trim() !== "")) {
    // A comma would split one Deno flag value into two grants.
    const bad = value.find((v) => v.includes(","));
    if (bad === undefined) return [...new Set(value as string[])];
    ctx.addIssue({ code: "custom", message: `a value may not contain ',': ${describeValue(bad)}` });
    return false;
  }
  ctx.addIssue({
    code: "custom",
    message: `expected true, false or a list of non-empty strings; got ${describeValue(value)}`,
  });
  return false;
});

/** `permissions:`: a mapping of the Deno permission names; any other key is an error. */
export const permissionsSchema: z.ZodType<SandboxPermissions> = z.record(z.string(), z.unknown())
  .transform((raw, ctx): SandboxPermissions => {
    const out: Record<string, boolean | string[]> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (!(PERMISSION_NAMES as readonly string[]).includes(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `unknown permission '${key}'; known: ${PERMISSION_NAMES.join(", ")}`,
        });
        continue;
      }
      if (value === null) continue;
      const parsed = permissionValue.safeParse(value);
      if (parsed.success) out[key] = parsed.data;
      else {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: "custom", path: [key], message: issue.message });
        }
      }
    }
    return out;
  });

/** The sandbox keys of a plugin entry (all optional: absent means not set). */
export const sandboxShape = {
  isolation: choiceField(ISOLATION_LEVELS).optional(),
  permissions: permissionsSchema.nullable().optional(),
  memory_mb: integerField({ min: 16 }).optional(),
  workers: integerField({ min: 1, max: MAX_SANDBOX_WORKERS }).optional(),
  max_stuck: integerField({ min: 1, max: MAX_SANDBOX_WORKERS }).optional(),
};

/** The sandbox keys as parsed. */
export interface SandboxKeys {
  kind: string;
  isolation?: Isolation;
  permissions?: SandboxPermissions | null;
  memory_mb?: number;
  workers?: number;
  max_stuck?: number;
}

/**
 * Checks across the sandbox keys: a sandbox needs a module plugin (`module.ts#Export`), and
 * `permissions`, `workers` and `memory_mb` never silently do nothing (a plugin someone believes
 * confined must not run with the gateway's rights).
 */
export function checkSandboxKeys(p: SandboxKeys, ctx: z.RefinementCtx): void {
  const isolation = p.isolation ?? "none";
  if (isolation === "none") {
    for (const key of ["permissions", "workers", "memory_mb", "max_stuck"] as const) {
      if (p[key] != null) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `'${key}' needs 'isolation: worker' or 'isolation: process' ` +
            `(isolation: none runs the plugin with the gateway's own rights)`,
        });
      }
    }
    return;
  }
  const hash = p.kind.lastIndexOf("#");
  if (p.kind === "external" || hash <= 0 || hash === p.kind.length - 1) {
    ctx.addIssue({
      code: "custom",
      path: ["isolation"],
      message: `isolation '${isolation}' needs a module plugin (kind: ./module.ts#ExportName); ` +
        `got kind ${describeValue(p.kind)}`,
    });
  }
  if (isolation === "worker" && p.memory_mb != null) {
    ctx.addIssue({
      code: "custom",
      path: ["memory_mb"],
      message: "'memory_mb' needs 'isolation: process' (a Deno Worker has no heap limit)",
    });
  }
  if (isolation === "process" && p.max_stuck != null) {
    ctx.addIssue({
      code: "custom",
      path: ["max_stuck"],
      message: "'max_stuck' needs 'isolation: worker' (a process is really killed: it never leaks)",
    });
  }
}

/** Drops the sandbox keys that are not set, so plain plugin configs stay as they were. */
export function dropUnsetSandboxKeys(p: Record<string, unknown>): void {
  for (const key of ["isolation", "permissions", "memory_mb", "workers", "max_stuck"]) {
    if (p[key] === undefined || p[key] === null) delete p[key];
  }
}
