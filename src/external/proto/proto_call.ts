/**
 * The protobuf side of a gateway's hook call, shared by the gRPC and Unix socket connections:
 * a {@linkcode RemoteCall} as a `cpex.InvokeHookRequest`, and a `cpex.InvokeHookResponse` as a
 * {@linkcode RemoteReply} for the core to decode.
 *
 * @module
 */
import type { InvokeHookRequest, InvokeHookResponse } from "./codec.ts";
import type { RemoteCall, RemoteReply } from "../remote_plugin.ts";
import { fromStruct, pluginContextToProto, pluginErrorFromProto, toStruct } from "./struct.ts";

/** The `cpex.InvokeHookRequest` of a call. */
export function invokeRequest(call: RemoteCall): InvokeHookRequest {
  return {
    hook_type: call.hookName,
    plugin_name: call.pluginName,
    payload: toStruct(call.payload as Record<string, unknown>),
    context: pluginContextToProto(call.context),
  };
}

/**
 * A decoded `cpex.InvokeHookResponse` as a reply: an error only with a message; a context
 * replaces local state and metadata (`{}` when absent) and a non-empty global state, as the
 * reference does.
 */
export function replyFromProto(response: InvokeHookResponse, pluginName: string): RemoteReply {
  const error = response.error?.message ? pluginErrorFromProto(response.error, pluginName) : null;
  const p = response.context;
  const globalState = p?.global_context?.state;
  return {
    error,
    result: response.result ? fromStruct(response.result) : null,
    context: p
      ? {
        state: fromStruct(p.state),
        metadata: fromStruct(p.metadata),
        globalState: globalState?.fields != null && Object.keys(globalState.fields).length > 0
          ? fromStruct(globalState)
          : undefined,
      }
      : null,
  };
}
