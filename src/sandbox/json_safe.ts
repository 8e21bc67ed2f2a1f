/**
 * Whether JSON carries a value as a structured clone would: only then may a Worker sandbox
 * send it as JSON text (fast) instead of by `postMessage` (a structured clone, slow), so that
 * what a plugin receives does not depend on the path its message took. One difference is
 * accepted: an object member whose value is `undefined` is dropped, as in the `process`
 * sandbox (the manager's global context and many plugin results carry such members, and
 * reading the member gives `undefined` either way).
 *
 * @module
 */

/** Deeper values (or cycles) take the structured-clone path, which handles both. */
const MAX_DEPTH = 64;

/**
 * True when `JSON.parse(JSON.stringify(value))` equals its structured clone but for dropped
 * `undefined` members: strings, booleans, null, finite numbers other than -0, and arrays
 * (without holes or `undefined` items) and plain objects of those. Anything else (Date, Map,
 * typed arrays, BigInt, NaN, class instances, cycles, an `undefined` item) is not.
 */
export function isJsonSafe(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(value)) {
        // A structured clone keeps extra (non-index) properties of an array; JSON drops them.
        if (Object.keys(value).length !== value.length) return false;
        for (let i = 0; i < value.length; i++) {
          if (!isJsonSafe(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        const member = (value as Record<string, unknown>)[key];
        if (member !== undefined && !isJsonSafe(member, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
