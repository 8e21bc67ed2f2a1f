/**
 * One message as a length-prefixed JSON frame of the process sandbox's channel (the framing of
 * `src/external/unix/frame.ts`), encoded straight into a reused buffer and copied out once:
 * cheaper than `TextEncoder.encode` followed by `encodeFrame`, which allocate and copy twice.
 *
 * @module
 */
import { FrameTooLargeError, MAX_FRAME_LENGTH } from "../external/unix/frame.ts";

const encoder = new TextEncoder();
let scratch = new Uint8Array(16 * 1024);

/** `message` as JSON text behind its 4-byte big-endian length, in a new buffer of its own. */
export function encodeJsonFrame(message: unknown): Uint8Array {
  const text = JSON.stringify(message);
  // At least one byte per UTF-16 unit: refuse before allocating for it.
  if (text.length > MAX_FRAME_LENGTH) throw new FrameTooLargeError(text.length, MAX_FRAME_LENGTH);
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const room = text.length * 3 + 4;
  if (scratch.byteLength < room) scratch = new Uint8Array(Math.max(room, scratch.byteLength * 2));
  const n = encoder.encodeInto(text, scratch.subarray(4)).written;
  if (n > MAX_FRAME_LENGTH) throw new FrameTooLargeError(n, MAX_FRAME_LENGTH);
  scratch[0] = n >>> 24;
  scratch[1] = (n >>> 16) & 0xff;
  scratch[2] = (n >>> 8) & 0xff;
  scratch[3] = n & 0xff;
  const frame = scratch.slice(0, 4 + n);
  // A huge message must not keep a huge buffer alive.
  if (scratch.byteLength > 1024 * 1024) scratch = new Uint8Array(16 * 1024);
  return frame;
}
