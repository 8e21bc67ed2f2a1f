/**
 * A minimal HTTP/1.1 client over one raw TCP connection for load tests: far cheaper per call
 * than `fetch`, so a test's own CPU does not dominate what it measures.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One keep-alive connection sending requests one at a time. */
export class RawHttpConnection {
  readonly #conn: Deno.Conn;
  readonly #host: string;
  #data = new Uint8Array(0);
  readonly #chunk = new Uint8Array(64 * 1024);

  private constructor(conn: Deno.Conn, host: string) {
    this.#conn = conn;
    this.#host = host;
  }

  /** Connects to `127.0.0.1:port`. */
  static async open(port: number): Promise<RawHttpConnection> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return new RawHttpConnection(conn, `127.0.0.1:${port}`);
  }

  /** POSTs `body` to `path` with `headers`; resolves with the status and the body text. */
  async post(
    path: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
  ): Promise<{ status: number; body: string }> {
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    const head = `POST ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
      `content-length: ${bytes.length}\r\n\r\n`;
    const top = encoder.encode(head);
    const all = new Uint8Array(top.length + bytes.length);
    all.set(top);
    all.set(bytes, top.length);
    let off = 0;
    while (off < all.length) off += await this.#conn.write(all.subarray(off));
    return await this.#response();
  }

  async #response(): Promise<{ status: number; body: string }> {
    while (true) {
      const end = findHeadEnd(this.#data);
      if (end >= 0) {
        const head = decoder.decode(this.#data.subarray(0, end));
        const status = Number(head.slice(9, 12));
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        while (this.#data.length < end + 4 + length) await this.#fill();
        const body = decoder.decode(this.#data.subarray(end + 4, end + 4 + length));
        this.#data = this.#data.slice(end + 4 + length);
        return { status, body };
      }
      await this.#fill();
    }
  }

  async #fill(): Promise<void> {
    const n = await this.#conn.read(this.#chunk);
    if (n === null) throw new Error("connection closed by the server");
    const next = new Uint8Array(this.#data.length + n);
    next.set(this.#data);
    next.set(this.#chunk.subarray(0, n), this.#data.length);
    this.#data = next;
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

function findHeadEnd(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) return i;
  }
  return -1;
}
