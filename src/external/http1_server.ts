/**
 * A small HTTP/1.1 server over a `Deno.Listener` (TCP, TLS or Unix socket) for the MCP plugin
 * server, written because `Deno.serve` gives no accept-level control (issue 9, item 3): under
 * descriptor exhaustion its accept loop rejects and the process dies (`Uncaught (in promise)
 * Http: Too many open files`), it has no connection cap, and it never closes idle or
 * trickling connections.
 *
 * Here the accept loop backs off and accepts again when descriptors free up, connections over
 * the cap get a 503 and are closed, a request head must arrive within a bound (slow-loris), an
 * idle keep-alive connection and a stalled body or response write are closed after a bound,
 * and a request whose client goes away has its `signal` aborted. Bodies are streamed to the
 * handler (Content-Length or chunked), never buffered here. Responses with a
 * `text/event-stream` type are streamed chunked; others are sent with a Content-Length.
 *
 * @module
 */

/**
 * Limits of {@linkcode serveHttp1}.
 */
export interface Http1Limits {
  /** Open connections at most; more are answered 503 and closed. */
  maxConnections: number;
  /** A request head (line and headers) must be complete this long after it starts. */
  headersTimeoutMs: number;
  /** A keep-alive connection with no request this long is closed. */
  idleTimeoutMs: number;
  /** A request body must be complete this long after its head. */
  bodyTimeoutMs: number;
  /** One response write (the client reading it) may take this long. */
  writeTimeoutMs: number;
  /** Largest request head in bytes (431 beyond). */
  maxHeaderBytes: number;
}

/** Defaults: 1,024 connections, 10 s for a head, 30 s idle, 30 s body, 30 s per write, 16 KiB. */
export const DEFAULT_HTTP1_LIMITS: Http1Limits = {
  maxConnections: 1024,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  writeTimeoutMs: 30_000,
  maxHeaderBytes: 16 * 1024,
};

/**
 * A running {@linkcode serveHttp1} server.
 */
export interface Http1Server {
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting, lets answers in progress finish (bounded), closes every connection. With
   * `keepListener`, the listener is left open (a Unix socket whose path is no longer ours must
   * not be dropped: issue 9 item 9).
   */
  close(options?: { keepListener?: boolean }): Promise<void>;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const CRLF2 = [13, 10, 13, 10];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const READ_CHUNK = 16 * 1024;
/** How long `close()` waits for answers in progress before cutting connections. */
const CLOSE_GRACE_MS = 2_000;
const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  200: "OK",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

class ProtocolError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function indexOfCrlf2(data: Uint8Array, from: number): number {
  outer: for (let i = Math.max(0, from); i + 3 < data.length; i++) {
    for (let k = 0; k < 4; k++) if (data[i + k] !== CRLF2[k]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isClosedError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}

/** A parsed request head. */
interface Head {
  method: string;
  target: string;
  /** Header pairs as received (the Request validates and copies them once). */
  headers: [string, string][];
  /** `expect` was `100-continue`. */
  expectContinue: boolean;
  keepAlive: boolean;
  /** Content-Length, -1 for chunked, 0 without a body. */
  length: number;
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const [method, target, version, extra] = lines[0].split(" ");
  if (extra !== undefined || !method || !target || !version || !TOKEN.test(method)) {
    throw new ProtocolError(400, "malformed request line");
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new ProtocolError(505, "unsupported HTTP version");
  }
  if (!target.startsWith("/") && !/^https?:\/\//i.test(target)) {
    throw new ProtocolError(400, "malformed request target");
  }
  const headers: [string, string][] = [];
  let connection = "";
  let te: string | null = null;
  let cl: string | null = null;
  let expect = "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) throw new ProtocolError(400, "malformed header line");
    const value = line.slice(colon + 1).trim();
    headers.push([name, value]);
    switch (name.length > 17 ? "" : name.toLowerCase()) {
      case "connection":
        connection += value.toLowerCase() + ",";
        break;
      case "transfer-encoding":
        te = te === null ? value : `${te}, ${value}`;
        break;
      case "content-length":
        cl = cl === null ? value : `${cl}, ${value}`;
        break;
      case "expect":
        expect = value.toLowerCase();
        break;
    }
  }
  const keepAlive = version === "HTTP/1.1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  let length = 0;
  if (te !== null) {
    if (cl !== null) throw new ProtocolError(400, "both Content-Length and Transfer-Encoding");
    if (te.toLowerCase() !== "chunked") throw new ProtocolError(501, "unsupported transfer coding");
    length = -1;
  } else if (cl !== null) {
    // Repeated Content-Length headers are joined with ", ": all must agree.
    const values = new Set(cl.split(",").map((v) => v.trim()));
    const [value] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(value)) {
      throw new ProtocolError(400, "invalid Content-Length");
    }
    length = Number(value);
  }
  if (length !== 0 && (method === "GET" || method === "HEAD")) {
    throw new ProtocolError(400, `${method} with a body`);
  }
  return { method, target, headers, keepAlive, length, expectContinue: expect === "100-continue" };
}

/** One accepted connection: reads requests one after another and writes their answers. */
class Connection {
  readonly #conn: Deno.Conn;
  readonly #limits: Http1Limits;
  readonly #handler: (req: Request) => Promise<Response>;
  readonly #origin: string;
  #data: Uint8Array = new Uint8Array(0);
  #reading: Promise<boolean> | null = null;
  #scratch: Uint8Array | null = null;
  #eof = false;
  #closed = false;
  /** `performance.now()` after which the server's sweep closes this connection (0: none). */
  deadline = 0;
  /** Waiting for the first byte of a request (idle): `close()` may cut it at once. */
  idle = true;
  /** Set by the server's `close()`: end after the answer in progress. */
  draining = false;

