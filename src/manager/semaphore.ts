/**
 * A counting semaphore bounding concurrent plugin calls.
 *
 * @module
 */

/**
 * Limits how many tasks run at once. A limit of 0 or less means unbounded.
 */
export class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  /** Creates a semaphore with `limit` slots (0 = unbounded). */
  constructor(limit: number) {
    this.#free = limit > 0 ? limit : Infinity;
  }

  /** Waits for a free slot. */
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Frees a slot, handing it to the oldest waiter. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}
