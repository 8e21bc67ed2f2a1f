/**
 * Request dispatch of the raw Unix socket server: the reference's trial-and-error parse order,
 * so the Python gateway (and anything written against it) works unchanged.
 *
 * @module
 */
import protobuf from "protobufjs";
import { decodeMessage, encodeMessage } from "../proto/codec.ts";
import { invokeProtoEncoded } from "../proto/proto_invoke.ts";
import type { ExternalPluginServer } from "../server.ts";
import { type ProtoPluginContext, type ProtoStruct, toStruct } from "../proto/struct.ts";
import { INTERNAL_ERROR_CODE } from "../../errors.ts";
import { MAX_FRAME_LENGTH } from "./frame.ts";

const EMPTY = new Uint8Array(0);

/**
 * The reply sent instead of one that would exceed the frame limit: a small error the gateway
 * reads as a failed call (the connection stays open).
 */
export function replyTooLarge(bytes: number): Uint8Array {
  return encodeMessage("InvokeHookResponse", {
    error: {
      message: `Reply of ${bytes} bytes exceeds the frame limit of ${MAX_FRAME_LENGTH} bytes`,
      code: "REPLY_TOO_LARGE",
      mcp_error_code: INTERNAL_ERROR_CODE,
    },
  });
}

const UNKNOWN_MESSAGE: Uint8Array = encodeMessage("InvokeHookResponse", {
  error: { message: "Unknown message type", code: "UNKNOWN_MESSAGE" },
});

function tryDecode<N extends "InvokeHookRequest" | "GetPluginConfigRequest">(
  name: N,
  bytes: Uint8Array,
) {
  try {
    return decodeMessage(name, bytes);
  } catch {
    return null;
  }
}

/**
 * Answers one request frame. Order: an `InvokeHookRequest` with hook type and plugin name; a
 * `GetPluginConfigRequest` with a name; any frame of at most 2 bytes as
 * `GetPluginConfigsRequest`; anything else gets the "Unknown message type" error reply.
 */
export async function dispatchFrame(
  server: ExternalPluginServer,
  frame: Uint8Array,
): Promise<Uint8Array> {
  const request = dropMistypedFields(frame);
  if (request === null) return frame.length <= 2 ? configsReply(server) : UNKNOWN_MESSAGE;
  const invoke = tryDecode("InvokeHookRequest", request);
  if (invoke && invoke.hook_type && invoke.plugin_name) {
    return await invokeHook(server, invoke.hook_type, invoke.plugin_name, invoke);
  }
  const config = tryDecode("GetPluginConfigRequest", request);
  if (config && config.name) {
    let found: Record<string, unknown> | null = null;
    try {
      found = server.getPluginConfig(config.name);
    } catch {
      found = null;
    }
    return found
      ? encodeMessage("GetPluginConfigResponse", { found: true, config: toStruct(found) })
      : EMPTY;
  }
  return frame.length <= 2 ? configsReply(server) : UNKNOWN_MESSAGE;
}

function configsReply(server: ExternalPluginServer): Uint8Array {
  let configs: Record<string, unknown>[] = [];
  try {
    configs = server.getPluginConfigs();
  } catch {
    configs = [];
  }
  return encodeMessage("GetPluginConfigsResponse", { configs: configs.map((c) => toStruct(c)) });
}

/**
 * Both request types carry only length-delimited fields (numbers 1-4). The reference's
 * protobuf runtime treats a known field number with another wire type as an unknown field;
 * protobufjs would read it anyway. So such fields are dropped before decoding. Returns null
 * for bytes that are not a sequence of well-formed fields.
 */
function dropMistypedFields(bytes: Uint8Array): Uint8Array | null {
  const reader = new protobuf.Reader(bytes);
  let kept: Uint8Array[] | null = null;
  let keptFrom = 0;
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      const field = tag >>> 3;
      if (field === 0) return null;
      reader.skipType(tag & 7);
      if (field <= 4 && (tag & 7) !== 2) {
        kept ??= [];
        kept.push(bytes.subarray(keptFrom, start));
        keptFrom = reader.pos;
      }
    }
  } catch {
    return null;
  }
  if (kept === null) return bytes;
  kept.push(bytes.subarray(keptFrom));
  const out = new Uint8Array(kept.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of kept) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function invokeHook(
  server: ExternalPluginServer,
  hookType: string,
  pluginName: string,
  request: { payload?: ProtoStruct | null; context?: ProtoPluginContext | null },
): Promise<Uint8Array> {
  return invokeProtoEncoded(server, hookType, pluginName, request.payload, request.context);
}
