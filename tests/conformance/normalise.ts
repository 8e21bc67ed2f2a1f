/**
 * The one normalisation both sides' outcomes go through before they are compared: a key whose
 * value is null is dropped (null and absent are one thing on the wire) and object keys are
 * sorted, so equal data compares equal whatever the order it was built in.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Json = any;

/** Normalises a JSON value: drops null-valued keys and sorts object keys. */
export function norm(value: Json): Json {
  if (Array.isArray(value)) return value.map(norm);
  if (value && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v === null || v === undefined) continue;
      out[key] = norm(v);
    }
    return out;
  }
  return value;
}

/** True when two values are equal after {@linkcode norm}. */
export function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}
