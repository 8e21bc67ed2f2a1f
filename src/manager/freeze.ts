/**
 * Deep freezing and copying of JSON-like data: how payloads stay immutable and how plugins get
 * their own copy of global state.
 *
 * @module
 */

const frozen = new WeakSet<object>();

/**
 * Deep-freezes plain objects and arrays reachable from `value` (in place) and returns it.
 * Objects frozen by an earlier call are skipped, so re-freezing a chained payload is cheap.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || frozen.has(value)) return value;
  freezeObject(value);
  return value;
}

function freezeObject(obj: object): void {
  frozen.add(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i];
      if (typeof v === "object" && v !== null && !frozen.has(v)) freezeObject(v);
    }
  } else {
    const proto = Object.getPrototypeOf(obj);
    // Only plain data is frozen; class instances (Date, Map, user models) keep their own rules.
    if (proto !== Object.prototype && proto !== null) return;
    for (const key in obj) {
      const v = (obj as Record<string, unknown>)[key];
      if (typeof v === "object" && v !== null && !frozen.has(v)) freezeObject(v);
    }
  }
  Object.freeze(obj);
}

/**
 * Copies JSON-like data deeply enough that no nested plain object or array is shared. Class
 * instances are cloned with `structuredClone` when possible, else shared.
 */
export function cloneData<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneData(value[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const key in value) out[key] = cloneData((value as Record<string, unknown>)[key]);
    return out as T;
  }
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

/**
 * A fresh copy of a state or metadata record (a new `{}` when empty or missing).
 */
export function copyRecord(record: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!record) return {};
  for (const _ in record) return cloneData(record);
  return {};
}

/**
 * Structural equality of JSON-like data (used to diff payload fields under a policy).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/**
 * True for `{...}` literals and `Object.create(null)` objects (not arrays, not class instances).
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Deeper than this, {@linkcode freezeBounded} gives up (cycles, pathological nesting). */
const BOUND_MAX_DEPTH = 256;
/**
 * More containers than this and {@linkcode freezeBounded} gives up: a payload whose objects are
 * shared or cyclic through several references would otherwise be walked once per path, which
 * grows exponentially with depth; the caller's general walk visits each object once.
 */
const BOUND_MAX_CONTAINERS = 1_000_000;
/** Containers {@linkcode freezeBounded} may still visit in the current walk. */
let budget = 0;

/**
 * Deep-freezes the plain data of `value` and returns an upper bound of any size the payload size
 * check can count for it (issue 13: one walk instead of a size walk plus a freeze walk): a
 * string renders in at most 6 characters per UTF-16 unit plus quotes, a number in at most 32,
 * a container adds at most 16 plus its separators. `Infinity` when the bound is unknown (class
 * instances, bigints, nesting deeper than 256, more than a million objects and arrays, as when
 * they are shared or cyclic through several references): the caller then counts exactly and freezes with
 * {@linkcode deepFreeze}. Already frozen objects are walked too, so a shallowly frozen object
 * still gets its children frozen.
 */
export function freezeBounded(value: unknown): number {
  if (typeof value !== "object" || value === null) return leaf(value);
  budget = BOUND_MAX_CONTAINERS;
  return bound(value, 0);
}

/** The bound of a value that is not a container. */
function leaf(value: unknown): number {
  switch (typeof value) {
    case "string":
      return value.length * 6 + 2;
    case "number":
      return 32;
    case "boolean":
    case "undefined":
      return 5;
    case "object":
      return 4; // null
    default:
      return Infinity;
  }
}

// Leaves are measured inline, without a call per value: most values of a payload are leaves.
function bound(value: object, depth: number): number {
  if (depth > BOUND_MAX_DEPTH || --budget < 0) return Infinity;
  let n = 16;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      n += 2 + (typeof v === "object" && v !== null ? bound(v, depth + 1) : leaf(v));
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return Infinity;
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      n += key.length * 6 + 6 +
        (typeof v === "object" && v !== null ? bound(v, depth + 1) : leaf(v));
    }
  }
  Object.freeze(value);
  return n;
}
