/**
 * JSON <-> `google.protobuf.Struct` conversion and the context and error converters used by the
 * protobuf transports (gRPC and the raw Unix socket).
 *
 * Proto values are plain objects in the protobufjs message shape
 * (`{fields: {k: {stringValue: "x"}}}`), ready for {@linkcode encodeMessage} and as returned
 * by {@linkcode decodeMessage}. The rules follow the cpex 0.1.x reference (`proto_convert.py`
 * and protobuf's `json_format`):
 *
 * - every JSON number travels as a double (`3` arrives as `3`, there is no int/float split in
 *   JS; above 2^53 precision is lost exactly as in the reference);
 * - `null` is `null_value`, objects are `struct_value`, arrays are `list_value`;
 * - `undefined` (and functions/symbols) are skipped in objects and become `null` in arrays, as
 *   with `JSON.stringify`; objects with `toJSON()` (e.g. `Date`) are converted through it;
 *   a `bigint` becomes a double (the reference turns every int into a double);
 * - NaN and ±Infinity are refused (the reference's decoder raises on them, so they never
 *   survive the wire); byte arrays, `Map` and `Set` are refused (the reference cannot send
 *   bytes either);
 * - empty optional context fields are not written (proto3 defaults), and decode back to `null`
 *   or `{}` as in the reference.
 *
 * Decoded `Value`s whose kind is unset decode to `null` like in the reference.
 *
 * @module
 */

import type { GlobalContext, PluginContextData, PluginErrorModel } from "../../types.ts";
import { DecodedStruct, registerToFields } from "./fast_struct.ts";

/**
 * A `google.protobuf.Value` in protobufjs message shape: exactly one member is set.
 */
export interface ProtoValue {
  /** `null` (the enum `NULL_VALUE` = 0). */
  nullValue?: 0 | null;
  /** Any JSON number (a double). */
  numberValue?: number | null;
  /** A string. */
  stringValue?: string | null;
  /** A boolean. */
  boolValue?: boolean | null;
  /** A JSON object. */
  structValue?: ProtoStruct | null;
  /** A JSON array. */
  listValue?: ProtoListValue | null;
}

/**
 * A `google.protobuf.Struct` (a JSON object) in protobufjs message shape.
 */
export interface ProtoStruct {
  /** The object's members. */
  fields?: Record<string, ProtoValue> | null;
}

/**
 * A `google.protobuf.ListValue` (a JSON array) in protobufjs message shape.
 */
export interface ProtoListValue {
  /** The array's items. */
  values?: ProtoValue[] | null;
}

/**
 * `cpex.GlobalContext` in protobufjs message shape (`user_context` and `content_type` have no
 * field in the schema and are never sent).
 */
export interface ProtoGlobalContext {
  /** Request id (field 1). */
  request_id?: string | null;
  /** Server id; `""` means none (field 2). */
  server_id?: string | null;
  /** Tenant id; `""` means none (field 3). */
  tenant_id?: string | null;
  /** Oneof `user_value`: the user as a string. */
  user_string?: string | null;
  /** Oneof `user_value`: the user as an object. */
  user_struct?: ProtoStruct | null;
  /** Global metadata; absent when empty (field 6). */
  metadata?: ProtoStruct | null;
  /** Global state; absent when empty (field 7). */
  state?: ProtoStruct | null;
}

/**
 * `cpex.PluginContext` in protobufjs message shape.
 */
export interface ProtoPluginContext {
  /** The request-wide context (field 1). */
  global_context?: ProtoGlobalContext | null;
  /** The plugin's local state; absent when empty (field 2). */
  state?: ProtoStruct | null;
  /** The plugin's local metadata; absent when empty (field 3). */
  metadata?: ProtoStruct | null;
}

/**
 * `cpex.PluginViolation` in protobufjs message shape (`mcp_error_code` 0 means "not set").
 */
export interface ProtoPluginViolation {
  /** Short reason (field 1). */
  reason?: string | null;
  /** Longer description (field 2). */
  description?: string | null;
  /** Machine-readable code (field 3). */
  code?: string | null;
  /** Reporting plugin, when known (field 4). */
  plugin_name?: string | null;
  /** Structured details (field 5). */
  details?: ProtoStruct | null;
  /** JSON-RPC error code; 0 means not set (field 6). */
  mcp_error_code?: number | null;
}

