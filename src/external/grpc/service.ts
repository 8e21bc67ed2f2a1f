/**
 * gRPC method definitions of the cpex services, built from our own proto through the shared
 * codec (no proto-loader, no generated code): `cpex.PluginService` (GetPluginConfig,
 * GetPluginConfigs, InvokeHook), `cpex.Health/Check`, and the standard
 * `grpc.health.v1.Health/Check`, whose two tiny messages are encoded by hand here.
 *
 * The objects have the shape grpc-js expects (`path`, serializers returning a node `Buffer`),
 * but nothing here imports grpc-js.
 *
 * @module
 */
import { encodeAllowReply, isAllowReply } from "../proto/allow_reply.ts";
import { Buffer } from "node:buffer";
import protobuf from "protobufjs";
import {
  type CpexMessageName,
  type CpexMessages,
  decodeMessage,
  encodeMessage,
  type InvokeHookRequest,
  type InvokeHookResponse,
} from "../proto/codec.ts";

/**
 * One unary method: its full path and the four (de)serializers grpc-js calls.
 */
export interface UnaryMethod<Req, Res> {
  /** `/package.Service/Method`. */
  readonly path: string;
  /** Always false (unary). */
  readonly requestStream: false;
  /** Always false (unary). */
  readonly responseStream: false;
  /** Encodes a request. */
  readonly requestSerialize: (value: Req) => Buffer;
  /** Decodes a request (throws on malformed bytes). */
  readonly requestDeserialize: (bytes: Buffer) => Req;
  /** Encodes a response. */
  readonly responseSerialize: (value: Res) => Buffer;
  /** Decodes a response (throws on malformed bytes). */
  readonly responseDeserialize: (bytes: Buffer) => Res;
  /** The method name as written in the proto. */
  readonly originalName: string;
}

/** A Buffer view of the encoded bytes (no copy; grpc-js rejects a plain Uint8Array). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function cpexMethod<Req extends CpexMessageName, Res extends CpexMessageName>(
  service: string,
  name: string,
  request: Req,
  response: Res,
): UnaryMethod<CpexMessages[Req], CpexMessages[Res]> {
  return {
    path: `/${service}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value) => {
      const pre = (value as { [PRE_ENCODED]?: Uint8Array })[PRE_ENCODED];
      return asBuffer(pre ?? encodeMessage(request, value));
    },
    requestDeserialize: (bytes) => decodeMessage(request, bytes),
    responseSerialize: (value) => {
      const pre = (value as { [PRE_ENCODED]?: Uint8Array })[PRE_ENCODED];
      return asBuffer(pre ?? encodeMessage(response, value));
    },
    responseDeserialize: response === "InvokeHookResponse"
      ? (bytes) =>
        (isAllowReply(bytes) ? ALLOW_RESPONSE : decodeMessage(response, bytes)) as CpexMessages[Res]
      : (bytes) => decodeMessage(response, bytes),
    originalName: name,
  };
}

/** A response object carrying its bytes already encoded (the default allow reply). */
const PRE_ENCODED: unique symbol = Symbol("pre-encoded");
const ALLOW: unique symbol = Symbol("allow");
const ALLOW_RESPONSE = Object.freeze({ [ALLOW]: true }) as unknown as InvokeHookResponse;

/**
 * An `InvokeHookRequest` already encoded (`encodeInvokeRequest`): sent as these bytes.
 */
export function preEncodedRequest(bytes: Uint8Array): InvokeHookRequest {
  return { [PRE_ENCODED]: bytes } as unknown as InvokeHookRequest;
}

/**
 * The `InvokeHookResponse` for a default allow result, with its bytes pre-encoded.
 */
export function allowResponse(pluginName: string): InvokeHookResponse {
  return { [PRE_ENCODED]: encodeAllowReply(pluginName) } as unknown as InvokeHookResponse;
}

/**
 * True for a received default allow reply (recognised by its bytes, not decoded).
 */
export function isAllowResponse(response: InvokeHookResponse): boolean {
  return (response as { [ALLOW]?: boolean })[ALLOW] === true;
}

