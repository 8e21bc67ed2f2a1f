/**
 * A direct encoder from plain JSON data to `google.protobuf.Struct` bytes, for the hook
 * payload of every remote call (issue 13: `toStruct` plus the protobufjs writer allocated
 * about 40 KB per call for a 1 KB payload, which grew the gateway's heap under load).
 *
 * Two passes over the data, no intermediate objects: the first computes every nested
 * message's length (recorded in visiting order), the second writes into one exactly-sized
 * array. The bytes equal what `encodeMessage` writes for `toStruct(value)` (same field order,
 * map entries in key order, every oneof member written). Only the common shapes take this
 * path: plain objects and arrays, strings without surrogates, finite numbers, booleans, null
 * and skipped `undefined`, at most 32 levels deep. Anything else (class instances, bigints,
 * non-finite numbers, deeper nesting) returns `null` and the caller takes the generic path,
 * which also produces the errors.
 *
 * A payload whose every object is frozen (as the manager leaves it) cannot change, so its
 * bytes are remembered for it: the plugins of one hook call encode it once.
 *
 * @module
 */

/** Deeper than this the generic path takes over. */
const MAX_FAST_DEPTH = 32;

/** Thrown inside the measuring pass when the value needs the generic path. */
const GENERIC = Symbol("generic");

const objectProto = Object.prototype;
const encoder = new TextEncoder();

/** Bytes of frozen payloads, by payload. */
const remembered = new WeakMap<object, Uint8Array>();

/** The measuring pass's output, read back in the same order by the writing pass. */
let lengths: number[] = [];
let allFrozen = true;

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** UTF-8 length of `s`; throws {@linkcode GENERIC} for surrogates (rare; left to protobufjs). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c >= 0xd800 && c <= 0xdfff) throw GENERIC;
    n += c < 0x800 ? 1 : 2;
  }
  return n;
}

/** Records and returns the length of a `Struct` holding `obj`'s fields. */
function measureStruct(obj: Record<string, unknown>, depth: number): number {
  if (depth > MAX_FAST_DEPTH) throw GENERIC;
  if (allFrozen && !Object.isFrozen(obj)) allFrozen = false;
  const slot = lengths.length;
  lengths.push(0);
  let size = 0;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === undefined) continue;
    const keySlot = lengths.length;
    lengths.push(0, 0); // key bytes, entry length
    const keyBytes = utf8Length(key);
    const valueSize = measureValue(v, depth);
    const entry = 1 + varintSize(keyBytes) + keyBytes + 1 + varintSize(valueSize) + valueSize;
    lengths[keySlot] = keyBytes;
    lengths[keySlot + 1] = entry;
    size += 1 + varintSize(entry) + entry;
  }
  lengths[slot] = size;
  return size;
}

/** Records and returns the length of a `Value` holding `v`. */
function measureValue(v: unknown, depth: number): number {
  switch (typeof v) {
    case "string": {
      const n = utf8Length(v);
      lengths.push(n);
      return 1 + varintSize(n) + n;
    }
    case "number":
      if (v - v !== 0) throw GENERIC; // NaN or ±Infinity: the generic path's error
      return 9;
    case "boolean":
      return 2;
    case "object": {
      if (v === null) return 2;
      if (Array.isArray(v)) {
        const n = measureList(v, depth + 1);
        return 1 + varintSize(n) + n;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== objectProto && proto !== null) throw GENERIC;
      const n = measureStruct(v as Record<string, unknown>, depth + 1);
      return 1 + varintSize(n) + n;
    }
    default: // bigint, function, symbol (undefined is skipped by the callers)
      throw GENERIC;
  }
}

function measureList(list: readonly unknown[], depth: number): number {
  if (depth > MAX_FAST_DEPTH) throw GENERIC;
  if (allFrozen && !Object.isFrozen(list)) allFrozen = false;
  const slot = lengths.length;
  lengths.push(0);
  let size = 0;
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    // undefined in an array is a null, as in JSON.
    const n = v === undefined ? 2 : measureValue(v, depth);
    size += 1 + varintSize(n) + n;
  }
  lengths[slot] = size;
  return size;
}

// ---------------------------------------------------------------------------------------------
// The writing pass

/** Shared empty array: resetting to it allocates nothing (issue 13: less garbage per call). */
const NO_BYTES = new Uint8Array(0);
/** 8-byte scratch for doubles: no DataView per call. */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let out = NO_BYTES;
let pos = 0;
let next = 0; // index into `lengths`

function varint(n: number): void {
  while (n > 0x7f) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
}

function string(s: string, bytes: number): void {
  varint(bytes);
  if (bytes === s.length) {
    for (let i = 0; i < bytes; i++) out[pos++] = s.charCodeAt(i);
  } else {
    encoder.encodeInto(s, out.subarray(pos, pos + bytes));
    pos += bytes;
  }
}

