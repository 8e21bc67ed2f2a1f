/**
 * The protobuf side of a gateway's hook call, shared by the gRPC and Unix socket connections:
 * a {@linkcode RemoteCall} as a `cpex.InvokeHookRequest`, and a `cpex.InvokeHookResponse` as a
 * {@linkcode RemoteReply} for the core to decode.
 *
 * @module
 */
import { encodeMessage, type InvokeHookRequest, type InvokeHookResponse } from "./codec.ts";
import type { RemoteCall, RemoteReply } from "../remote_plugin.ts";
import { encodeStructFast } from "./fast_struct.ts";
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
 * The encoded `cpex.InvokeHookRequest` of a call: the same bytes as
 * `encodeMessage("InvokeHookRequest", invokeRequest(call))`, with the payload written by the
 * direct Struct encoder (`fast_struct.ts`) when it takes it.
 */
export function encodeInvokeRequest(call: RemoteCall): Uint8Array {
  const payload = encodeStructFast(call.payload as Record<string, unknown>);
  if (payload === null) return encodeMessage("InvokeHookRequest", invokeRequest(call));
  // Fields 1 and 2, then 3 (the payload), then 4: field-number order, as protobufjs writes.
  const head = encodeMessage("InvokeHookRequest", {
    hook_type: call.hookName,
    plugin_name: call.pluginName,
  });
  const context = encodeMessage("PluginContext", pluginContextToProto(call.context));
  const out = new Uint8Array(
    head.length + 1 + varintSize(payload.length) + payload.length + 1 +
      varintSize(context.length) + context.length,
  );
  out.set(head, 0);
  let pos = head.length;
  out[pos++] = 0x1a; // field 3, length-delimited
  pos = writeVarint(out, pos, payload.length);
  out.set(payload, pos);
  pos += payload.length;
  out[pos++] = 0x22; // field 4, length-delimited
  pos = writeVarint(out, pos, context.length);
  out.set(context, pos);
  return out;
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n > 0x7f) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  return pos;
}

/**
 * A decoded `cpex.InvokeHookResponse` as a reply: an error only with a message; a context
 * replaces local state and metadata (`{}` when absent) and a non-empty global state, as the
 * reference does.
 */
export function replyFromProto(response: InvokeHookResponse, pluginName: string): RemoteReply {
  const error = response.error?.message ? pluginErrorFromProto(response.error, pluginName) : null;
  const p = response.context;
  const globalState = p?.global_context?.state ? fromStruct(p.global_context.state) : undefined;
  return {
    error,
    result: response.result ? fromStruct(response.result) : null,
    context: p
      ? {
        state: fromStruct(p.state),
        metadata: fromStruct(p.metadata),
        globalState: globalState && Object.keys(globalState).length > 0 ? globalState : undefined,
      }
      : null,
  };
}
