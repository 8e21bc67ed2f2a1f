/**
 * What the gRPC plugin server answers (wire.md §4.4), as functions from decoded request
 * messages to response messages over an {@linkcode ExternalPluginServer}. Independent of
 * grpc-js: `server.ts` wires them to a grpc-js `Server` and turns thrown errors into status
 * `INTERNAL`.
 *
 * @module
 */
import { isDefaultAllow } from "../allow_reply.ts";
import { allowResponse } from "./service.ts";
import { INTERNAL_ERROR_CODE } from "../../errors.ts";
import type {
  GetPluginConfigRequest,
  GetPluginConfigResponse,
  GetPluginConfigsResponse,
  InvokeHookRequest,
  InvokeHookResponse,
} from "../codec.ts";
import type { ExternalPluginServer } from "../server.ts";
import {
  fromStruct,
  pluginContextFromProto,
  pluginContextToProto,
  type ProtoPluginError,
  toStruct,
} from "../struct.ts";

/**
 * `GetPluginConfig`: the entry (matched case-insensitively) or an empty message when there is
 * none. Throws when the server fails (the caller answers `INTERNAL`).
 */
export function getPluginConfig(
  server: ExternalPluginServer,
  request: GetPluginConfigRequest,
): GetPluginConfigResponse {
  const found = server.getPluginConfig(request.name ?? "");
  return found ? { found: true, config: toStruct(found) } : {};
}

/**
 * `GetPluginConfigs`: one Struct per plugin the server knows.
 */
export function getPluginConfigs(server: ExternalPluginServer): GetPluginConfigsResponse {
  return { configs: server.getPluginConfigs().map((c) => toStruct(c)) };
}

/**
 * The wire form of an error dict, with the reference's defaults (`Unknown error`, `unknown`,
 * -32603) and `details` only when non-empty.
 */
function errorToProto(error: Record<string, unknown>): ProtoPluginError {
  const out: ProtoPluginError = {
    message: typeof error.message === "string" && error.message ? error.message : "Unknown error",
    plugin_name: typeof error.plugin_name === "string" && error.plugin_name
      ? error.plugin_name
      : "unknown",
    mcp_error_code: typeof error.mcp_error_code === "number"
      ? error.mcp_error_code
      : INTERNAL_ERROR_CODE,
  };
  if (typeof error.code === "string" && error.code) out.code = error.code;
  const details = error.details;
  if (details && typeof details === "object" && Object.keys(details).length) {
    out.details = toStruct(details as Record<string, unknown>);
  }
  return out;
}

/**
 * `InvokeHook`: runs the hook through the server; `result` (+ `context` when the server
 * returned one) or `error`. Never throws: an unexpected failure becomes an error with code
 * `INTERNAL_ERROR`.
 */
export async function invokeHook(
  server: ExternalPluginServer,
  request: InvokeHookRequest,
): Promise<InvokeHookResponse> {
  const pluginName = request.plugin_name ?? "";
  try {
    const payload = fromStruct(request.payload);
    const context = pluginContextFromProto(request.context);
    const reply = await server.invokeHookWithContext(
      request.hook_type ?? "",
      pluginName,
      payload,
      context,
    );
    if (reply.error) return { plugin_name: pluginName, error: errorToProto(reply.error) };
    if (!reply.context && isDefaultAllow(reply.result)) return allowResponse(pluginName);
    const response: InvokeHookResponse = {
      plugin_name: pluginName,
      result: toStruct(reply.result ?? {}),
    };
    if (reply.context) {
      response.context = pluginContextToProto(
        reply.context as unknown as Parameters<typeof pluginContextToProto>[0],
      );
    }
    return response;
  } catch (error) {
    return {
      plugin_name: pluginName,
      error: {
        message: error instanceof Error ? error.message : String(error),
        plugin_name: pluginName,
        code: "INTERNAL_ERROR",
        mcp_error_code: INTERNAL_ERROR_CODE,
      },
    };
  }
}