function writeStruct(obj: Record<string, unknown>): void {
  next++; // the Struct's own length was written by the caller
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === undefined) continue;
    const keyBytes = lengths[next++];
    const entry = lengths[next++];
    out[pos++] = 0x0a; // fields: map entry
    varint(entry);
    out[pos++] = 0x0a; // key
    string(key, keyBytes);
    out[pos++] = 0x12; // value
    writeValueWithLength(v);
  }
}

/** Writes the length of `v`'s `Value` message, then the message. */
function writeValueWithLength(v: unknown): void {
  switch (typeof v) {
    case "string": {
      const n = lengths[next++];
      varint(1 + varintSize(n) + n);
      out[pos++] = 0x1a; // string_value
      string(v, n);
      return;
    }
    case "number":
      out[pos++] = 9;
      out[pos++] = 0x11; // number_value
      f64[0] = v;
      if (littleEndian) {
        for (let i = 0; i < 8; i++) out[pos++] = f64Bytes[i];
      } else {
        for (let i = 7; i >= 0; i--) out[pos++] = f64Bytes[i];
      }
      return;
    case "boolean":
      out[pos++] = 2;
      out[pos++] = 0x20; // bool_value
      out[pos++] = v ? 1 : 0;
      return;
    default: {
      if (v === null || v === undefined) {
        out[pos++] = 2;
        out[pos++] = 0x08; // null_value
        out[pos++] = 0;
        return;
      }
      const n = lengths[next];
      varint(1 + varintSize(n) + n);
      if (Array.isArray(v)) {
        out[pos++] = 0x32; // list_value
        varint(n);
        next++;
        for (let i = 0; i < v.length; i++) {
          out[pos++] = 0x0a; // values
          writeValueWithLength(v[i]);
        }
      } else {
        out[pos++] = 0x2a; // struct_value
        varint(n);
        writeStruct(v as Record<string, unknown>);
      }
    }
  }
}

/**
 * The `Struct` encoding of `obj` (its message bytes, without a field tag), or `null` when
 * `obj` is not plain JSON data of the common shapes (use `toStruct` + `encodeMessage` then).
 * The bytes of a payload frozen throughout are remembered with it.
 *
 * ```ts ignore
 * import { encodeStructFast } from "./fast_struct.ts";
 * const bytes = encodeStructFast({ name: "search", args: { q: "x" } });
 * ```
 */
