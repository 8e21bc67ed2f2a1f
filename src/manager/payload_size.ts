/**
 * The payload size the reference counts (C3, issue 11 item 2): for a truthy `args`, the sum over
 * its values of the length in characters (code points) of each value's Python `str()`; else, for
 * a truthy `result`, the length of `str(result)`. Nested values count as Python's `repr` renders
 * them (`{'a': 1}`, `True`, `None`, `'it\'s'`, `1e-05`), and a `prompt_post_fetch` result object
 * counts as the reference's `StructuredData` renders it (`a=1 b=StructuredData(c='d')`).
 *
 * The walk builds no text: it adds lengths and stops as soon as the total passes the limit, so an
 * accepted payload costs one pass with native regex tests on its strings. Only a rejected one is
 * walked again to the end, for the exact total in the error message.
 *
 * Numbers count as Python sees them once they crossed JSON (the wire's encoding): an integral
 * number below 1e21 as an `int`, anything else as a `float`. Printable characters follow the JS
 * engine's Unicode tables (code points assigned after the reference Python's Unicode version
 * may count differently).
 *
 * @module
 */

/** The hook whose `result` the reference turns into `StructuredData` (coerce_nested). */
const STRUCTURED_HOOK = "prompt_post_fetch";
/** coerce_nested's depth and breadth limits: deeper or wider containers stay plain. */
const COERCE_MAX_DEPTH = 20;
const COERCE_MAX_BREADTH = 500;

/** Strings whose Python repr is the text in single quotes, unchanged. */
const PLAIN_REPR = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;
const SURROGATE_PAIR = /[\ud800-\udbff][\udc00-\udfff]/g;
const HAS_SURROGATE = /[\ud800-\udfff]/;
/** Characters Python's `str.isprintable()` rejects (space aside): categories C and Z. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Python truthiness of a JSON-like value. */
function truthy(value: unknown): boolean {
  if (
    value === null || value === undefined || value === false || value === 0 || value === 0n ||
    value === ""
  ) {
    return false;
  }
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && isPlainObject(value)) {
    for (const _ in value) return true;
    return false;
  }
  return true; // NaN included: bool(float("nan")) is True
}

/** Length of `str(s)`: code points. */
function codePoints(s: string): number {
  if (!HAS_SURROGATE.test(s)) return s.length;
  return s.length - (s.match(SURROGATE_PAIR)?.length ?? 0);
}

/** Length of Python's `repr(s)`. */
function stringRepr(s: string): number {
  const n = s.length;
  if (n < 32) {
    // Short strings (keys, names): a loop is cheaper than a regex call.
    let plain = true;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x27 || c === 0x5c) {
        plain = false;
        break;
      }
    }
    if (plain) return n + 2;
  } else if (PLAIN_REPR.test(s)) return n + 2;
  return escapedRepr(s);
}

/** Length of Python's `repr(s)` for text with quotes, escapes or non-ASCII characters. */
function escapedRepr(s: string): number {
  // Python picks double quotes when the text has a ' and no ", and then escapes no quote.
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let n = 2;
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === quote || c === "\\" || c === "\t" || c === "\n" || c === "\r") n += 2;
    else if (cp < 0x20 || cp === 0x7f) n += 4;
    else if (cp < 0x7f || !NOT_PRINTABLE.test(c)) n += 1;
    else n += cp <= 0xff ? 4 : cp <= 0xffff ? 6 : 10;
  }
  return n;
}

/**
 * Python's `repr(float)`: the shortest round-trip digits (as JS has them), in positional form
 * when the decimal exponent is in [-4, 16), else as `d.ddde+XX`.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const frac = digits.length > 1 ? "." + digits.slice(1) : "";
    const magnitude = String(Math.abs(e)).padStart(2, "0");
    return `${sign}${digits[0]}${frac}e${e < 0 ? "-" : "+"}${magnitude}`;
  }
  if (e < 0) return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, "0");
  const frac = digits.slice(e + 1) || "0";
  return `${sign}${whole}.${frac}`;
}

function digits(n: number): number {
  let d = 1;
  for (let p = 10; n >= p && d < 21; p *= 10) d++;
  return d;
}

function numberRepr(n: number): number {
  const abs = n < 0 ? -n : n;
  if (Number.isInteger(n)) {
    if (abs < 1e21) return (n < 0 ? 1 : 0) + digits(abs); // an int once it crossed JSON
  } else if (abs >= 1e-4 && abs < 1e16) {
    return String(n).length; // positional in both languages, with the same shortest digits
  }
  return pythonFloatRepr(n).length;
}

/** Containers nested deeper than this have no size (Python's default recursion limit). */
const MAX_NESTING = 1000;

