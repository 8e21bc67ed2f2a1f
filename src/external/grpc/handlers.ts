/**
 * What the gRPC plugin server answers (wire.md §4.4), as functions from decoded request
 * messages to response messages over an {@linkcode ExternalPluginServer}. Independent of
 * grpc-js: `server.ts` wires them to a grpc-js `Server` and turns thrown errors into status
 * `INTERNAL`.
 *
 * @module
 */
import { allowResponse } from "./service.ts";
import { invokeProto } from "../proto/proto_invoke.ts";
import type {
  GetPluginConfigRequest,
  GetPluginConfigResponse,
  GetPluginConfigsResponse,
  InvokeHookRequest,
  InvokeHookResponse,
} from "../proto/codec.ts";
import type { ExternalPluginServer } from "../server.ts";
import { toStruct } from "../proto/struct.ts";

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
 * `InvokeHook`: runs the hook through the server (`proto_invoke.ts`, shared with the Unix
 * socket); `result` (+ `context` when the server returned one) or `error`. Never throws.
 * `traceContext`: the W3C trace context the call's metadata carried.
 */
export async function invokeHook(
  server: ExternalPluginServer,
  request: InvokeHookRequest,
  traceContext: Readonly<Record<string, string>> | null = null,
): Promise<InvokeHookResponse> {
  const pluginName = request.plugin_name ?? "";
  const response = await invokeProto(
    server,
    request.hook_type ?? "",
    pluginName,
    request.payload,
    request.context,
    traceContext,
  );
  return response ?? allowResponse(pluginName);
}
