/**
 * The plain "allow" reply, pre-encoded. Most hook calls of a policy plugin end in a result with
 * every field at its default; its `InvokeHookResponse.result` Struct is the same bytes every
 * time, so servers append it instead of encoding it, and gateways recognise it instead of
 * decoding it. The bytes are what the generic path produces (the interop tests run both).
 *
 * @module
 */
import { encodeMessage } from "./codec.ts";
import { dumpResult } from "../dump.ts";
import { toStruct } from "./struct.ts";

/** Field 2 (`result`) of an `InvokeHookResponse` holding the default allow result. */
const ALLOW_RESULT_FIELD: Uint8Array = encodeMessage("InvokeHookResponse", {
  result: toStruct(dumpResult({})),
});

/**
 * True when a dumped result is the default allow result (nothing modified, no violation, empty
 * metadata, no headers, no retry delay).
 */
export function isDefaultAllow(result: Record<string, unknown> | undefined): boolean {
  if (!result) return false;
  const metadata = result.metadata as Record<string, unknown> | null;
  if (metadata === null || typeof metadata !== "object") return false;
  for (const _ in metadata) return false;
  return result.continue_processing === true && result.modified_payload === null &&
    result.modified_extensions === null && result.violation === null &&
    result.http_headers === null && result.retry_delay_ms === 0;
}

/**
 * Encodes `InvokeHookResponse{plugin_name, result: <default allow>}` without building the
 * result Struct.
 */
export function encodeAllowReply(pluginName: string): Uint8Array {
  const head = encodeMessage("InvokeHookResponse", { plugin_name: pluginName });
  const out = new Uint8Array(head.length + ALLOW_RESULT_FIELD.length);
  out.set(head, 0);
  out.set(ALLOW_RESULT_FIELD, head.length);
  return out;
}

/**
 * True when `reply` is exactly `plugin_name` followed by the default allow result (no context,
 * no error), as {@linkcode encodeAllowReply} writes it.
 */
export function isAllowReply(reply: Uint8Array): boolean {
  let offset = 0;
  if (reply[0] === 0x0a) {
    // plugin_name: tag, varint length, bytes.
    let length = 0;
    let shift = 0;
    let i = 1;
    for (; i < reply.length && i < 6; i++) {
      length |= (reply[i] & 0x7f) << shift;
      if ((reply[i] & 0x80) === 0) break;
      shift += 7;
    }
    offset = i + 1 + length;
  }
  const tail = ALLOW_RESULT_FIELD;
  if (reply.length - offset !== tail.length) return false;
  for (let i = 0; i < tail.length; i++) if (reply[offset + i] !== tail[i]) return false;
  return true;
}
