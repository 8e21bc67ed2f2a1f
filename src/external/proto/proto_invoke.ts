/**
 * One protobuf `InvokeHook` adapter for the transports that speak protobuf (gRPC and the raw
 * Unix socket; issue 10 item 2): request messages in, an `InvokeHookResponse` out, with error
 * replies bounded in size (issue 9 item 10) and `null` for the default allow reply, which each
 * transport sends pre-encoded (`allow_reply.ts`).
 *
 * @module
 */
import { isDefaultAllow } from "./allow_reply.ts";
import type { InvokeHookResponse } from "./codec.ts";
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
    if (!reply.error && !reply.context && isDefaultAllow(reply.result)) return null;
    const response: InvokeHookResponse = { plugin_name: bounded(pluginName, MAX_ECHOED_NAME) };
    if (reply.error) response.error = errorToProto(reply.error);
    else {
      response.result = toStruct(reply.result ?? {});
      if (reply.context) {
        response.context = pluginContextToProto(
          reply.context as Parameters<typeof pluginContextToProto>[0],
        );
      }
    }
    return response;
  } catch (error) {
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
}
