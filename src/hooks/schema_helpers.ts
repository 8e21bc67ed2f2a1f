/**
 * Small zod building blocks shared by the built-in hook payload schemas. Internal: not
 * re-exported from the hooks module.
 *
 * @module
 */
import { z } from "zod";
import type { Schema } from "./schema.ts";

/**
 * A JSON object with arbitrary values (Python `dict`).
 */
export function jsonObject(): z.ZodRecord<z.ZodString, z.ZodUnknown> {
  return z.record(z.string(), z.unknown());
}

/**
 * A field whose key must be present but whose value may be anything, `null` included
 * (Python `Any` without a default). Only `undefined` (a missing key) is rejected.
 */
export function requiredAny(): z.ZodType<unknown> {
  return z.custom<unknown>((value) => value !== undefined, {
    message: "Invalid input: required key (null is allowed)",
  });
}

/**
 * Views a public {@linkcode Schema} as the zod schema it is at run time, to compose it into
 * other zod schemas (`.nullable()`, `.default()`, ...). Only a type assertion: every built-in
 * schema is a zod schema, and the registry only accepts zod schemas.
 *
 * @param schema A schema that is a zod schema at run time.
 * @returns The same object, typed as a zod schema.
 */
export function asZod<T>(schema: Schema<T>): z.ZodType<T> {
  return schema as unknown as z.ZodType<T>;
}
