/**
 * A one-way ring of text frames in a `SharedArrayBuffer`: one writer thread, one reader
 * thread, no locks. The writer encodes straight into the shared bytes
 * (`TextEncoder.encodeInto`) and advances a counter with `Atomics.store`; the reader waits
 * for that counter with `Atomics.waitAsync` (never blocking its thread). Frames are a 4-byte
 * length and the UTF-8 bytes, 4-aligned; a frame that would cross the end is preceded by a
 * wrap marker (-1) and starts over at 0. A frame that does not fit now is refused: the caller
 * sends it another way. A Worker's reader may instead block its thread in `Atomics.wait`
 * while it has nothing else to do (woken sooner than through its event loop).
 *
 * The other side may be a plugin tampering with the buffer: every counter and length read
 * from it is checked, and a bad one throws {@linkcode RingError} (the channel is lost).
 *
 * @module
 */

/**
 * Header slots (Int32): the writer's and the reader's byte counters (wrapping at 2^32); ARMED
 * is 1 while the reader waits asynchronously, and BELL is what it waits on then (the writer
 * rings it only when ARMED, so a reader blocked on WRITE is not woken twice).
 */
const WRITE = 0;
const READ = 1;
const ARMED = 2;
const BELL = 3;
/** Bytes of the header. */
const HEADER_BYTES = 16;
const WRAP = -1;

/** The ring's bytes are inconsistent (the other side broke it). */
export class RingError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RingError";
  }
}

/** A shared buffer for one ring of `capacity` bytes (a power of two, at least 64). */
export function ringBuffer(capacity: number): SharedArrayBuffer {
  if (capacity < 64 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two >= 64, got ${capacity}`);
  }
  return new SharedArrayBuffer(HEADER_BYTES + capacity);
}

class Ring {
  protected readonly header: Int32Array;
  protected readonly bytes: Uint8Array;
  protected readonly lengths: Int32Array;
  protected readonly capacity: number;
  protected readonly mask: number;

  constructor(buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.mask = this.capacity - 1;
    this.header = new Int32Array(buffer, 0, 4);
    this.bytes = new Uint8Array(buffer, HEADER_BYTES);
    this.lengths = new Int32Array(buffer, HEADER_BYTES);
  }
}

const align4 = (n: number): number => (n + 3) & ~3;

/** The writing end of a ring. */
export class RingWriter extends Ring {
  readonly #encoder = new TextEncoder();
  #write = 0;

  /**
   * Writes `text` as one frame and wakes the reader; false (nothing written) when it does not
   * fit in the free space now.
   */
  tryWrite(text: string): boolean {
    const w = this.#write;
    const used = (w - Atomics.load(this.header, READ)) >>> 0;
    if (used > this.capacity) throw new RingError("ring reader counter out of range");
    const free = this.capacity - used;
    // UTF-8 needs at least one byte per UTF-16 unit: skip what cannot fit at all.
    if (text.length + 4 > free) return false;
    const pos = w & this.mask;
    const tail = this.capacity - pos;
    let advance = 0;
    let at = pos;
    let written = this.#encode(text, pos + 4, Math.min(free, tail) - 4);
    if (written >= 0) advance = 4 + align4(written);
    else if (free > tail) {
      // Wrap: the frame starts over at 0, after a marker filling the end.
      written = this.#encode(text, 4, free - tail - 4);
      if (written < 0) return false;
      this.lengths[pos >> 2] = WRAP;
      at = 0;
      advance = tail + 4 + align4(written);
    } else return false;
    this.lengths[at >> 2] = written;
    this.#write = (w + advance) | 0;
    Atomics.store(this.header, WRITE, this.#write);
    this.ring();
    return true;
  }

  /** Wakes the reader (blocked or waiting asynchronously), also without a new frame. */
  ring(): void {
    const header = this.header;
    Atomics.notify(header, WRITE);
    if (Atomics.load(header, ARMED) !== 0) {
      Atomics.add(header, BELL, 1);
      Atomics.notify(header, BELL);
    }
  }

  /** Encodes `text` at `start` within `room` bytes: the byte count, or -1 if it does not fit. */
  #encode(text: string, start: number, room: number): number {
    if (room < text.length) return -1;
    const { read, written } = this.#encoder.encodeInto(
      text,
      this.bytes.subarray(start, start + room),
    );
    return read === text.length ? written : -1;
  }
}

/** The reading end of a ring. */
export class RingReader extends Ring {
  readonly #decoder = new TextDecoder();
  /**
   * Frames are copied here before decoding: `TextDecoder` copies a view of shared memory
   * anyway, and that copy costs several times more than this one (`bench/sandbox_ratio.ts`).
   */
  #scratch = new Uint8Array(4096);
  #read = 0;
  #pending = false;

  /** Where the writer is now: pass it to {@linkcode RingReader.read} to read no further. */
  end(): number {
    return Atomics.load(this.header, WRITE);
  }

  /**
   * The next frame's text, or null when the ring is empty (up to `w`, an earlier
   * {@linkcode RingReader.end}). Throws {@linkcode RingError}.
   */
  read(w: number = Atomics.load(this.header, WRITE)): string | null {
    let r = this.#read;
    if (w === r) return null;
    const capacity = this.capacity;
    if (((w - r) >>> 0) > capacity) throw new RingError("ring writer counter out of range");
    let pos = r & this.mask;
    let length = this.lengths[pos >> 2];
    if (length === WRAP) {
      r = (r + capacity - pos) | 0;
      pos = 0;
      length = this.lengths[0];
    }
    const end = pos + 4 + length;
    if (length < 0 || end > capacity || ((w - r) >>> 0) < 4 + length) {
      throw new RingError(`bad frame length ${length}`);
    }
    let scratch = this.#scratch;
    if (scratch.byteLength < length) {
      this.#scratch = scratch = new Uint8Array(Math.max(length, scratch.byteLength * 2));
    }
    scratch.set(this.bytes.subarray(pos + 4, end));
    const text = this.#decoder.decode(scratch.subarray(0, length));
    this.#read = (r + 4 + align4(length)) | 0;
    Atomics.store(this.header, READ, this.#read);
    return text;
  }

  /**
   * Makes the writer's next frame (or ring) call `onReady` from the event loop, without
   * blocking the thread; true when a frame is already there (read it, then arm again). One
   * wait at most is pending: arming again while it is keeps it.
   */
  arm(onReady: () => void): boolean {
    const header = this.header;
    Atomics.store(header, ARMED, 1);
    if (!this.#pending) {
      const waiting = Atomics.waitAsync(header, BELL, Atomics.load(header, BELL));
      if (!waiting.async) return true; // rung in between: look now
      this.#pending = true;
      waiting.value.then(() => {
        this.#pending = false;
        onReady();
      });
    }
    // A frame written before ARMED was seen would have rung nothing.
    return Atomics.load(header, WRITE) !== this.#read;
  }

  /**
   * Blocks this thread until the writer writes past what was read or rings, for at most
   * `ms`: false when the time ran out. Only for a Worker with nothing else to do (the
   * gateway's thread never blocks). An armed wait stays pending but is not rung meanwhile.
   */
  block(ms: number): boolean {
    Atomics.store(this.header, ARMED, 0);
    return Atomics.wait(this.header, WRITE, this.#read, ms) !== "timed-out";
  }

  /** Ends a pending armed wait (used when the channel closes). */
  wake(): void {
    Atomics.add(this.header, BELL, 1);
    Atomics.notify(this.header, BELL);
  }
}