/**
 * `cpex.PluginResultBase` in protobufjs message shape (defined by the schema, unused on the
 * wire by cpex 0.1.x).
 */
export interface ProtoPluginResultBase {
  /** Whether the chain continues (field 1). */
  continue_processing?: boolean | null;
  /** The violation, if any (field 2). */
  violation?: ProtoPluginViolation | null;
  /** Result metadata (field 3). */
  metadata?: ProtoStruct | null;
  /** Typed denial metrics: how the published cpex 0.1.4 sends `PluginResult.denial_metadata`. */
  denial_metadata?: ProtoDenialMetadata | null;
}

/**
 * `cpex.DenialMetric` in protobufjs message shape: one of a boolean, a 64-bit integer (decoded
 * as a protobufjs `Long`; a number or decimal string when encoding) or a double.
 */
export interface ProtoDenialMetric {
  /** A boolean metric (oneof `value`, field 1). */
  boolean?: boolean | null;
  /** A 64-bit integer metric (oneof `value`, field 2, sint64). */
  integer?: number | string | { toNumber(): number } | null;
  /** A double metric (oneof `value`, field 3). */
  floating?: number | null;
}

/**
 * `cpex.DenialMetadata` in protobufjs message shape.
 */
export interface ProtoDenialMetadata {
  /** Metrics by name (field 1). */
  fields?: Record<string, ProtoDenialMetric> | null;
}

/**
 * `cpex.PluginError` in protobufjs message shape.
 */
export interface ProtoPluginError {
  /** Error message (field 1). */
  message?: string | null;
  /** Failing plugin (field 2). */
  plugin_name?: string | null;
  /** Error code, `""` when none (field 3). */
  code?: string | null;
  /** Structured details (field 4). */
  details?: ProtoStruct | null;
  /** JSON-RPC error code (field 5). */
  mcp_error_code?: number | null;
}

/**
 * Thrown when a value cannot cross the wire as a `google.protobuf.Value` (non-finite number,
 * bytes, `Map`/`Set`, nesting deeper than {@linkcode MAX_STRUCT_DEPTH}). `path` names where.
 */
export class StructConversionError extends TypeError {
  /** Object keys and array indexes leading to the offending value (outermost first). */
  readonly path: (string | number)[];
  /** The problem without the path. */
  readonly reason: string;

  /** Creates the error; `path` is filled in while the error unwinds. */
  constructor(reason: string, path: (string | number)[] = []) {
    super(formatMessage(reason, path));
    this.name = "StructConversionError";
    this.reason = reason;
    this.path = path;
  }

  /** @internal Prepends a path segment (used while unwinding). */
  prepend(segment: string | number): this {
    this.path.unshift(segment);
    this.message = formatMessage(this.reason, this.path);
    return this;
  }
}

function formatMessage(reason: string, path: (string | number)[]): string {
  if (path.length === 0) return reason;
  let p = "";
  for (const s of path) p += typeof s === "number" ? `[${s}]` : p === "" ? s : `.${s}`;
  return `${reason} at ${p}`;
}

/**
 * How deep JSON objects/arrays may nest (the reference's `json_format` limit). Note the
 * protobuf codec itself refuses more than 100 *message* levels, i.e. about 48 JSON levels
 * inside a hook payload.
 */
export const MAX_STRUCT_DEPTH = 100;

registerToFields((json) => toStruct(json).fields);

const hasOwn = Object.prototype.hasOwnProperty;
const objectProto = Object.prototype;
const NULL_VALUE: ProtoValue = Object.freeze({ nullValue: 0 }) as ProtoValue;

function setKey<V>(target: Record<string, V>, key: string, value: V): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON -> Struct

/**
 * Converts a JSON object into a `google.protobuf.Struct`.
 */
export function toStruct(obj: Readonly<Record<string, unknown>>): ProtoStruct {
  return objectToStruct(obj, 0);
}

function objectToStruct(obj: Readonly<Record<string, unknown>>, depth: number): ProtoStruct {
  if (depth >= MAX_STRUCT_DEPTH) {
    throw new StructConversionError(`nesting deeper than ${MAX_STRUCT_DEPTH} levels (cyclic?)`);
  }
  const fields: Record<string, ProtoValue> = {};
  const next = depth + 1;
  for (const key of Object.keys(obj)) {
    let v: ProtoValue | undefined;
    try {
      v = valueOf(obj[key], next);
    } catch (e) {
      throw e instanceof StructConversionError ? e.prepend(key) : e;
    }
    if (v !== undefined) setKey(fields, key, v);
  }
  return { fields };
}

