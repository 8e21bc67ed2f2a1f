/**
 * Child process of `unix_ratio.ts`: the raw baseline servers, with no framework code.
 *
 * - On the first socket (`proto`), per request: decode the frame as an `InvokeHookRequest`
 *   with our protobuf codec, convert its payload Struct and context to JSON, and answer with an
 *   `InvokeHookResponse` whose result Struct echoes the payload
 *   (`{continue_processing: true, modified_payload: <payload>}`); the client checks the echo.
 *   This is the `uds_protobuf` row of `shared/spec/transport-baselines.md` (codec included),
 *   the denominator of the design's Unix transport target.
 * - On the second socket (`bytes`), every frame is written back unchanged (the `uds_raw`
 *   row: socket and framing only), shown for reference.
 *
 * One request at a time per connection, any number of connections. Prints `READY` once both
 * sockets listen; stops (removing them) on SIGTERM/SIGINT or when stdin closes.
 *
 * ```sh
 * deno run --allow-read=P,B --allow-write=P,B --allow-net=unix:P,unix:B bench/unix_raw_child.ts P B
 * ```
 *
 * @module
 */
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { FrameReader, writeFrame } from "../src/external/unix/frame.ts";
import { fromStruct, pluginContextFromProto, toStruct } from "../src/external/proto/struct.ts";
import { printReady, stdinClosed } from "./children.ts";

const [protoPath, bytesPath] = Deno.args;
if (!protoPath || !bytesPath) {
  console.error("usage: unix_raw_child.ts PROTO_SOCKET_PATH BYTES_SOCKET_PATH");
  Deno.exit(2);
}

function protoReply(frame: Uint8Array): Uint8Array {
  const request = decodeMessage("InvokeHookRequest", frame);
  const payload = fromStruct(request.payload!);
  pluginContextFromProto(request.context!);
  return encodeMessage("InvokeHookResponse", {
    plugin_name: request.plugin_name,
    result: toStruct({ continue_processing: true, modified_payload: payload }),
  });
}

const conns = new Set<Deno.Conn>();

async function serveConn(conn: Deno.Conn, echo: boolean): Promise<void> {
  conns.add(conn);
  const reader = new FrameReader(conn);
  try {
    for (;;) {
      const frame = await reader.read();
      if (frame === null) break;
      await writeFrame(conn, echo ? frame : protoReply(frame));
    }
  } catch {
    // Peer gone.
  } finally {
    conns.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function listen(path: string, echo: boolean): Promise<Deno.Listener> {
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  void (async () => {
    try {
      for await (const conn of listener) void serveConn(conn, echo);
    } catch {
      // Listener closed.
    }
  })();
  return listener;
}

const listeners = [await listen(protoPath, false), await listen(bytesPath, true)];
let stopping = false;
async function stop(): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const l of listeners) {
      try {
        l.close();
      } catch { /* closed */ }
    }
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Deno.remove(protoPath).catch(() => {});
    await Deno.remove(bytesPath).catch(() => {});
  }
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", () => void stop());
Deno.addSignalListener("SIGINT", () => void stop());
await printReady();
await stdinClosed(); // the parent is gone
await stop();
