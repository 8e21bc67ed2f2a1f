/**
 * Precompiled acceptance checks for the payload schemas `invokeHook` validates on every call
 * (issue 13: zod's `safeParse` builds a full copy of the payload and cost ~0.5 µs per call).
 * A check answers only "zod would accept this": when it says false (or the schema has none),
 * zod runs as before and reports the exact issues, so what is rejected, and how, is unchanged.
 * Internal: not re-exported from the hooks module.
 *
 * @module
 */
import { z } from "zod";
import type { Schema } from "./schema.ts";
import { ToolPostInvokePayloadSchema, ToolPreInvokePayloadSchema } from "./tools.ts";

type Check = (value: unknown) => boolean;

/** zod's own test for `z.object()` input: a non-null, non-array object. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** zod's own plain-object test, as `z.record()` applies it. */
const isPlainObject: (value: unknown) => boolean = z.core.util.isPlainObject;

/**
 * True when `z.record(z.string(), z.unknown())` accepts `value`: zod's plain-object test, and no
 * own symbol keys (an enumerable one fails the string key schema; a non-enumerable one is
 * skipped by zod, and here only makes the check defer to zod).
 */
function isJsonObject(value: unknown): boolean {
  return isPlainObject(value) && Object.getOwnPropertySymbols(value).length === 0;
}

const CHECKS = new Map<Schema<unknown>, Check>([
  // { name: string, args?: record | null, headers?: header map | null }: a header map defers.
  [ToolPreInvokePayloadSchema, (v) => {
    if (!isObject(v) || typeof v.name !== "string") return false;
    const args = v.args;
    if (args !== undefined && args !== null && !isJsonObject(args)) return false;
    return v.headers === undefined || v.headers === null;
  }],
  // { name: string, result: anything but undefined }
  [
    ToolPostInvokePayloadSchema,
    (v) => isObject(v) && typeof v.name === "string" && v.result !== undefined,
  ],
]);

/**
 * True when `schema` has a precompiled check and it accepts `value` (zod would too); false
 * means "ask zod".
 *
 * @example
 * ```ts ignore
 * import { acceptsFast } from "./fast_checks.ts";
 * acceptsFast(ToolPreInvokePayloadSchema, { name: "search", args: {} }); // true
 * ```
 */
export function acceptsFast(schema: Schema<unknown>, value: unknown): boolean {
  const check = CHECKS.get(schema);
  return check !== undefined && check(value);
}