/** Adds rendering lengths to `total` and stops once it passes `limit`. */
class SizeWalk {
  total = 0;
  constructor(readonly limit: number) {}

  /** `str(value)` at the top level: a string counts its code points, the rest their repr. */
  top(value: unknown): void {
    if (typeof value === "string") this.total += codePoints(value);
    else this.repr(value, 0);
  }

  /** `repr(value)`; containers below `structured` depth render as StructuredData. */
  repr(value: unknown, structuredDepth: number, depth = 0): void {
    if (this.total > this.limit) return;
    switch (typeof value) {
      case "string":
        this.total += stringRepr(value);
        return;
      case "number":
        this.total += numberRepr(value);
        return;
      case "boolean":
        this.total += value ? 4 : 5;
        return;
      case "bigint":
        this.total += String(value).length;
        return;
      case "undefined":
        this.total += 4;
        return;
      case "object":
        break;
      default:
        this.total += String(value).length;
        return;
    }
    if (value === null) {
      this.total += 4;
      return;
    }
    if (depth > MAX_NESTING) {
      // A cycle, or nesting the reference's repr could not render (Python's recursion limit):
      // no finite size, and no stack overflow here.
      this.total = Infinity;
      return;
    }
    const coerce = depth < structuredDepth;
    if (Array.isArray(value)) {
      const inner = coerce && value.length <= COERCE_MAX_BREADTH ? structuredDepth : 0;
      this.total += value.length ? value.length * 2 : 2; // brackets and ", " separators
      for (const item of value) this.repr(item, inner, depth + 1);
      return;
    }
    if (!isPlainObject(value)) {
      this.total += String(value).length;
      return;
    }
    const record = value as Record<string, unknown>;
    if (coerce) {
      let count = 0;
      for (const key in record) if (record[key] !== undefined) count++;
      if (count <= COERCE_MAX_BREADTH) {
        // StructuredData(k=v, ...): "StructuredData(" + ")", then "=" and ", " per field.
        this.total += 16 + count * 3 - (count ? 2 : 0);
        for (const key in record) {
          const item = record[key];
          if (item === undefined) continue;
          this.total += codePoints(key);
          this.repr(item, structuredDepth, depth + 1);
        }
        return;
      }
    }
    // {k: v, ...}: braces, then ": " and ", " per entry.
    let empty = true;
    for (const key in record) {
      const item = record[key];
      if (item === undefined) continue;
      empty = false;
      this.total += stringRepr(key) + 4;
      this.repr(item, 0, depth + 1);
    }
    if (empty) this.total += 2;
  }

  /** `str(StructuredData)`: the fields as `k=repr(v)` joined by spaces. */
  structured(record: Record<string, unknown>): void {
    let first = true;
    for (const key in record) {
      if (record[key] === undefined) continue;
      if (!first) this.total += 1;
      first = false;
      this.total += codePoints(key) + 1;
      this.repr(record[key], COERCE_MAX_DEPTH, 1);
      if (this.total > this.limit) return;
    }
  }
}

function measure(
  hookName: string,
  payload: Record<string, unknown>,
  limit: number,
): [kind: "Payload" | "Result", size: number] | null {
  const args = payload.args;
  if (truthy(args)) {
    if (typeof args !== "object" || !isPlainObject(args as object)) return null;
    const walk = new SizeWalk(limit);
    const record = args as Record<string, unknown>;
    for (const key in record) {
      if (record[key] === undefined) continue;
      walk.top(record[key]);
      if (walk.total > limit) break;
    }
    return ["Payload", walk.total];
  }
  const result = payload.result;
  if (!truthy(result)) return null;
  const walk = new SizeWalk(limit);
  if (
    hookName === STRUCTURED_HOOK && typeof result === "object" && isPlainObject(result!) &&
    Object.keys(result!).length <= COERCE_MAX_BREADTH
  ) {
    walk.structured(result as Record<string, unknown>);
  } else {
    walk.top(result);
  }
  return ["Result", walk.total];
}

/**
 * The reference's size check (C3): returns null when `payload` is within `limit` characters,
 * else the reference's error message with the exact size.
 */
export function payloadSizeError(hookName: string, payload: unknown, limit: number): string | null {
  if (typeof payload !== "object" || payload === null) return null;
  const p = payload as Record<string, unknown>;
  const first = measure(hookName, p, limit);
  if (first === null || first[1] <= limit) return null;
  const [kind, size] = measure(hookName, p, Infinity)!;
  if (size === Infinity) {
    return `${kind} size exceeds limit of ${limit} bytes (nested deeper than ${MAX_NESTING} levels, or a cycle)`;
  }
  return `${kind} size ${size} exceeds limit of ${limit} bytes`;
}
