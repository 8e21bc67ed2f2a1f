/**
 * Length-prefix framing of the raw Unix socket transport: every message is a 4-byte unsigned
 * big-endian length followed by that many bytes (a serialized protobuf message). A length of 0
 * is a valid, empty message; lengths above 16 MiB ({@linkcode MAX_FRAME_LENGTH}) are refused
 * before anything is allocated.
 *
 * @module
 */

/**
 * The largest frame payload, in bytes (16 MiB; a frame of exactly this size is allowed).
 */
export const MAX_FRAME_LENGTH = 16 * 1024 * 1024;

/** Bytes of the length prefix. */
const HEADER = 4;
/** Size of the slabs a {@linkcode FrameReader} reads a `Deno.Conn` into. */
const SLAB_SIZE = 64 * 1024;
/** A new slab is started when less than this is left in the current one. */
const MIN_READ = 4 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * A frame spanning reads is assembled in a buffer of at most this many bytes (or what has
 * arrived, if more), doubled as its bytes come in: memory follows the bytes received, not the
 * length announced. Frames up to this size get a buffer of exactly their size at once.
 */
export const FRAME_START_BYTES = 16 * 1024;

/** A buffer holding `filled` bytes of `frame`, grown toward `length` (doubling, capped). */
function grow(frame: Uint8Array, filled: number, length: number): Uint8Array<ArrayBuffer> {
  const next = new Uint8Array(Math.min(length, frame.byteLength * 2));
  next.set(frame.subarray(0, filled));
  return next;
}

/**
 * Base class of the framing errors: the byte stream cannot be trusted any more and the
 * connection should be closed.
 */
export class FrameError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * A length prefix (read or about to be written) exceeds the limit. Thrown before any buffer
 * for the frame is allocated.
 */
export class FrameTooLargeError extends FrameError {
  /** The announced (or attempted) payload length. */
  readonly length: number;
  /** The limit in force. */
  readonly maxLength: number;

  /** Creates the error. */
  constructor(length: number, maxLength: number) {
    super(`frame length ${length} bytes exceeds the maximum of ${maxLength} bytes`);
    this.name = "FrameTooLargeError";
    this.length = length;
    this.maxLength = maxLength;
  }
}

/**
 * The stream ended inside a frame (in its length prefix or its payload). A clean end of
 * stream between frames is not an error: {@linkcode FrameReader.read} returns `null`.
 */
export class TruncatedFrameError extends FrameError {
  /** True when the stream ended inside the 4-byte length prefix. */
  readonly inHeader: boolean;
  /** Bytes expected (4 for the prefix, else the payload length). */
  readonly expected: number;
  /** Bytes received before the end of the stream. */
  readonly received: number;

