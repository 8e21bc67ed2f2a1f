/**
 * The schema contract of the public API: a small structural interface ({@linkcode Schema})
 * that every zod 4 schema satisfies as is. Built-in hook payload schemas are typed with it,
 * and the hook registry hands it back, so the package's public types do not depend on zod's
 * type declarations. Register custom hooks with zod schemas (the registry builds result
 * schemas with zod at run time).
 *
 * @module
 */

/**
 * One validation problem reported by {@linkcode Schema.safeParse}.
 *
 * @example
 * ```ts
 * import type { SchemaIssue } from "@cpex/core";
 * const issue: SchemaIssue = { path: ["args", "query"], message: "Expected string" };
 * ```
 */
export interface SchemaIssue {
  /** Where the problem is: object keys and array indexes from the root (empty for the root). */
  readonly path: readonly PropertyKey[];
  /** Human-readable description of the problem. */
  readonly message: string;
}

/**
 * What {@linkcode Schema.safeParse} returns: the validated value, or the issues found.
 *
 * @typeParam T The validated type.
 *
 * @example
 * ```ts
 * import type { SchemaParseResult } from "@cpex/core";
 * const ok: SchemaParseResult<number> = { success: true, data: 1 };
 * const bad: SchemaParseResult<number> = {
 *   success: false,
 *   error: { issues: [{ path: [], message: "Expected number" }] },
 * };
 * ```
 */
export type SchemaParseResult<T> =
  | {
    /** The input is valid. */
    readonly success: true;
    /** The validated value (defaults filled in, unknown fields dropped). */
    readonly data: T;
  }
  | {
    /** The input is invalid. */
    readonly success: false;
    /** Why the input is invalid. */
    readonly error: {
      /** Every problem found (at least one). */
      readonly issues: readonly SchemaIssue[];
    };
  };

/**
 * A validating schema for values of type `T`. Any zod 4 schema (`z.object(...)`, ...) is
 * one, structurally.
 *
 * @typeParam T The validated (output) type.
 *
 * @example
 * ```ts
 * import { type Schema, ToolPreInvokePayloadSchema, type ToolPreInvokePayload } from "@cpex/core";
 * const schema: Schema<ToolPreInvokePayload> = ToolPreInvokePayloadSchema;
 * const parsed = schema.safeParse({ name: "search" });
 * if (parsed.success) console.log(parsed.data.args); // {}
 * else console.log(parsed.error.issues.map((i) => i.message));
 * ```
 */
export interface Schema<T> {
  /**
   * Validates `data`.
   *
   * @param data The value to validate.
   * @returns The validated value.
   * @throws {Error} If `data` is invalid (a `ZodError` for zod schemas).
   */
  parse(data: unknown): T;
  /**
   * Validates `data` without throwing.
   *
   * @param data The value to validate.
   * @returns The validated value, or the issues found.
   */
  safeParse(data: unknown): SchemaParseResult<T>;
}
