/**
 * Protobuf encoding and decoding of the cpex wire messages (`proto/plugin_service.proto`,
 * package `cpex`), shared by the raw Unix socket and gRPC transports.
 *
 * The schema is parsed once, on first use, with protobufjs (the library `@grpc/proto-loader`
 * is built on) from the embedded text in `proto_source.ts`, so no file access is needed.
 * Field names are the wire names (`hook_type`, `global_context`, ...); Struct members use
 * protobufjs's names (`stringValue`, `structValue`, ...). Convert JSON with `struct.ts`.
 *
 * Encoding writes exactly the fields that are present on the object (`null`/`undefined` are
 * skipped, but `""`, `0` and `false` are written); the converters in `struct.ts` leave proto3
 * defaults out so the bytes equal the reference's. Decoded messages are protobufjs message
 * objects: present fields are own properties, absent scalars read as their proto3 default
 * (`""`, `0`, `false`) and absent messages as `null`.
 *
 * @module
 */

import protobuf from "protobufjs";
import { Buffer } from "node:buffer";
import { PLUGIN_SERVICE_PROTO } from "./proto_source.ts";
import { DecodedStruct, decodeStructFast, registerUtf8Decoder } from "./fast_struct.ts";
import type {
  ProtoDenialMetadata,
  ProtoDenialMetric,
  ProtoGlobalContext,
  ProtoPluginContext,
  ProtoPluginError,
  ProtoPluginResultBase,
  ProtoPluginViolation,
  ProtoStruct,
} from "./struct.ts";

/**
 * `cpex.GetPluginConfigRequest`.
 */
export interface GetPluginConfigRequest {
  /** Plugin name to look up (field 1). */
  name?: string | null;
}

/**
 * `cpex.GetPluginConfigResponse` (not found: `found` false and no `config`).
 */
export interface GetPluginConfigResponse {
  /** Whether a plugin of that name exists (field 1). */
  found?: boolean | null;
  /** The plugin's configuration entry (field 2). */
  config?: ProtoStruct | null;
}

/**
 * `cpex.GetPluginConfigsRequest` (no fields; encodes to zero bytes).
 */
export type GetPluginConfigsRequest = Record<string, never>;

/**
 * `cpex.GetPluginConfigsResponse`.
 */
export interface GetPluginConfigsResponse {
  /** One configuration entry per plugin (field 1). */
  configs?: ProtoStruct[] | null;
}

/**
 * `cpex.InvokeHookRequest`.
 */
export interface InvokeHookRequest {
  /** Hook name, e.g. `tool_pre_invoke` (field 1). */
  hook_type?: string | null;
  /** Name of the plugin to run (field 2). */
  plugin_name?: string | null;
  /** The hook payload as a JSON object (field 3). */
  payload?: ProtoStruct | null;
  /** The plugin's context (field 4). */
  context?: ProtoPluginContext | null;
}

/**
 * `cpex.InvokeHookResponse`: `result` (the whole PluginResult as a Struct) or `error`.
 */
export interface InvokeHookResponse {
  /** The plugin name of the request (field 1). */
  plugin_name?: string | null;
  /** The whole plugin result as a JSON object (field 2). */
  result?: ProtoStruct | null;
  /** The plugin's context after the call; only when not empty (field 3). */
  context?: ProtoPluginContext | null;
  /** Set (with a non-empty message) when the invocation failed (field 4). */
  error?: ProtoPluginError | null;
  /** Result base; carries `denial_metadata` in the published 0.1.4 (field 5). */
  result_base?: ProtoPluginResultBase | null;
}

/**
 * `cpex.HealthCheckRequest`.
 */
export interface HealthCheckRequest {
  /** Service asked about; ignored by the reference (field 1). */
  service?: string | null;
}

/**
 * `cpex.HealthCheckResponse`; `status` is a {@linkcode ServingStatus} number.
 */