  /** Creates the error. */
  constructor(inHeader: boolean, expected: number, received: number) {
    super(
      inHeader
        ? `connection closed inside a frame's length prefix (${received} of 4 bytes)`
        : `connection closed inside a frame (${received} of ${expected} bytes)`,
    );
    this.name = "TruncatedFrameError";
    this.inHeader = inHeader;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * Prefixes `payload` with its 4-byte big-endian length, in one new buffer. Throws
 * {@linkcode FrameTooLargeError} when the payload exceeds `maxLength`.
 */
export function encodeFrame(payload: Uint8Array, maxLength: number = MAX_FRAME_LENGTH): Uint8Array {
  const n = payload.byteLength;
  if (n > maxLength) throw new FrameTooLargeError(n, maxLength);
  const out = new Uint8Array(HEADER + n);
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  out.set(payload, HEADER);
  return out;
}

/**
 * Something frames can be written to: `Deno.Conn`, `Deno.UnixConn`, `Deno.FsFile`, ...
 * (`write` may write only part of the buffer).
 */
export interface ByteWriter {
  /** Writes some bytes of `p` and returns how many. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Writes one frame (prefix and payload, one write call in the common case), looping over
 * partial writes.
 */
export async function writeFrame(
  writer: ByteWriter,
  payload: Uint8Array,
  maxLength: number = MAX_FRAME_LENGTH,
): Promise<void> {
  let bytes = encodeFrame(payload, maxLength);
  while (bytes.byteLength > 0) {
    const n = await writer.write(bytes);
    bytes = bytes.subarray(n);
  }
}

/**
 * Something frames can be read from: `Deno.Conn`, `Deno.UnixConn`, `Deno.FsFile`, ...
 */
export interface ByteReader {
  /** Reads up to `p.byteLength` bytes into `p`; `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Options of a {@linkcode FrameReader}.
 */
export interface FrameReaderOptions {
  /** The largest payload accepted; default {@linkcode MAX_FRAME_LENGTH}. */
  maxLength?: number;
}

/**
 * Reads complete frames from a `ReadableStream<Uint8Array>` or a `Deno.Conn`-like
 * {@linkcode ByteReader}. Handles partial reads, many frames per chunk and frames split
 * anywhere. A frame's payload is returned as a view that stays valid (the reader never
 * writes over returned bytes); small frames are views into the chunk they arrived in, a frame
 * spanning chunks is assembled in a buffer that ends up exactly its size, which for a
 * `ByteReader` is read into directly. The buffer grows as the bytes arrive: an announced
 * length reserves at most {@linkcode FRAME_START_BYTES} (plus what has arrived) until its
 * bytes come, so a 4-byte prefix cannot make the reader allocate 16 MiB (issue 9, item 4).
 *
 * `read()` resolves to `null` at a clean end of stream, and rejects with
 * {@linkcode FrameTooLargeError} (before allocating) or {@linkcode TruncatedFrameError}.
 * After an error the stream position is undefined: close the connection. Calls must not
 * overlap. The reader does not close its source.
 */
export class FrameReader implements AsyncIterable<Uint8Array> {
  readonly #maxLength: number;
  readonly #source: ByteReader | null;
  readonly #stream: ReadableStreamDefaultReader<Uint8Array> | null;
  /** The current chunk and the read position in it. */
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  /** Slab that a ByteReader source is read into, and its fill level. */
  #slab: Uint8Array = EMPTY;
  #slabEnd = 0;
  #header = new Uint8Array(HEADER);
  #eof = false;
  #busy = false;
  /** True while a read waits for more bytes of a frame it has started (see `partial`). */
  #partial = false;

  /** Reads frames from `source`; a stream is locked until {@linkcode FrameReader.releaseLock}. */
  constructor(
    source: ReadableStream<Uint8Array> | ByteReader,
    options: FrameReaderOptions = {},
  ) {
    this.#maxLength = options.maxLength ?? MAX_FRAME_LENGTH;
    if (source instanceof ReadableStream) {
      this.#stream = source.getReader();
      this.#source = null;
    } else {
      this.#stream = null;
      this.#source = source;
    }
  }

  /** Resolves to the next frame's payload, or `null` at a clean end of stream. */
  async read(): Promise<Uint8Array | null> {
    if (this.#busy) throw new Error("FrameReader.read() called while a read is pending");
    this.#busy = true;
    try {
      return await this.#readFrame();
    } finally {
      this.#busy = false;
      this.#partial = false;
    }
  }

  /**
   * True while a pending `read()` has received part of a frame (of its length prefix or its
   * payload) and waits for the rest; false while it waits for a frame's first byte. A server
   * uses it to bound how long a started frame may take (slow senders, issue 9 item 3).
   */
  get partial(): boolean {
    return this.#partial;
  }

  async #readFrame(): Promise<Uint8Array | null> {
    // Length prefix: fast path when the current chunk holds all 4 bytes.
    let buf = this.#buf;
    let pos = this.#pos;
    let length: number;
    if (buf.byteLength - pos >= HEADER) {
      length = ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) >>> 0;
      this.#pos = pos += HEADER;
    } else {
      const header = this.#header;
      let got = 0;
      while (got < HEADER) {
        this.#partial = got > 0;
        if (this.#pos === this.#buf.byteLength && !(await this.#pull())) {
          if (got === 0) return null;
          throw new TruncatedFrameError(true, HEADER, got);
        }
        const take = Math.min(HEADER - got, this.#buf.byteLength - this.#pos);
        header.set(this.#buf.subarray(this.#pos, this.#pos + take), got);
        this.#pos += take;
        got += take;
      }
      length = ((header[0] << 24) | (header[1] << 16) | (header[2] << 8) | header[3]) >>> 0;
      buf = this.#buf;
      pos = this.#pos;
    }
    if (length > this.#maxLength) throw new FrameTooLargeError(length, this.#maxLength);
    if (length === 0) return EMPTY.slice();

    // Payload: a view when the current chunk holds it all.
    const available = buf.byteLength - pos;
    if (available >= length) {
      this.#pos = pos + length;
      return buf.subarray(pos, pos + length);
    }
    // Sized by what has arrived, not by what was announced (item 4); grown as bytes come.
    let frame = new Uint8Array(Math.min(length, Math.max(available, FRAME_START_BYTES)));
    frame.set(buf.subarray(pos), 0);
    let filled = available;
    this.#buf = EMPTY;
    this.#pos = 0;
    this.#partial = true;
    const source = this.#source;
    if (source !== null) {
      // Read the rest straight into the frame (never past its end).
      while (filled < length) {
        if (filled === frame.byteLength) frame = grow(frame, filled, length);
        const n = this.#eof ? null : await source.read(frame.subarray(filled));
        if (n === null) {
          this.#eof = true;
          throw new TruncatedFrameError(false, length, filled);
        }
        filled += n;
      }
      return frame;
    }
    while (filled < length) {
      if (!(await this.#pull())) throw new TruncatedFrameError(false, length, filled);
      const chunk = this.#buf;
      const take = Math.min(length - filled, chunk.byteLength);
      while (filled + take > frame.byteLength) frame = grow(frame, filled, length);
      frame.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), filled);
      this.#pos = take;
      filled += take;
    }
    return frame;
  }

  /** Makes the next non-empty chunk current; false at end of stream. */
  async #pull(): Promise<boolean> {
    if (this.#eof) return false;
    const stream = this.#stream;
    if (stream !== null) {
      for (;;) {
        const { done, value } = await stream.read();
        if (done) {
          this.#eof = true;
          return false;
        }
        if (value.byteLength > 0) {
          this.#buf = value;
          this.#pos = 0;
          return true;
        }
      }
    }
    const source = this.#source!;
    for (;;) {
      if (this.#slab.byteLength - this.#slabEnd < MIN_READ) {
        this.#slab = new Uint8Array(SLAB_SIZE);
        this.#slabEnd = 0;
      }
      const start = this.#slabEnd;
      const n = await source.read(this.#slab.subarray(start));
      if (n === null) {
        this.#eof = true;
        return false;
      }
      if (n > 0) {
        this.#slabEnd = start + n;
        this.#buf = this.#slab.subarray(start, start + n);
        this.#pos = 0;
        return true;
      }
    }
  }

  /** Yields frames until the end of the stream. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const frame = await this.read();
      if (frame === null) return;
      yield frame;
    }
  }

  /** Releases the lock on a stream source (no-op for a `ByteReader`). */
  releaseLock(): void {
    this.#stream?.releaseLock();
  }

  /** Cancels a stream source (no-op for a `ByteReader`; close the connection instead). */
  async cancel(reason?: unknown): Promise<void> {
    await this.#stream?.cancel(reason);
  }
}