/** `undefined` means "skip" (undefined, function, symbol), as in JSON.stringify. */
function valueOf(value: unknown, depth: number): ProtoValue | undefined {
  switch (typeof value) {
    case "string":
      return { stringValue: value };
    case "number":
      if (value - value !== 0) { // NaN or ±Infinity
        throw new StructConversionError(`cannot send non-finite number ${value}`);
      }
      return { numberValue: value };
    case "boolean":
      return { boolValue: value };
    case "object":
      if (value === null) return NULL_VALUE;
      return objectValueOf(value as object, depth);
    case "bigint":
      return { numberValue: Number(value) };
    default: // undefined, function, symbol
      return undefined;
  }
}

function objectValueOf(value: object, depth: number): ProtoValue | undefined {
  if (Array.isArray(value)) return { listValue: arrayToList(value, depth) };
  const proto = Object.getPrototypeOf(value);
  if (proto !== objectProto && proto !== null) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return valueOf(toJSON.call(value), depth);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      throw new StructConversionError("cannot send bytes (not JSON)");
    }
    if (value instanceof Map || value instanceof Set) {
      throw new StructConversionError(`cannot send a ${value.constructor.name} (not JSON)`);
    }
  }
  return { structValue: objectToStruct(value as Record<string, unknown>, depth) };
}

function arrayToList(arr: readonly unknown[], depth: number): ProtoListValue {
  if (depth >= MAX_STRUCT_DEPTH) {
    throw new StructConversionError(`nesting deeper than ${MAX_STRUCT_DEPTH} levels (cyclic?)`);
  }
  const n = arr.length;
  const values: ProtoValue[] = new Array(n);
  const next = depth + 1;
  for (let i = 0; i < n; i++) {
    try {
      values[i] = valueOf(arr[i], next) ?? NULL_VALUE;
    } catch (e) {
      throw e instanceof StructConversionError ? e.prepend(i) : e;
    }
  }
  return { values };
}

// ---------------------------------------------------------------------------------------------
// Struct -> JSON

/**
 * Converts a `google.protobuf.Struct` (decoded or plain) into a JSON object. `null`/absent
 * gives `{}`.
 */
export function fromStruct(struct: ProtoStruct | null | undefined): Record<string, unknown> {
  return structToObject(struct, 0);
}

function structToObject(
  struct: ProtoStruct | null | undefined,
  depth: number,
): Record<string, unknown> {
  if (struct instanceof DecodedStruct) return struct.take();
  const out: Record<string, unknown> = {};
  const fields = struct?.fields;
  if (fields == null) return out;
  if (depth >= MAX_STRUCT_DEPTH) {
    throw new StructConversionError(`nesting deeper than ${MAX_STRUCT_DEPTH} levels`);
  }
  const next = depth + 1;
  for (const key of Object.keys(fields)) {
    let v: unknown;
    try {
      v = jsonOf(fields[key], next);
    } catch (e) {
      throw e instanceof StructConversionError ? e.prepend(key) : e;
    }
    setKey(out, key, v);
  }
  return out;
}

function listToArray(list: ProtoListValue, depth: number): unknown[] {
  const values = list.values;
  if (values == null) return [];
  if (depth >= MAX_STRUCT_DEPTH) {
    throw new StructConversionError(`nesting deeper than ${MAX_STRUCT_DEPTH} levels`);
  }
  const n = values.length;
  const out: unknown[] = new Array(n);
  const next = depth + 1;
  for (let i = 0; i < n; i++) {
    try {
      out[i] = jsonOf(values[i], next);
    } catch (e) {
      throw e instanceof StructConversionError ? e.prepend(i) : e;
    }
  }
  return out;
}

// Decoded protobufjs messages carry proto3 defaults on their prototype ("" / 0 / false / null),
// so scalar members are recognised by own properties; message members by non-null values.
function jsonOf(v: ProtoValue | null | undefined, depth: number): unknown {
  if (v == null) return null;
  const s = v.stringValue;
  if (s) return s; // non-empty string: the common case, no own-property check needed
  const st = v.structValue;
  if (st != null) return structToObject(st, depth);
  const l = v.listValue;
  if (l != null) return listToArray(l, depth);
  if (hasOwn.call(v, "numberValue")) {
    const n = v.numberValue as number;
    if (n - n !== 0) throw new StructConversionError(`received non-finite number ${n}`);
    return n;
  }
  if (hasOwn.call(v, "boolValue")) return v.boolValue === true;
  if (s === "" && hasOwn.call(v, "stringValue")) return "";
  return null; // nullValue, or no kind set
}

