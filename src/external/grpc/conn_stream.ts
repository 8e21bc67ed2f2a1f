/**
 * A `node:stream` Duplex over a `Deno.Conn`, so that connections accepted by our own
 * `Deno.listen` loop can be handed to grpc-js (`Server.createConnectionInjector`) and from there
 * to `node:http2` (plain) or `node:tls` + `node:http2` (TLS, mTLS). Measured on Deno 2.9.6 with
 * grpc-js 1.14.7: plain, TLS and mTLS calls work over it, `client_auth: require` still refuses a
 * client without a certificate, and `handshakeTimeout` still applies.
 *
 * Why not grpc-js's own `bindAsync`: Deno's `node:net` accept loop stops for good the first
 * time `accept` fails with EMFILE (issue 9 item 3, measured: the listener stays open, the
 * backlog fills, nothing is accepted again after descriptors are freed). Our loop backs off and
 * accepts again (see `listener.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";

/** Bytes read per `read` call, into one buffer per connection; what arrived is copied out. */
const READ_CHUNK = 64 * 1024;

/**
 * A Duplex stream reading from and writing to a `Deno.Conn`; destroying it closes the
 * connection. Carries the peer address fields grpc-js reads from `session.socket`.
 */
export class DenoConnStream extends Duplex {
  /** Peer IP (TCP), else undefined. */
  readonly remoteAddress: string | undefined;
  /** Peer port (TCP), else undefined. */
  readonly remotePort: number | undefined;
  /** Local IP (TCP), else undefined. */
  readonly localAddress: string | undefined;
  /** Local port (TCP), else undefined. */
  readonly localPort: number | undefined;
  readonly #conn: Deno.Conn;
  #reading = false;
  #closed = false;
  #buffer: Uint8Array | undefined;

  /** Wraps `conn`; reading starts when the consumer asks for data. */
  constructor(conn: Deno.Conn) {
    // A peer's EOF ends our side too, so the stream closes and leaves the connection count.
    super({ allowHalfOpen: false });
    this.#conn = conn;
    const remote = conn.remoteAddr as Partial<Deno.NetAddr>;
    const local = conn.localAddr as Partial<Deno.NetAddr>;
    this.remoteAddress = remote.hostname;
    this.remotePort = remote.port;
    this.localAddress = local.hostname;
    this.localPort = local.port;
  }

  /** @internal */
  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      const buffer = this.#buffer ??= new Uint8Array(READ_CHUNK);
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          this.#reading = false;
          this.push(null);
          return;
        }
        if (!this.push(Buffer.from(buffer.subarray(0, n)))) {
          this.#reading = false;
          return;
        }
      }
    } catch (error) {
      this.#reading = false;
      this.destroy(error as Error);
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  /** @internal */
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#writeAll(chunk).then(() => callback(), (error) => callback(error));
  }

  /** @internal One write for what HTTP/2 queued in pieces (frame header, payload). */
  override _writev(
    chunks: { chunk: Buffer }[],
    callback: (error?: Error | null) => void,
  ): void {
    const joined = chunks.length === 1
      ? chunks[0].chunk
      : Buffer.concat(chunks.map((c) => c.chunk));
    this.#writeAll(joined).then(() => callback(), (error) => callback(error));
  }

  /** @internal */
  override _final(callback: (error?: Error | null) => void): void {
    this.#conn.closeWrite().then(() => callback(), () => callback());
  }

  /** @internal */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close();
    callback(error);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** No-op (what `net.Socket` offers): the accept loop turns Nagle off on TCP connections. */
  setNoDelay(): this {
    return this;
  }

  /** No-op. */
  setKeepAlive(): this {
    return this;
  }

  /** No-op: deadlines are enforced at the TLS and HTTP/2 level (`limits.ts`). */
  setTimeout(): this {
    return this;
  }

  /** No-op. */
  ref(): this {
    return this;
  }

  /** No-op. */
  unref(): this {
    return this;
  }
}
