/**
 * The protobuf side of the conformance drivers (gRPC and raw Unix socket): a
 * {@linkcode WireInvoke} as a `cpex.InvokeHookRequest`, and a decoded `cpex.InvokeHookResponse`
 * as the JSON a check reads (absent parts stay absent).
 *
 * @module
 */
import type { CpexMessages, InvokeHookResponse } from "../external/proto/codec.ts";
import {
  fromStruct,
  globalContextFromProto,
  pluginContextToProto,
  pluginErrorFromProto,
  toStruct,
} from "../external/proto/struct.ts";
import type { WireInvoke, WireReply } from "./conformance_driver.ts";

/** The context as a protobuf message (the gRPC and Unix transports). */
export function protoRequest(request: WireInvoke): CpexMessages["InvokeHookRequest"] {
  return {
    hook_type: request.hook_type,
    plugin_name: request.plugin_name,
    payload: toStruct(request.payload),
    context: pluginContextToProto(request.context),
  };
}

/** A decoded `InvokeHookResponse` as JSON (an absent part stays absent). */
export function protoReply(response: InvokeHookResponse): WireReply {
  const reply: WireReply = {};
  if (response.result) reply.result = fromStruct(response.result);
  if (response.error?.message) reply.error = { ...pluginErrorFromProto(response.error) };
  const c = response.context;
  if (c) {
    reply.context = {
      state: fromStruct(c.state),
      metadata: fromStruct(c.metadata),
      global_context: globalContextFromProto(c.global_context),
    };
  }
  return reply;
}
