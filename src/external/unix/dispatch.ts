/**
 * Request dispatch of the raw Unix socket server: the reference's trial-and-error parse order,
 * so the Python gateway (and anything written against it) works unchanged.
 *
 * @module
 */
import protobuf from "protobufjs";
import { encodeAllowReply, isDefaultAllow } from "../allow_reply.ts";
import { decodeMessage, encodeMessage, type InvokeHookResponse } from "../codec.ts";
import type { ExternalPluginServer } from "../server.ts";
import {
  fromStruct,
  pluginContextFromProto,
  pluginContextToProto,
  type ProtoPluginError,
  toStruct,
} from "../struct.ts";
import { INTERNAL_ERROR_CODE } from "../../errors.ts";
import { MAX_FRAME_LENGTH } from "../frame.ts";

const EMPTY = new Uint8Array(0);

/**
 * Bounds on what an error reply echoes (issue 9 item 10): a request naming a plugin of
 * megabytes got that name back three times (in `plugin_name`, the error's `plugin_name` and
 * its message), past the 16 MiB frame limit, and the connection was closed without an answer.
 */
const MAX_ECHOED_NAME = 256;
const MAX_ERROR_MESSAGE = 8 * 1024;
/** Error details larger than this (as JSON) are replaced by a note saying so. */
const MAX_ERROR_DETAILS = 64 * 1024;

/** `text` cut to `max` characters, saying how much was cut. */
function bounded(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}... [${text.length - max} more characters]`;
}

function boundedDetails(details: Record<string, unknown>): Record<string, unknown> {
  let size: number;
  try {
    size = JSON.stringify(details)?.length ?? 0;
  } catch {
    return { truncated: true };
  }
  return size <= MAX_ERROR_DETAILS ? details : { truncated: true, size };
}

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

function errorToProto(error: Record<string, unknown>): ProtoPluginError {
  const out: ProtoPluginError = {
    message: bounded(String(error.message ?? "Unknown error"), MAX_ERROR_MESSAGE),
  };
  if (error.plugin_name) out.plugin_name = bounded(String(error.plugin_name), MAX_ECHOED_NAME);
  if (error.code) out.code = bounded(String(error.code), MAX_ECHOED_NAME);
  out.mcp_error_code = typeof error.mcp_error_code === "number"
    ? error.mcp_error_code
    : INTERNAL_ERROR_CODE;
  const details = error.details as Record<string, unknown> | undefined;
  if (details && Object.keys(details).length) out.details = toStruct(boundedDetails(details));
  return out;
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

async function invokeHook(
  server: ExternalPluginServer,
  hookType: string,
  pluginName: string,
  request: { payload?: unknown; context?: unknown },
): Promise<Uint8Array> {
  let response: InvokeHookResponse;
  try {
    const payload = fromStruct(request.payload as Parameters<typeof fromStruct>[0]);
    const context = pluginContextFromProto(
      request.context as Parameters<typeof pluginContextFromProto>[0],
    );
    const reply = await server.invokeHookWithContext(hookType, pluginName, payload, context);
    if (!reply.error && !reply.context && isDefaultAllow(reply.result)) {
      return encodeAllowReply(pluginName);
    }
    response = { plugin_name: bounded(pluginName, MAX_ECHOED_NAME) };
    if (reply.error) {
      response.error = errorToProto(reply.error);
    } else {
      response.result = toStruct(reply.result ?? {});
      if (reply.context) {
        response.context = pluginContextToProto(
          reply.context as unknown as Parameters<typeof pluginContextToProto>[0],
        );
      }
    }
  } catch (error) {
    response = {
      plugin_name: bounded(pluginName, MAX_ECHOED_NAME),
      error: {
        message: bounded(error instanceof Error ? error.message : String(error), MAX_ERROR_MESSAGE),
        code: "INTERNAL_ERROR",
        mcp_error_code: INTERNAL_ERROR_CODE,
      },
    };
  }
  return encodeMessage("InvokeHookResponse", response);
}