export interface HealthCheckResponse {
  /** Serving status (field 1). */
  status?: ServingStatus | null;
}

/**
 * `cpex.HealthCheckResponse.ServingStatus` values.
 */
export const ServingStatus = {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
} as const;
/** One of the {@linkcode ServingStatus} values. */
export type ServingStatus = typeof ServingStatus[keyof typeof ServingStatus];

/**
 * Every message of package `cpex`, by unqualified name, with its plain-object shape.
 */
export interface CpexMessages {
  /** `cpex.GetPluginConfigRequest`. */
  GetPluginConfigRequest: GetPluginConfigRequest;
  /** `cpex.GetPluginConfigResponse`. */
  GetPluginConfigResponse: GetPluginConfigResponse;
  /** `cpex.GetPluginConfigsRequest`. */
  GetPluginConfigsRequest: GetPluginConfigsRequest;
  /** `cpex.GetPluginConfigsResponse`. */
  GetPluginConfigsResponse: GetPluginConfigsResponse;
  /** `cpex.InvokeHookRequest`. */
  InvokeHookRequest: InvokeHookRequest;
  /** `cpex.InvokeHookResponse`. */
  InvokeHookResponse: InvokeHookResponse;
  /** `cpex.GlobalContext`. */
  GlobalContext: ProtoGlobalContext;
  /** `cpex.PluginContext`. */
  PluginContext: ProtoPluginContext;
  /** `cpex.PluginViolation`. */
  PluginViolation: ProtoPluginViolation;
  /** `cpex.PluginResultBase`. */
  PluginResultBase: ProtoPluginResultBase;
  /** `cpex.PluginError`. */
  PluginError: ProtoPluginError;
  /** `cpex.DenialMetric`. */
  DenialMetric: ProtoDenialMetric;
  /** `cpex.DenialMetadata`. */
  DenialMetadata: ProtoDenialMetadata;
  /** `cpex.HealthCheckRequest`. */
  HealthCheckRequest: HealthCheckRequest;
  /** `cpex.HealthCheckResponse`. */
  HealthCheckResponse: HealthCheckResponse;
}

/**
 * The unqualified name of a `cpex` message (`"InvokeHookRequest"`, ...).
 */
export type CpexMessageName = keyof CpexMessages;

/**
 * Thrown by {@linkcode decodeMessage} for bytes that are not a valid encoding of the asked
 * message type (truncated, bad wire type, too deeply nested). The protobufjs error is the
 * `cause`.
 */
export class ProtobufDecodeError extends Error {
  /** The message type that was being decoded. */
  readonly typeName: string;