export function encodeStructFast(obj: Readonly<Record<string, unknown>>): Uint8Array | null {
  if (typeof obj !== "object" || obj === null) return null;
  const known = remembered.get(obj);
  if (known !== undefined) return known;
  const proto = Object.getPrototypeOf(obj);
  if (proto !== objectProto && proto !== null) return null;
  lengths = [];
  allFrozen = true;
  let size: number;
  try {
    size = measureStruct(obj as Record<string, unknown>, 1);
  } catch (e) {
    if (e === GENERIC) return null;
    throw e;
  }
  const bytes = new Uint8Array(size);
  out = bytes;
  pos = 0;
  next = 0;
  try {
    writeStruct(obj as Record<string, unknown>);
  } catch {
    pos = -1; // a getter changed its answer mid-way
  } finally {
    out = NO_BYTES; // let the caller own the bytes alone
    lengths = [];
  }
  // Getters may answer differently on the second pass: then the generic path reads them once.
  if (pos !== size) return null;
  if (allFrozen) remembered.set(obj, bytes);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Decoding: Struct bytes straight to JSON

/**
 * A `google.protobuf.Struct` decoded straight to JSON by {@linkcode decodeStructFast}: what
 * `fromStruct` returns for it (the first time as is, later as copies). Its `fields` (the
 * protobuf form) are built only if asked for, e.g. to encode it again (`codec.ts` encodes a
 * `DecodedStruct` through them: the getter is not an own property, so protobufjs alone would
 * skip it; issue 13: no per-instance property definition and closure per decoded Struct).
 */
export class DecodedStruct {
  #json: Record<string, unknown>;
  #taken = false;
  #fields: unknown = undefined;

  /** Wraps the decoded JSON. */
  constructor(json: Record<string, unknown>) {
    this.#json = json;
  }

  /** The protobuf form (`Struct.fields`), built on first use. */
  get fields(): unknown {
    return this.#fields ??= toFields(this.#json);
  }

  /** The JSON object; a deep copy after the first call, so no two callers share it. */
  take(): Record<string, unknown> {
    if (!this.#taken) {
      this.#taken = true;
      return this.#json;
    }
    return copyJson(this.#json) as Record<string, unknown>;
  }
}

/** Set by `struct.ts` (which imports this module): JSON object -> `Struct.fields`. */
let toFields: (json: Record<string, unknown>) => unknown = () => {
  throw new Error("fast_struct: toStruct not registered");
};

/** Registers the JSON -> `Struct.fields` converter (`struct.ts`, at load). */
export function registerToFields(f: (json: Record<string, unknown>) => unknown): void {
  toFields = f;
}

function copyJson(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) out[key] = copyJson((v as Record<string, unknown>)[key]);
  return out;
}

let src: Uint8Array = NO_BYTES;
let at = 0;
const latin1 = new TextDecoder("latin1");
/** Non-ASCII text is decoded the way the generic reader does (Node's UTF-8 decoder). */
let utf8Text: (bytes: Uint8Array, start: number, end: number) => string = (b, s, e) =>
  new TextDecoder().decode(b.subarray(s, e));

/** Sets the UTF-8 decoder of non-ASCII strings (`codec.ts`: the same one as protobufjs's). */
export function registerUtf8Decoder(
  f: (bytes: Uint8Array, start: number, end: number) => string,
): void {
  utf8Text = f;
}

function readVarint(end: number): number {
  let n = 0;
  let shift = 0;
  for (;;) {
    if (at >= end || shift > 28) throw GENERIC;
    const b = src[at++];
    n |= (b & 0x7f) << shift;
    if (b < 0x80) return n >>> 0;
    shift += 7;
  }
}

function readString(end: number): string {
  const n = readVarint(end);
  const start = at;
  const stop = start + n;
  if (stop > end) throw GENERIC;
  at = stop;
  let ascii = true;
  for (let i = start; i < stop; i++) {
    if (src[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii) return utf8Text(src, start, stop);
  if (n <= 16) {
    let s = "";
    for (let i = start; i < stop; i++) s += String.fromCharCode(src[i]);
    return s;
  }
  // Up to a few hundred bytes one call without a native decode is ~3x faster (issue 13).
  if (n <= 256) {
    return String.fromCharCode.apply(null, src.subarray(start, stop) as unknown as number[]);
  }
  return latin1.decode(src.subarray(start, stop));
}

function readStruct(end: number, depth: number): Record<string, unknown> {
  if (depth > MAX_FAST_DEPTH) throw GENERIC;
  const out: Record<string, unknown> = {};
  while (at < end) {
    if (src[at++] !== 0x0a) throw GENERIC; // fields (map entry)
    const entryEnd = readEnd(end);
    if (src[at++] !== 0x0a) throw GENERIC; // key
    const key = readString(entryEnd);
    if (key === "__proto__") throw GENERIC; // protobufjs's map decoding has its own take
    if (src[at++] !== 0x12) throw GENERIC; // value
    const valueEnd = readEnd(entryEnd);
    const value = readValue(valueEnd, depth);
    if (at !== entryEnd) throw GENERIC;
    out[key] = value;
  }
  if (at !== end) throw GENERIC;
  return out;
}

function readEnd(limit: number): number {
  const n = readVarint(limit);
  const end = at + n;
  if (end > limit) throw GENERIC;
  return end;
}

function readValue(end: number, depth: number): unknown {
  if (at >= end) throw GENERIC; // no kind set: left to the generic path
  const tag = src[at++];
  let v: unknown;
  switch (tag) {
    case 0x1a: // string_value
      v = readString(end);
      break;
    case 0x11: { // number_value
      if (at + 8 > end) throw GENERIC;
      if (littleEndian) {
        for (let i = 0; i < 8; i++) f64Bytes[i] = src[at++];
      } else {
        for (let i = 7; i >= 0; i--) f64Bytes[i] = src[at++];
      }
      const n = f64[0];
      if (n - n !== 0) throw GENERIC; // non-finite: the generic path's error
      v = n;
      break;
    }
    case 0x20: { // bool_value
      const b = src[at++];
      if (b > 1) throw GENERIC;
      v = b === 1;
      break;
    }
    case 0x08: // null_value
      if (src[at++] !== 0) throw GENERIC;
      v = null;
      break;
    case 0x2a: // struct_value
      v = readStruct(readEnd(end), depth + 1);
      break;
    case 0x32: { // list_value
      const listEnd = readEnd(end);
      if (depth + 1 > MAX_FAST_DEPTH) throw GENERIC;
      const list: unknown[] = [];
      while (at < listEnd) {
        if (src[at++] !== 0x0a) throw GENERIC; // values
        list.push(readValue(readEnd(listEnd), depth + 1));
      }
      v = list;
      break;
    }
    default:
      throw GENERIC;
  }
  if (at !== end) throw GENERIC; // more than one member, or trailing fields
  return v;
}

/**
 * Decodes `bytes[start, end)` (a `Struct` message) straight to JSON, or returns `null` when
 * anything is out of the common, canonical shapes (unknown or repeated members, non-finite
 * numbers, `__proto__` keys, more than 32 levels, malformed input): the caller then decodes
 * those bytes with protobufjs, which also raises the errors.
 *
 * ```ts ignore
 * import { decodeStructFast } from "./fast_struct.ts";
 * const json = decodeStructFast(bytes, 0, bytes.length);
 * ```
 */
export function decodeStructFast(
  bytes: Uint8Array,
  start: number,
  end: number,
): Record<string, unknown> | null {
  src = bytes;
  at = start;
  try {
    return readStruct(end, 1);
  } catch (e) {
    if (e === GENERIC || e instanceof RangeError) return null;
    throw e;
  } finally {
    src = NO_BYTES; // do not keep the caller's buffer alive
  }
}
