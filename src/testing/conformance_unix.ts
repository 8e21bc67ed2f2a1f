/**
 * The conformance driver of the raw Unix socket transport: length-prefixed protobuf frames,
 * one socket per request in flight (the reference serves each connection sequentially).
 *
 * @module
 */
import { decodeMessage, encodeMessage } from "../external/proto/codec.ts";
import { fromStruct } from "../external/proto/struct.ts";
import { encodeFrame, FrameReader } from "../external/unix/frame.ts";
import type { ConformanceDriver, WireInvoke, WireReply } from "./conformance_driver.ts";
import { protoReply, protoRequest } from "./conformance_proto.ts";

interface UnixSocket {
  conn: Deno.UnixConn;
  reader: FrameReader;
}

/** Raw frames on Unix sockets: one socket per request in flight, idle ones reused. */
export class UnixDriver implements ConformanceDriver {
  readonly target: string;
  readonly #idle: UnixSocket[] = [];
  readonly #open = new Set<UnixSocket>();

  constructor(path: string) {
    this.target = path;
  }

  async listConfigs(signal: AbortSignal): Promise<Record<string, unknown>[]> {
    const reply = await this.#call(new Uint8Array(0), signal);
    const response = decodeMessage("GetPluginConfigsResponse", reply);
    return (response.configs ?? []).map((c) => fromStruct(c));
  }

  async getConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const reply = await this.#call(encodeMessage("GetPluginConfigRequest", { name }), signal);
    if (reply.length === 0) return null;
    const response = decodeMessage("GetPluginConfigResponse", reply);
    return response.found && response.config ? fromStruct(response.config) : null;
  }

  async invoke(request: WireInvoke, signal: AbortSignal): Promise<WireReply> {
    const reply = await this.#call(
      encodeMessage("InvokeHookRequest", protoRequest(request)),
      signal,
    );
    if (reply.length === 0) throw new Error("empty reply frame");
    return protoReply(decodeMessage("InvokeHookResponse", reply));
  }

  close(): Promise<void> {
    for (const s of this.#open) s.conn.close();
    this.#open.clear();
    this.#idle.length = 0;
    return Promise.resolve();
  }

  async #call(message: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    signal.throwIfAborted();
    let socket = this.#idle.pop();
    if (!socket) {
      const conn = await Deno.connect({ transport: "unix", path: this.target });
      socket = { conn, reader: new FrameReader(conn) };
      this.#open.add(socket);
    }
    const s = socket;
    const onAbort = () => this.#drop(s);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const frame = encodeFrame(message);
      let written = 0;
      while (written < frame.length) written += await s.conn.write(frame.subarray(written));
      const reply = await s.reader.read();
      if (reply === null) throw new Error("the server closed the connection without a reply");
      this.#idle.push(s);
      return reply;
    } catch (error) {
      this.#drop(s);
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #drop(socket: UnixSocket): void {
    if (!this.#open.delete(socket)) return;
    try {
      socket.conn.close();
    } catch {
      // Already closed.
    }
  }
}
