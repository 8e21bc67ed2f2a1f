/**
 * Scalar field schemas shared by the config schemas: integers and numbers that accept numeric
 * strings (as the reference's lax validation does), booleans with the usual spellings, and the
 * wording of "expected X; got Y" messages.
 *
 * @module
 */
import { z } from "zod";

/**
 * Renders a config value for an error message: strings quoted, containers named.
 *
 * @example
 * ```ts
 * import { describeValue } from "./scalars.ts";
 * describeValue("SEQUENTIAL"); // '"SEQUENTIAL"'
 * describeValue([1]); // "a list"
 * ```
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (value instanceof Set) return "a set";
  if (value instanceof Date) return "a timestamp";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/**
 * The message for a value that is not what a field expects: `expected an integer; got 1.5`,
 * or `required: expected a string` when the field is missing.
 *
 * @example
 * ```ts
 * import { expectedMessage } from "./scalars.ts";
 * expectedMessage("a string", 5); // "expected a string; got 5"
 * ```
 */
export function expectedMessage(what: string, value: unknown): string {
  return value === undefined
    ? `required: expected ${what}`
    : `expected ${what}; got ${describeValue(value)}`;
}

/**
 * The English name of a zod type name for messages (`array` → `a list`).
 *
 * @example
 * ```ts
 * import { typeName } from "./scalars.ts";
 * typeName("object"); // "a mapping"
 * ```
 */
export function typeName(expected: string): string {
  switch (expected) {
    case "array":
    case "tuple":
    case "set":
      return "a list";
    case "object":
    case "record":
    case "map":
      return "a mapping";
    case "int":
      return "an integer";
    case "undefined":
    case "null":
      return expected;
    default:
      return `a ${expected}`;
  }
}

// Pydantic's lax grammars (issue 11 item 6): ints allow `_` between digits and a `.0…` tail
// ("5.0" -> 5); floats are Python float() text. Checked against the reference's models.
const INTEGER_STRING = /^\s*[+-]?\d+(?:_\d+)*(?:\.0+)?\s*$/;
const NUMBER_STRING =
  /^\s*[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?\s*$/;
const TRUE_SPELLINGS = new Set(["1", "true", "t", "yes", "y", "on"]);
const FALSE_SPELLINGS = new Set(["0", "false", "f", "no", "n", "off"]);

/** The number in a string that matched one of the grammars above. */
function numeric(text: string): number {
  return Number(text.replaceAll("_", ""));
}

/**
 * Parses an integer the lax way pydantic does: numbers with an integral value, booleans
 * (`true` is 1), and integer strings (`"5"`, `"1_000"`, `"5.0"`). Returns `undefined` for
 * anything else (`"1.5"`, `1.5`, `"abc"`, `null`).
 *
 * @example
 * ```ts
 * import { toInteger } from "./scalars.ts";
 * toInteger("5"); // 5
 * toInteger(true); // 1
 * toInteger(1.5); // undefined
 * ```
 */
export function toInteger(value: unknown): number | undefined {
  if (typeof value === "boolean") return value ? 1 : 0;
  const n = typeof value === "string" && INTEGER_STRING.test(value) ? numeric(value) : value;
  return typeof n === "number" && Number.isSafeInteger(n) ? n + 0 : undefined;
}

/**
 * Parses a finite number the lax way pydantic does: numbers, booleans and numeric strings
 * (`"0.5"`, `"1_000"`, `"1e3"`). `undefined` otherwise, also for infinities and NaN (which the
 * reference accepts).
 *
 * @example
 * ```ts
 * import { toNumber } from "./scalars.ts";
 * toNumber("0.5"); // 0.5
 * ```
 */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "boolean") return value ? 1 : 0;
  const n = typeof value === "string" && NUMBER_STRING.test(value) ? numeric(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

/**
 * Parses a boolean: `true`/`false`, `0`/`1`, and the strings true/false, 1/0, yes/no, on/off,
 * t/f, y/n (case-insensitive, trimmed). `undefined` otherwise.
 *
 * @example
 * ```ts
 * import { toBoolean } from "./scalars.ts";
 * toBoolean("Off"); // false
 * ```
 */
export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value !== "string") return undefined;
  const s = value.trim().toLowerCase();
  if (TRUE_SPELLINGS.has(s)) return true;
  if (FALSE_SPELLINGS.has(s)) return false;
  return undefined;
}

/** Bounds of a numeric field. */
export interface Bounds {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Value must be greater than this (exclusive). */
  above?: number;
}