// ---------------------------------------------------------------------------------------------
// Contexts

function isEmpty(obj: Readonly<Record<string, unknown>> | null | undefined): boolean {
  if (obj == null) return true;
  for (const _ in obj) return false;
  return true;
}

/**
 * Converts a global context to `cpex.GlobalContext`: `request_id` always (empty strings are
 * proto3 defaults and not written), `server_id`/`tenant_id` when set, `user` as `user_string`
 * (even `""`) or `user_struct` (even `{}`), `metadata`/`state` only when non-empty.
 * `user_context` and `content_type` are dropped (no field in the schema).
 */
export function globalContextToProto(gc: Readonly<GlobalContext>): ProtoGlobalContext {
  const p: ProtoGlobalContext = {};
  if (gc.request_id) p.request_id = gc.request_id;
  if (gc.server_id) p.server_id = gc.server_id;
  if (gc.tenant_id) p.tenant_id = gc.tenant_id;
  const user = gc.user;
  if (typeof user === "string") p.user_string = user;
  else if (user != null && typeof user === "object") p.user_struct = toStruct(user);
  if (!isEmpty(gc.metadata)) p.metadata = toStruct(gc.metadata!);
  if (!isEmpty(gc.state)) p.state = toStruct(gc.state!);
  return p;
}

/**
 * Converts `cpex.GlobalContext` back (server side): `""` ids become `null`, `user` comes from
 * whichever oneof member is set (else `null`), absent Structs become `{}`.
 */
export function globalContextFromProto(
  p: Readonly<ProtoGlobalContext> | null | undefined,
): GlobalContext {
  if (p == null) {
    return {
      request_id: "",
      user: null,
      tenant_id: null,
      server_id: null,
      state: {},
      metadata: {},
    };
  }
  let user: GlobalContext["user"] = null;
  if (p.user_struct != null) user = fromStruct(p.user_struct);
  else if (hasOwn.call(p, "user_string") && p.user_string != null) user = p.user_string;
  return {
    request_id: p.request_id || "",
    user,
    tenant_id: p.tenant_id || null,
    server_id: p.server_id || null,
    state: fromStruct(p.state),
    metadata: fromStruct(p.metadata),
  };
}

/**
 * Converts a plugin context to `cpex.PluginContext`: the global context always, the local
 * `state`/`metadata` only when non-empty.
 */
export function pluginContextToProto(
  ctx: Readonly<Pick<PluginContextData, "global_context">> & {
    readonly state?: Readonly<Record<string, unknown>> | null;
    readonly metadata?: Readonly<Record<string, unknown>> | null;
  },
): ProtoPluginContext {
  const p: ProtoPluginContext = { global_context: globalContextToProto(ctx.global_context) };
  if (!isEmpty(ctx.state)) p.state = toStruct(ctx.state!);
  if (!isEmpty(ctx.metadata)) p.metadata = toStruct(ctx.metadata!);
  return p;
}

/**
 * Converts `cpex.PluginContext` back into plain context data (server side); absent parts
 * become empty.
 */
export function pluginContextFromProto(
  p: Readonly<ProtoPluginContext> | null | undefined,
): PluginContextData {
  return {
    global_context: globalContextFromProto(p?.global_context),
    state: fromStruct(p?.state),
    metadata: fromStruct(p?.metadata),
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Converts `cpex.PluginError` back into an error model, as the reference's clients do:
 * `plugin_name` falls back to `fallbackPluginName` when empty, `code` and `mcp_error_code` are
 * copied as sent (`""` / `0` when absent), `details` is `{}` when absent.
 */
export function pluginErrorFromProto(
  p: Readonly<ProtoPluginError>,
  fallbackPluginName = "",
): PluginErrorModel {
  return {
    message: p.message || "",
    plugin_name: p.plugin_name || fallbackPluginName,
    code: p.code || "",
    details: fromStruct(p.details),
    mcp_error_code: p.mcp_error_code || 0,
  };
}