/**
 * `cpex.PluginService`.
 */
export const PLUGIN_SERVICE: {
  readonly GetPluginConfig: UnaryMethod<
    CpexMessages["GetPluginConfigRequest"],
    CpexMessages["GetPluginConfigResponse"]
  >;
  readonly GetPluginConfigs: UnaryMethod<
    CpexMessages["GetPluginConfigsRequest"],
    CpexMessages["GetPluginConfigsResponse"]
  >;
  readonly InvokeHook: UnaryMethod<
    CpexMessages["InvokeHookRequest"],
    CpexMessages["InvokeHookResponse"]
  >;
} = {
  GetPluginConfig: cpexMethod(
    "cpex.PluginService",
    "GetPluginConfig",
    "GetPluginConfigRequest",
    "GetPluginConfigResponse",
  ),
  GetPluginConfigs: cpexMethod(
    "cpex.PluginService",
    "GetPluginConfigs",
    "GetPluginConfigsRequest",
    "GetPluginConfigsResponse",
  ),
  InvokeHook: cpexMethod(
    "cpex.PluginService",
    "InvokeHook",
    "InvokeHookRequest",
    "InvokeHookResponse",
  ),
};

/**
 * `cpex.Health` (the reference's own health service; always SERVING).
 */
export const CPEX_HEALTH_SERVICE: {
  readonly Check: UnaryMethod<
    CpexMessages["HealthCheckRequest"],
    CpexMessages["HealthCheckResponse"]
  >;
} = {
  Check: cpexMethod("cpex.Health", "Check", "HealthCheckRequest", "HealthCheckResponse"),
};

/**
 * `grpc.health.v1.HealthCheckRequest` / `HealthCheckResponse` as plain objects (`status`:
 * 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN).
 */
export interface StandardHealthMessage {
  /** Request field 1. */
  service?: string;
  /** Response field 1. */
  status?: number;
}

function decodeHealth(bytes: Uint8Array, field: "service" | "status"): StandardHealthMessage {
  const reader = protobuf.Reader.create(bytes);
  const out: StandardHealthMessage = {};
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && field === "service" && (tag & 7) === 2) {
      const length = reader.uint32();
      // protobufjs's reader would silently truncate a string running past the end.
      if (reader.pos + length > reader.len) throw new RangeError("truncated HealthCheckRequest");
      out.service = new TextDecoder("utf-8", { fatal: true }).decode(
        reader.buf.subarray(reader.pos, reader.pos + length),
      );
      reader.pos += length;
    } else if (tag >>> 3 === 1 && field === "status" && (tag & 7) === 0) {
      out.status = reader.int32();
    } else reader.skipType(tag & 7);
  }
  return out;
}

function encodeHealth(message: StandardHealthMessage): Buffer {
  const writer = protobuf.Writer.create();
  if (message.service) writer.uint32(0x0a).string(message.service);
  if (message.status) writer.uint32(0x08).int32(message.status);
  return asBuffer(writer.finish());
}

/**
 * The standard `grpc.health.v1.Health/Check`, so ordinary probes (grpc_health_probe, grpcurl,
 * Kubernetes gRPC probes) work.
 */
export const STANDARD_HEALTH_SERVICE: {
  readonly Check: UnaryMethod<StandardHealthMessage, StandardHealthMessage>;
} = {
  Check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealth,
    requestDeserialize: (bytes) => decodeHealth(bytes, "service"),
    responseSerialize: encodeHealth,
    responseDeserialize: (bytes) => decodeHealth(bytes, "status"),
    originalName: "Check",
  },
};

/**
 * The service names the standard health service reports SERVING for (`""` is the whole
 * server); any other name gets `NOT_FOUND`, as grpc.health.v1 specifies.
 */
export const HEALTH_SERVICE_NAMES: ReadonlySet<string> = new Set([
  "",
  "cpex.PluginService",
  "cpex.Health",
  "grpc.health.v1.Health",
]);