  /** Creates the error. */
  constructor(typeName: string, cause: unknown) {
    super(`cannot decode cpex.${typeName}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = "ProtobufDecodeError";
    this.typeName = typeName;
  }
}

/**
 * protobufjs's Buffer reader, but refusing strings that run past the end of the message (the
 * stock one silently truncates them, so a cut-off frame would decode "successfully").
 * Strings are read with Node's native UTF-8 decoder, faster than protobufjs's JS one.
 */
class StrictBufferReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) {
      throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    }
    this.pos = end;
    return (this.buf as Buffer).toString("utf8", start, end);
  }
}

interface Codec {
  readonly root: protobuf.Root;
  readonly types: Map<string, protobuf.Type>;
}

let codec: Codec | undefined;

function loadCodec(): Codec {
  const root = new protobuf.Root();
  protobuf.parse(PLUGIN_SERVICE_PROTO, root, { keepCase: true });
  // protobufjs ships google/protobuf/struct.proto as a built-in "common" definition.
  const struct = protobuf.common.get("google/protobuf/struct.proto");
  if (struct?.nested === undefined) {
    throw new Error("protobufjs lacks google/protobuf/struct.proto");
  }
  root.addJSON(struct.nested);
  root.resolveAll();
  const types = new Map<string, protobuf.Type>();
  const pkg = root.lookup("cpex") as protobuf.Namespace;
  for (const nested of pkg.nestedArray) {
    if (nested instanceof protobuf.Type) {
      nested.setup(); // generate the encoder/decoder now, not on the first call
      types.set(nested.name, nested);
    }
  }
  decodeStructsDirectly(root.lookupType("google.protobuf.Struct"));
  return { root, types };
}

/**
 * Every `Struct` field (payloads, results, contexts' state and metadata) decodes straight to
 * JSON (`fast_struct.ts`: no message object per value, strings without a native call each),
 * falling back to the generated decoder for anything out of the common shapes (which also
 * raises the errors). The generated decoders of the enclosing messages call `decode` on the
 * Struct type, so replacing it there is enough.
 */
function decodeStructsDirectly(struct: protobuf.Type): void {
  struct.setup();
  registerUtf8Decoder((bytes, start, end) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", start, end)
  );
  const generic = struct.decode;
  // protobufjs calls it as decode(reader, length, endGroup, nesting).
  struct.decode = function (this: protobuf.Type, ...args: unknown[]) {
    const [reader, length, endGroup, nesting] = args as [
      protobuf.Reader,
      number?,
      number?,
      number?,
    ];
    // Within 30 levels, so the fast path's 64 more stay under protobufjs's limit of 100.
    if (length !== undefined && endGroup === undefined && (nesting ?? 0) < 30) {
      const start = reader.pos;
      const end = start + length;
      if (end <= reader.len) {
        const json = decodeStructFast(reader.buf, start, end);
        if (json !== null) {
          reader.pos = end;
          return new DecodedStruct(json) as unknown as protobuf.Message;
        }
      }
    }
    return (generic as (...a: unknown[]) => protobuf.Message).apply(this, args);
  } as typeof struct.decode;
  // A DecodedStruct's `fields` is a prototype getter, which protobufjs's encoder skips.
  const encode = struct.encode;
  struct.encode = function (this: protobuf.Type, message: unknown, writer?: protobuf.Writer) {
    const m = message instanceof DecodedStruct ? { fields: message.fields } : message;
    return encode.call(this, m as protobuf.Message, writer);
  } as typeof struct.encode;
}

function typeOf(typeName: string): protobuf.Type {
  const c = codec ??= loadCodec();
  const type = c.types.get(typeName);
  if (type === undefined) throw new TypeError(`unknown message type cpex.${typeName}`);
  return type;
}

/**
 * The parsed schema (a protobufjs `Root` holding package `cpex` and
 * `google.protobuf.Struct`), e.g. for building gRPC service definitions. Parsed once.
 */
export function protoRoot(): protobuf.Root {
  return (codec ??= loadCodec()).root;
}

/**
 * Serializes a `cpex` message given as a plain object. Fields are written in field-number
 * order; map (Struct) entries in the object's key order. The result may be a view into a
 * shared slab: copy it before transferring its `buffer`.
 */
export function encodeMessage<N extends CpexMessageName>(
  typeName: N,
  message: Readonly<CpexMessages[N]>,
): Uint8Array {
  // A plain Writer (not the Buffer-backed one protobufjs picks by default) is faster on Deno.
  return typeOf(typeName).encode(message as Record<string, unknown>, new protobuf.Writer())
    .finish();
}

/**
 * Parses bytes as a `cpex` message. Unknown fields are skipped; absent scalars read as their
 * proto3 default and absent messages as `null`. Throws {@linkcode ProtobufDecodeError} for
 * malformed input.
 */
export function decodeMessage<N extends CpexMessageName>(
  typeName: N,
  bytes: Uint8Array,
): CpexMessages[N] {
  const type = typeOf(typeName);
  try {
    // A Buffer view of the same memory (no copy), for the native UTF-8 decoder.
    const reader = new StrictBufferReader(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    );
    return type.decode(reader) as unknown as CpexMessages[N];
  } catch (e) {
    throw new ProtobufDecodeError(typeName, e);
  }
}
