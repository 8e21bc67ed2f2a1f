/**
 * The message channel between the gateway and a Worker sandbox: two {@linkcode RingWriter} /
 * {@linkcode RingReader} rings in shared memory carry calls and their answers as JSON text;
 * `postMessage` carries what JSON cannot carry (see {@linkcode isJsonSafe}), what does not
 * fit in the ring, and every other message. Both ends are the same class.
 *
 * Why: a `postMessage` round trip structured-clones both messages (dearer than their JSON
 * text) and wakes each thread through its event loop; JSON text in shared memory, an idle
 * Worker blocked in `Atomics.wait` and an `Atomics.waitAsync` wake-up in the gateway cost less
 * time and CPU per call (`bench/sandbox_ratio.ts`).
 *
 * Order: a posted message is handled only after every frame written to the ring before it
 * was posted (the receiver drains its ring first), so an `abort`, `shutdown` or `exit`
 * ({@linkcode SharedChannel.post}) never overtakes the call or answer it follows. Frames may
 * overtake posted messages: only independent calls and answers use {@linkcode SharedChannel.send}.
 *
 * @module
 */
import { isJsonSafe } from "./json_safe.ts";
import { ringBuffer, RingReader, RingWriter } from "./shared_ring.ts";

/** Bytes of each ring (one per direction): a larger message is posted. */
export const RING_BYTES = 64 * 1024;

/**
 * How long an idle Worker blocks its thread waiting for the next call (ms), and how long it
 * may go on doing so before it lets its event loop turn (ms): a Worker woken from
 * `Atomics.wait` answers sooner, and with less CPU, than one woken through its event loop
 * (`bench/sandbox_ratio.ts`). A posted message (abort, shutdown) wakes it at once; the
 * plugin's own timers and I/O callbacks may run up to about the sum of the two late while
 * calls keep coming. It never blocks while a call is in flight.
 */
export const IDLE_WAIT_MS = 10;
const TURN_BUDGET_MS = 10;
/** Drain-and-rearm rounds in one go before yielding to the event loop. */
const MAX_ROUNDS = 16;

/** The two shared buffers of a channel, as the gateway sees them. */
export interface ChannelBuffers {
  /** Gateway to sandbox. */
  down: SharedArrayBuffer;
  /** Sandbox to gateway. */
  up: SharedArrayBuffer;
  /** Post every message (the channel as it was before the rings: for the benchmark). */
  postOnly?: boolean;
}

/** Fresh buffers for one channel. */
export function channelBuffers(bytes: number = RING_BYTES, postOnly = false): ChannelBuffers {
  return { down: ringBuffer(bytes), up: ringBuffer(bytes), postOnly };
}

/** True for the message that hands a Worker its channel (the first one it gets). */
export function isChannelBuffers(value: unknown): value is ChannelBuffers {
  const v = value as ChannelBuffers | null;
  return typeof v === "object" && v !== null && v.down instanceof SharedArrayBuffer &&
    v.up instanceof SharedArrayBuffer;
}

/** One end of a channel. */
export class SharedChannel<Out, In> {
  readonly #writer: RingWriter;
  readonly #reader: RingReader;
  readonly #post: (message: Out) => void;
  readonly #deliver: (message: In) => void;
  readonly #broken: (error: unknown) => void;
  readonly #idleWaitMs: number;
  readonly #postOnly: boolean;
  /** When the event loop last ran this end (a macrotask delivered something). */
  #turnAt = 0;
  #closed = false;

  /**
   * One end: writes to `write`, reads `read`; `post` sends by `postMessage`, `deliver` gets
   * each message in order, `broken` is told once if the ring holds garbage. `idleWaitMs`
   * (Worker end only) enables {@linkcode SharedChannel.idle}; `postOnly` posts everything.
   */
  constructor(
    write: SharedArrayBuffer,
    read: SharedArrayBuffer,
    post: (message: Out) => void,
    deliver: (message: In) => void,
    broken: (error: unknown) => void,
    idleWaitMs = 0,
    postOnly = false,
  ) {
    this.#writer = new RingWriter(write);
    this.#reader = new RingReader(read);
    this.#post = post;
    this.#deliver = deliver;
    this.#broken = broken;
    this.#idleWaitMs = postOnly ? 0 : idleWaitMs;
    this.#postOnly = postOnly;
    this.#listen();
  }

  /**
   * Sends a call or an answer: as JSON in the ring when JSON carries it and it fits, else
   * posted. It may overtake an earlier posted message.
   */
  send(message: Out): void {
    if (this.#closed) return;
    if (
      !this.#postOnly && isJsonSafe(message) && this.#writer.tryWrite(JSON.stringify(message))
    ) return;
    this.#post(message);
  }

  /** Posts `message`: it is handled after everything sent or posted before it. */
  post(message: Out): void {
    if (this.#closed) return;
    this.#post(message);
    // A peer blocked in idle() must return to its event loop to receive it.
    this.#writer.ring();
  }

  /** Handles a message that came by `postMessage` (after what the ring holds). */
  received(message: In): void {
    if (this.#closed) return;
    this.#turnAt = performance.now();
    this.#drain();
    if (!this.#closed) this.#deliver(message);
  }

  /**
   * Called by a Worker with no call in flight: blocks its thread until the next frame (then
   * delivers it), a posted message, or `idleWaitMs`, unless its event loop has not run for
   * a while (then the event loop's wake-up serves the next call).
   */
  idle(): void {
    if (this.#closed || this.#idleWaitMs <= 0) return;
    if (performance.now() - this.#turnAt > TURN_BUDGET_MS) return;
    this.#reader.block(this.#idleWaitMs);
    this.#listen();
  }

  /** Stops delivering, releases the pending wait, and wakes a peer blocked in idle(). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.wake();
    this.#writer.ring();
  }

  #pump = (): void => {
    this.#turnAt = performance.now();
    this.#listen();
  };

  /**
   * Delivers what the ring holds, then arms the wait for the next frame. A peer that keeps
   * writing (a plugin flooding the gateway) cannot hold this thread: after a few rounds the
   * rest waits for the next event-loop turn.
   */
  #listen(): void {
    if (this.#closed) return;
    for (let round = 0;; round++) {
      this.#drain();
      if (this.#closed) return;
      if (round === MAX_ROUNDS) {
        setTimeout(this.#pump, 0);
        return;
      }
      if (!this.#reader.arm(this.#pump)) return;
    }
  }

  /** Delivers the frames written so far (not those written meanwhile). */
  #drain(): void {
    const reader = this.#reader;
    try {
      const end = reader.end();
      for (let text = reader.read(end); text !== null; text = reader.read(end)) {
        this.#deliver(JSON.parse(text) as In);
        if (this.#closed) return;
      }
    } catch (error) {
      this.close();
      this.#broken(error);
    }
  }
}
