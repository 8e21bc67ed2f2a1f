/**
 * Runs inside a sandbox child process: reads length-prefixed JSON frames from its private
 * socket (or stdin) and answers there (or on stdout). The plugin's console output goes to
 * stderr so it cannot corrupt the frames.
 *
 * @module
 */
import { type ByteReader, FrameReader } from "../external/unix/frame.ts";
import { encodeJsonFrame } from "./json_frame.ts";
import type { FromSandbox, ToSandbox } from "./protocol.ts";
import { SandboxRuntime } from "./runtime.ts";

/**
 * Serves `cls` in this process until its channel closes: the private socket `socketPath` when
 * given, else stdin/stdout.
 */
export async function serveProcess(cls: unknown, socketPath = Deno.args[0]): Promise<void> {
  for (const method of ["log", "info", "debug", "trace", "dir", "table"] as const) {
    (console as unknown as Record<string, unknown>)[method] = console.error;
  }
  let send: (message: FromSandbox) => void;
  let source: ByteReader;
  if (socketPath) {
    const conn = await Deno.connect({ transport: "unix", path: socketPath });
    const queue: Uint8Array[] = [];
    let writing = false;
    const flush = async () => {
      writing = true;
      try {
        for (let frame = queue.shift(); frame; frame = queue.shift()) {
          while (frame.byteLength > 0) frame = frame.subarray(await conn.write(frame));
        }
      } catch {
        Deno.exit(1); // The gateway is gone.
      } finally {
        writing = false;
      }
    };
    send = (message) => {
      queue.push(encodeJsonFrame(message));
      if (!writing) flush();
    };
    source = conn;
  } else {
    const stdout = Deno.stdout;
    send = (message) => {
      let bytes = encodeJsonFrame(message);
      // Synchronous: frames never interleave, and the gateway reads continuously.
      while (bytes.byteLength > 0) bytes = bytes.subarray(stdout.writeSync(bytes));
    };
    // Deno.stdin as a ByteReader: much cheaper per frame than its ReadableStream.
    source = Deno.stdin;
  }
  const runtime = new SandboxRuntime(cls, send);
  const decoder = new TextDecoder();
  const reader = new FrameReader(source);
  for await (const frame of reader) {
    runtime.handle(JSON.parse(decoder.decode(frame)) as ToSandbox);
  }
  // The gateway closed the channel: it is gone or shutting us down.
  Deno.exit(0);
}
