/**
 * One protobuf `InvokeHook` adapter for the transports that speak protobuf (gRPC and the raw
 * Unix socket; issue 10 item 2): request messages in, an `InvokeHookResponse` out, with error
 * replies bounded in size (issue 9 item 10) and `null` for the default allow reply, which each
 * transport sends pre-encoded (`allow_reply.ts`).
 *
 * @module
 */
import { encodeAllowReply, isDefaultAllow } from "./allow_reply.ts";
import { encodeMessage, type InvokeHookResponse } from "./codec.ts";
import { encodeStructFast } from "./fast_struct.ts";
import { INTERNAL_ERROR_CODE } from "../../errors.ts";
import type { ExternalPluginServer } from "../server.ts";
import {
  fromStruct,
  pluginContextFromProto,
  pluginContextToProto,
  type ProtoPluginContext,
  type ProtoPluginError,
  type ProtoStruct,
  toStruct,
} from "./struct.ts";

/**
 * Bounds on what an error reply echoes (issue 9 item 10): a request naming a plugin of
 * megabytes got that name back three times (in `plugin_name`, the error's `plugin_name` and
 * its message), past the 16 MiB frame limit, and the connection was closed without an answer.
 */
export const MAX_ECHOED_NAME = 256;
const MAX_ERROR_MESSAGE = 8 * 1024;
/** Error details larger than this (as JSON) are replaced by a note saying so. */
const MAX_ERROR_DETAILS = 64 * 1024;

/** `text` cut to `max` characters, saying how much was cut. */
export function bounded(text: string, max: number): string {
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
 * The wire form of an error dict, with the reference's defaults (`Unknown error`, `unknown`,
 * -32603), `code` and `details` only when set, and every echoed text bounded.
 */
export function errorToProto(error: Record<string, unknown>): ProtoPluginError {
  const message = typeof error.message === "string" && error.message
    ? error.message
    : "Unknown error";
  const out: ProtoPluginError = {
    message: bounded(message, MAX_ERROR_MESSAGE),
    plugin_name: typeof error.plugin_name === "string" && error.plugin_name
      ? bounded(error.plugin_name, MAX_ECHOED_NAME)
      : "unknown",
    mcp_error_code: typeof error.mcp_error_code === "number"
      ? error.mcp_error_code
      : INTERNAL_ERROR_CODE,
  };
  if (typeof error.code === "string" && error.code) out.code = bounded(error.code, MAX_ECHOED_NAME);
  const details = error.details;
  if (details && typeof details === "object" && Object.keys(details).length) {
    out.details = toStruct(boundedDetails(details as Record<string, unknown>));
  }
  return out;
}

/** What `server` answers to one request, before encoding. */
type InvokeReply = Awaited<ReturnType<ExternalPluginServer["invokeHookWithContext"]>>;

/** The response to a request whose handling threw (never expected: the server catches). */
function internalError(pluginName: string, error: unknown): InvokeHookResponse {
  return {
    plugin_name: bounded(pluginName, MAX_ECHOED_NAME),
    error: {
      message: bounded(error instanceof Error ? error.message : String(error), MAX_ERROR_MESSAGE),
      plugin_name: bounded(pluginName, MAX_ECHOED_NAME),
      code: "INTERNAL_ERROR",
      mcp_error_code: INTERNAL_ERROR_CODE,
    },
  };
}

/** True when `reply` is the default allow (sent pre-encoded). */
function isAllow(reply: InvokeReply): boolean {
  return !reply.error && !reply.context && isDefaultAllow(reply.result);
}

/** The response message of a reply that is not the default allow. */
function toResponse(reply: InvokeReply, pluginName: string): InvokeHookResponse {
  const response: InvokeHookResponse = { plugin_name: bounded(pluginName, MAX_ECHOED_NAME) };
  if (reply.error) response.error = errorToProto(reply.error);
  else {
    response.result = toStruct(reply.result ?? {});
    if (reply.context) response.context = contextToProto(reply.context);
  }
  return response;
}

function contextToProto(context: NonNullable<InvokeReply["context"]>): ProtoPluginContext {
  return pluginContextToProto(context as Parameters<typeof pluginContextToProto>[0]);
}

/**
 * Runs one `InvokeHook` request through `server`. Never throws: an unexpected failure becomes
 * an error with code `INTERNAL_ERROR`. Returns `null` for the default allow reply.
 */
export async function invokeProto(
  server: ExternalPluginServer,
  hookType: string,
  pluginName: string,
  payload: ProtoStruct | null | undefined,
  context: ProtoPluginContext | null | undefined,
  traceContext: Readonly<Record<string, string>> | null = null,
): Promise<InvokeHookResponse | null> {
  try {
    const reply = await server.invokeHookWithContext(
      hookType,
      pluginName,
      fromStruct(payload),
      pluginContextFromProto(context),
      traceContext,
    );
    return isAllow(reply) ? null : toResponse(reply, pluginName);
  } catch (error) {
    return internalError(pluginName, error);
  }
}

/**
 * {@linkcode invokeProto} answering with the encoded `InvokeHookResponse` (the Unix transport):
 * a result of the common JSON shapes is written straight to bytes (`encodeStructFast`, the
 * same bytes as `toStruct` + `encodeMessage`, without a message object per value; issue 13),
 * anything else takes the generic encoder.
 */
export async function invokeProtoEncoded(
  server: ExternalPluginServer,
  hookType: string,
  pluginName: string,
  payload: ProtoStruct | null | undefined,
  context: ProtoPluginContext | null | undefined,
): Promise<Uint8Array> {
  let response: InvokeHookResponse;
  try {
    const reply = await server.invokeHookWithContext(
      hookType,
      pluginName,
      fromStruct(payload),
      pluginContextFromProto(context),
      null,
    );
    if (isAllow(reply)) return encodeAllowReply(pluginName);
    if (!reply.error) {
      const fast = encodeResultReply(reply, pluginName);
      if (fast !== null) return fast;
    }
    response = toResponse(reply, pluginName);
  } catch (error) {
    response = internalError(pluginName, error);
  }
  return encodeMessage("InvokeHookResponse", response);
}

/**
 * Fields 1-3 of an `InvokeHookResponse` (name, result, context) in field order, as
 * `encodeMessage` writes them; null when the result is not of the fast encoder's shapes.
 */
function encodeResultReply(reply: InvokeReply, pluginName: string): Uint8Array | null {
  const result = encodeStructFast(reply.result ?? {});
  if (result === null) return null;
  const name = utf8.encode(bounded(pluginName, MAX_ECHOED_NAME));
  const context = reply.context
    ? encodeMessage("PluginContext", contextToProto(reply.context))
    : null;
  const size = 1 + varintSize(name.length) + name.length +
    1 + varintSize(result.length) + result.length +
    (context === null ? 0 : 1 + varintSize(context.length) + context.length);
  const out = new Uint8Array(size);
  let pos = field(out, 0, 0x0a, name); // written even when empty, as protobufjs does
  pos = field(out, pos, 0x12, result);
  if (context !== null) pos = field(out, pos, 0x1a, context);
  return out;
}

const utf8 = new TextEncoder();

/** Writes a length-delimited field (tag, length, bytes) at `pos`; returns the end. */
function field(out: Uint8Array, pos: number, tag: number, bytes: Uint8Array): number {
  out[pos++] = tag;
  let n = bytes.length;
  while (n > 0x7f) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  out.set(bytes, pos);
  return pos + bytes.length;
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}
