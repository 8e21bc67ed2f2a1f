/**
 * Runs inside a sandbox child process: reads length-prefixed JSON frames from stdin, answers
 * on stdout. The plugin's console output goes to stderr so it cannot corrupt the frames.
 *
 * @module
 */
import { encodeFrame, FrameReader } from "../external/frame.ts";
import type { FromSandbox, ToSandbox } from "./protocol.ts";
import { SandboxRuntime } from "./runtime.ts";

/** Serves `cls` in this process until stdin closes. */
export async function serveProcess(cls: unknown): Promise<void> {
  const stdout = Deno.stdout;
  for (const method of ["log", "info", "debug", "trace", "dir", "table"] as const) {
    (console as unknown as Record<string, unknown>)[method] = console.error;
  }
  const encoder = new TextEncoder();
  const send = (message: FromSandbox): void => {
    let bytes = encodeFrame(encoder.encode(JSON.stringify(message)));
    // Synchronous: frames never interleave, and the gateway reads continuously.
    while (bytes.byteLength > 0) bytes = bytes.subarray(stdout.writeSync(bytes));
  };
  const runtime = new SandboxRuntime(cls, send);
  const decoder = new TextDecoder();
  // Deno.stdin as a ByteReader: much cheaper per frame than its ReadableStream.
  const reader = new FrameReader(Deno.stdin);
  for await (const frame of reader) {
    runtime.handle(JSON.parse(decoder.decode(frame)) as ToSandbox);
  }
  // The gateway closed the pipe: it is gone or shutting us down.
  Deno.exit(0);
}
