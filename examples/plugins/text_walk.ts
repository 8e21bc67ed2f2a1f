/**
 * A helper of the example plugins: rewrite every string nested in a JSON-like value without
 * mutating it, sharing every part that did not change.
 *
 * @module
 */

/**
 * Returns `value` with `rewrite` applied to every string nested in plain objects and arrays.
 * Parts that did not change are returned as they are (same references), so
 * `mapStrings(v, f) === v` tells that nothing changed. The input is never mutated, which
 * matters because the manager hands plugins deep-frozen payloads.
 *
 * @example
 * ```ts
 * import { mapStrings } from "./text_walk.ts";
 * const input = { a: "x", b: [1, "y"], c: { d: "z" } };
 * const out = mapStrings(input, (s) => (s === "y" ? "Y" : s)) as typeof input;
 * console.log(out.b, out.c === input.c); // [1, "Y"] true
 * ```
 */
export function mapStrings(value: unknown, rewrite: (text: string) => string): unknown {
  if (typeof value === "string") return rewrite(value);
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      const next = mapStrings(item, rewrite);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? out : value;
  }
  if (value !== null && typeof value === "object" && isPlainObject(value)) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const next = mapStrings(item, rewrite);
      if (next !== item) changed = true;
      out[key] = next;
    }
    return changed ? out : value;
  }
  return value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