  constructor(
    conn: Deno.Conn,
    limits: Http1Limits,
    handler: (req: Request) => Promise<Response>,
    origin: string,
  ) {
    this.#conn = conn;
    this.#limits = limits;
    this.#handler = handler;
    this.#origin = origin;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.deadline = 0;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /**
   * Closes the connection after `ms` unless re-armed or disarmed (every wait is bounded). A
   * deadline checked by one server-wide sweep, not a timer per wait: cheaper per request.
   */
  #arm(ms: number | null): void {
    this.deadline = ms === null ? 0 : performance.now() + ms;
  }

  /** Reads once more into the buffer; false at end of stream. Concurrent callers share a read. */
  #more(): Promise<boolean> {
    return this.#reading ??= (async () => {
      try {
        if (this.#eof || this.#closed) return false;
        // One buffer per connection, copied out by size: a fresh 16 KiB per read survived the
        // wait and made V8 collect the old space every few dozen calls on a small heap.
        const chunk = this.#scratch ??= new Uint8Array(READ_CHUNK);
        let n: number | null = null;
        try {
          n = await this.#conn.read(chunk);
        } catch {
          n = null; // reset, TLS failure, closed by a timer
        }
        if (n === null) {
          this.#eof = true;
          return false;
        }
        this.#data = concat(this.#data, chunk.slice(0, n));
        return true;
      } finally {
        this.#reading = null;
      }
    })();
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#arm(this.#limits.writeTimeoutMs);
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
    this.#arm(null);
  }

  async run(): Promise<void> {
    try {
      let first = true;
      while (!this.#closed && !this.draining) {
        this.idle = true;
        this.#arm(first ? this.#limits.headersTimeoutMs : this.#limits.idleTimeoutMs);
        first = false;
        const head = await this.#readHead();
        if (!head) break;
        this.idle = false;
        const keepAlive = await this.#exchange(head);
        if (!keepAlive) break;
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        await this.#sendError(error.status, error.message).catch(() => {});
      }
    } finally {
      this.close();
    }
  }

  /** The next request head, or null when the client closed (or a timer did). */
  async #readHead(): Promise<Head | null> {
    let scanned = 0;
    while (true) {
      const end = indexOfCrlf2(this.#data, scanned - 3);
      if (end >= 0) {
        const text = latin1.decode(this.#data.subarray(0, end));
        this.#data = this.#data.subarray(end + 4);
        return parseHead(text);
      }
      if (this.#data.length > this.#limits.maxHeaderBytes) {
        throw new ProtocolError(431, "request head too large");
      }
      scanned = this.#data.length;
      const hadBytes = this.#data.length > 0;
      if (!await this.#more()) return null;
      // The head has started: it must be complete within the head bound (not the idle one).
      if (!hadBytes) this.#arm(this.#limits.headersTimeoutMs);
    }
  }

  /** Serves one request; true when the connection may carry another. */
  async #exchange(head: Head): Promise<boolean> {
    const abort = new AbortController();
    const body = this.#bodyStream(head);
    this.#arm(body.stream ? this.#limits.bodyTimeoutMs : null);
    let request: Request;
    try {
      request = new Request(
        head.target.startsWith("/") ? this.#origin + head.target : head.target,
        {
          method: head.method,
          headers: head.headers,
          body: body.bytes ?? body.stream,
          signal: abort.signal,
        },
      );
    } catch {
      await body.stream?.cancel().catch(() => {});
      throw new ProtocolError(400, "malformed request target or header");
    }
    // The client going away (end of stream while we work) aborts the request.
    let answered = false;
    const watch = (async () => {
      await body.done;
      while (!this.#closed && !answered) {
        if (this.#data.length > this.#limits.maxHeaderBytes) return; // pipelined: stop reading
        if (!await this.#more()) return abort.abort();
      }
    })();
    let response: Response;
    try {
      response = await this.#handler(request);
    } catch {
      response = Response.json(
        { jsonrpc: "2.0", error: { code: -32603, message: "Internal error" }, id: null },
        { status: 500 },
      );
    }
    if (abort.signal.aborted || this.#closed) {
      await response.body?.cancel().catch(() => {});
      return false;
    }
    // A body the handler did not read to its end cannot be skipped safely: close after.
    const keepAlive = head.keepAlive && body.finished() && !this.draining;
    await this.#respond(head, response, keepAlive, abort.signal);
    // Ends the watch (a read it started is shared with the next head). Not by aborting: an
    // abort builds a DOMException with a stack on every request (about 0.4 ms of CPU).
    answered = true;
    void watch;
    return keepAlive && !this.#eof;
  }

  /** The request body as a stream read from the connection, with a completion promise. */
  #bodyStream(head: Head): {
    stream: ReadableStream<Uint8Array> | null;
    bytes?: Uint8Array<ArrayBuffer>;
    done: Promise<void>;
    finished(): boolean;
  } {
    if (head.length === 0) return { stream: null, done: Promise.resolve(), finished: () => true };
    // A body already received whole (most calls: it came with the head) needs no stream.
    if (head.length > 0 && this.#data.length >= head.length) {
      const bytes = this.#data.slice(0, head.length);
      this.#data = this.#data.subarray(head.length);
      return { stream: null, bytes, done: Promise.resolve(), finished: () => true };
    }
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => markDone = resolve);
    let finished = false;
    let remaining = head.length; // chunked: bytes left of the current chunk
    let chunked = head.length === -1 ? "size" as "size" | "data" | "crlf" | "trailer" : null;
    let continued = !head.expectContinue;
    const take = (n: number): Uint8Array => {
      const out = this.#data.subarray(0, n);
      this.#data = this.#data.subarray(n);
      return out;
    };
    const finish = (controller?: ReadableStreamDefaultController<Uint8Array>) => {
      finished = true;
      this.#arm(null);
      markDone();
      controller?.close();
    };
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!continued) {
          continued = true;
          await this.#write(encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
          this.#arm(this.#limits.bodyTimeoutMs);
        }
        while (true) {
          if (chunked === null || chunked === "data") {
            if (remaining === 0) {
              if (chunked === null) return finish(controller);
              chunked = "crlf";
              continue;
            }
            if (this.#data.length > 0) {
              const n = Math.min(remaining, this.#data.length);
              controller.enqueue(take(n));
              remaining -= n;
              return;
            }
          } else {
            const eol = this.#data.indexOf(10);
            if (eol >= 0) {
              const line = latin1.decode(take(eol + 1)).replace(/\r?\n$/, "");
              if (chunked === "crlf") {
                if (line !== "") throw new ProtocolError(400, "malformed chunk");
                chunked = "size";
              } else if (chunked === "size") {
                const size = line.split(";")[0].trim();
                if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new ProtocolError(400, "bad chunk");
                remaining = parseInt(size, 16);
                chunked = remaining === 0 ? "trailer" : "data";
              } else if (line === "") {
                return finish(controller);
              }
              continue;
            }
            if (this.#data.length > 1024) throw new ProtocolError(400, "chunk line too long");
          }
          if (!await this.#more()) {
            markDone();
            throw new Error("the client closed the connection before the body ended");
          }
        }
      },
      cancel: () => markDone(),
    }, { highWaterMark: 0 });
    return { stream, done, finished: () => finished };
  }

  async #respond(
    head: Head,
    response: Response,
    keepAlive: boolean,
    aborted: AbortSignal,
  ): Promise<void> {
    const headers: string[] = [];
    response.headers.forEach((value, name) => {
      if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") {
        headers.push(`${name}: ${value}`);
      }
    });
    if (!keepAlive) headers.push("connection: close");
    const status = response.status;
    const line = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}\r\n`;
    const noBody = head.method === "HEAD" || status === 204 || status === 304;
    const streamed = !noBody && response.body !== null &&
      (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
    if (!streamed) {
      const body = noBody || !response.body
        ? new Uint8Array(0)
        : new Uint8Array(await response.arrayBuffer());
      if (!noBody || head.method === "HEAD") headers.push(`content-length: ${body.length}`);
      const top = encoder.encode(line + headers.join("\r\n") + "\r\n\r\n");
      await this.#write(noBody ? top : concat(top, body));
      if (noBody) await response.body?.cancel().catch(() => {});
      return;
    }
    headers.push("transfer-encoding: chunked");
    await this.#write(encoder.encode(line + headers.join("\r\n") + "\r\n\r\n"));
    const reader = response.body!.getReader();
    const stop = () => void reader.cancel().catch(() => {});
    aborted.addEventListener("abort", stop, { once: true });
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        const size = encoder.encode(value.length.toString(16) + "\r\n");
        await this.#write(concat(concat(size, value), encoder.encode("\r\n")));
      }
      await this.#write(encoder.encode("0\r\n\r\n"));
    } finally {
      aborted.removeEventListener("abort", stop);
      reader.releaseLock();
    }
  }

  async #sendError(status: number, message: string): Promise<void> {
    const body = encoder.encode(
      JSON.stringify({ jsonrpc: "2.0", error: { code: -32600, message }, id: null }),
    );
    const top = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      "connection: close\r\n\r\n";
    await this.#write(concat(encoder.encode(top), body));
  }
}

/**
 * Serves HTTP/1.1 on `listener` until `close()`; `origin` (e.g. `http://localhost`) bases the
 * request URLs.
 */