function boundsMessage(b: Bounds): string {
  const parts: string[] = [];
  if (b.above !== undefined) parts.push(`greater than ${b.above}`);
  if (b.min !== undefined && b.max !== undefined) parts.push(`between ${b.min} and ${b.max}`);
  else if (b.min !== undefined) parts.push(`at least ${b.min}`);
  else if (b.max !== undefined) parts.push(`at most ${b.max}`);
  return parts.join(" and ");
}

function inBounds(n: number, b: Bounds): boolean {
  return (b.min === undefined || n >= b.min) && (b.max === undefined || n <= b.max) &&
    (b.above === undefined || n > b.above);
}

/**
 * A zod schema for an integer field: integral numbers and integer strings are accepted,
 * non-integral numbers rejected with "expected an integer; got 1.5".
 *
 * @example
 * ```ts
 * import { integerField } from "./scalars.ts";
 * integerField({ min: 0 }).default(3).parse("7"); // 7
 * ```
 */
export function integerField(bounds: Bounds = {}): z.ZodType<number> {
  return z.unknown().transform((value, ctx): number => {
    const n = toInteger(value);
    if (n === undefined || !inBounds(n, bounds)) {
      const range = boundsMessage(bounds);
      ctx.addIssue({
        code: "custom",
        message: expectedMessage(`an integer${range ? " " + range : ""}`, value),
      });
      return z.NEVER;
    }
    return n;
  });
}

/**
 * A zod schema for a number field (seconds, delays): numbers and numeric strings.
 *
 * @example
 * ```ts
 * import { numberField } from "./scalars.ts";
 * numberField({ above: 0 }).parse("0.5"); // 0.5
 * ```
 */
export function numberField(bounds: Bounds = {}): z.ZodType<number> {
  return z.unknown().transform((value, ctx): number => {
    const n = toNumber(value);
    if (n === undefined || !inBounds(n, bounds)) {
      const range = boundsMessage(bounds);
      ctx.addIssue({
        code: "custom",
        message: expectedMessage(`a number${range ? " " + range : ""}`, value),
      });
      return z.NEVER;
    }
    return n;
  });
}

/**
 * A zod schema for a boolean field accepting the spellings of {@linkcode toBoolean}.
 *
 * @example
 * ```ts
 * import { booleanField } from "./scalars.ts";
 * booleanField().parse("yes"); // true
 * ```
 */
export function booleanField(): z.ZodType<boolean> {
  return z.unknown().transform((value, ctx): boolean => {
    const b = toBoolean(value);
    if (b === undefined) {
      ctx.addIssue({
        code: "custom",
        message: expectedMessage("a boolean (true/false, yes/no, on/off, 1/0)", value),
      });
      return z.NEVER;
    }
    return b;
  });
}

/**
 * A zod schema for a string that is one of `values` (case-sensitive unless `foldCase`, in
 * which case the stored value is lower-cased). The message lists the allowed values.
 *
 * @example
 * ```ts
 * import { choiceField } from "./scalars.ts";
 * choiceField(["none", "optional", "require"], { foldCase: true }).parse("REQUIRE"); // "require"
 * ```
 */
export function choiceField<const T extends string>(
  values: readonly T[],
  options: { foldCase?: boolean; note?: string } = {},
): z.ZodType<T> {
  return z.unknown().transform((value, ctx): T => {
    const s = typeof value === "string" && options.foldCase ? value.toLowerCase() : value;
    if (typeof s === "string" && (values as readonly string[]).includes(s)) return s as T;
    ctx.addIssue({
      code: "custom",
      message: expectedMessage(
        `one of ${values.join(", ")}${options.note ? ` (${options.note})` : ""}`,
        value,
      ),
    });
    return z.NEVER;
  });
}

/**
 * A zod schema for a plain string field; the message tells YAML users to quote numbers
 * (`version: 1.0` is a number in YAML).
 *
 * @example
 * ```ts
 * import { stringField } from "./scalars.ts";
 * stringField().parse("x"); // "x"
 * ```
 */
export function stringField(options: { nonBlank?: boolean } = {}): z.ZodType<string> {
  return z.unknown().transform((value, ctx): string => {
    if (typeof value !== "string") {
      const hint = typeof value === "number" || typeof value === "boolean" ||
          value instanceof Date
        ? " (quote it in YAML)"
        : "";
      ctx.addIssue({
        code: "custom",
        message: expectedMessage(`a string${hint}`, value),
      });
      return z.NEVER;
    }
    if (options.nonBlank && value.trim() === "") {
      ctx.addIssue({ code: "custom", message: "must be a non-empty string" });
      return z.NEVER;
    }
    return value;
  });
}
