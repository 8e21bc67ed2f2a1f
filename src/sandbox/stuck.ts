/**
 * Worker threads stuck in synchronous code. On Deno 2.9 `Worker.terminate()` does not stop a
 * thread that never returns to its event loop (`while (true) {}`): it keeps a core busy until
 * the process exits. So when the pool kills a worker at its timeout it first posts a
 * {@linkcode PING}; a worker whose event loop still turns answers {@linkcode PONG} (an async
 * timeout: the thread is reclaimed), one that stays silent for {@linkcode STUCK_GRACE_MS} is
 * counted as a leaked thread. After `max_stuck` of them a plugin gets no more workers.
 *
 * @module
 */

/** The probe the gateway posts to a worker it is killing. */
export const PING = "ping";
/** A worker's answer to {@linkcode PING}, from its event loop. */
export const PONG = "pong";
/**
 * How long a killed worker has to answer the probe (ms): generous, since a loaded machine
 * may schedule a live worker late, and only the count of leaked threads waits for it (the
 * timed-out call has already failed).
 */
export const STUCK_GRACE_MS = 1000;

let leaked = 0;

/** Counts one more leaked thread in this process; returns the new total. */
export function countStuckThread(): number {
  return ++leaked;
}

/** Worker threads stuck in synchronous code leaked so far by every plugin of this process. */
export function stuckThreads(): number {
  return leaked;
}