export function serveHttp1(
  listener: Deno.Listener,
  handler: (req: Request) => Promise<Response>,
  options: { origin: string; limits: Http1Limits },
): Http1Server {
  const { limits, origin } = options;
  const open = new Set<Connection>();
  const running = new Set<Promise<void>>();
  let closed = false;
  // One sweep closes connections past their deadline (granularity: a tenth of the shortest
  // bound, between 50 ms and 1 s).
  const shortest = Math.min(
    limits.headersTimeoutMs,
    limits.idleTimeoutMs,
    limits.bodyTimeoutMs,
    limits.writeTimeoutMs,
  );
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of open) if (c.deadline !== 0 && c.deadline <= now) c.close();
  }, Math.min(1000, Math.max(50, shortest / 10)));
  let lastLogged = -Infinity; // one log line per 10 s of accept failures
  const loop = (async () => {
    let backoff = 0;
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed || isClosedError(error)) break;
        // Out of descriptors (EMFILE/ENFILE) or a transient accept error: wait, then accept
        // again; connections closing in the meantime free descriptors (item 3).
        if (performance.now() - lastLogged > 10_000) {
          lastLogged = performance.now();
          console.error(`HTTP server: accept failed (${(error as Error).message}); backing off`);
        }
        backoff = Math.min(1000, Math.max(10, backoff * 2));
        await sleep(backoff);
        continue;
      }
      backoff = 0;
      if (open.size >= limits.maxConnections) {
        void refuse(conn);
        continue;
      }
      const connection = new Connection(conn, limits, handler, origin);
      open.add(connection);
      const task = connection.run().finally(() => {
        open.delete(connection);
        running.delete(task);
      });
      running.add(task);
    }
  })();

  /** Over the cap: a 503 (best effort, bounded) and close. */
  async function refuse(conn: Deno.Conn): Promise<void> {
    const timer = setTimeout(() => conn.close(), 1000);
    try {
      const body = '{"jsonrpc":"2.0","error":{"code":-32000,"message":"Too many connections"},' +
        '"id":null}';
      await conn.write(encoder.encode(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n" +
          `content-length: ${body.length}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
      ));
    } catch {
      // The client is gone.
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Closed by the timer.
      }
    }
  }

  return {
    get connections() {
      return open.size;
    },
    async close(options?: { keepListener?: boolean }) {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      if (!options?.keepListener) {
        try {
          listener.close();
        } catch {
          // Already closed.
        }
        await loop;
      }
      for (const c of open) {
        c.draining = true;
        if (c.idle) c.close();
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(running),
        new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS)),
      ]);
      clearTimeout(timer);
      for (const c of open) c.close();
      await Promise.all(running);
    },
  };
}
