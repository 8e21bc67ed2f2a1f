/**
 * Deadlines of plugin calls on one shared timer. Calls with the same timeout expire in the
 * order they started, so one FIFO queue per timeout value and a single timer armed at the
 * earliest live deadline are enough: while calls overlap (concurrent requests, remote plugins)
 * no timer is created or cleared per call. When no call is pending the timer is cleared, so
 * nothing outlives the calls.
 *
 * @module
 */

/**
 * One pending deadline; `settle()` it when the call finishes in time.
 */
export class Deadline {
  /** `performance.now()` time at which `fire` runs. */
  readonly at: number;
  #fire: (() => void) | null;
  readonly #queue: DeadlineQueue;

  /** Use {@linkcode DeadlineQueue.add}. */
  constructor(queue: DeadlineQueue, at: number, fire: () => void) {
    this.#queue = queue;
    this.at = at;
    this.#fire = fire;
  }

  /** True once settled or fired. */
  get done(): boolean {
    return this.#fire === null;
  }

  /** Marks the call finished; `fire` will not run. */
  settle(): void {
    if (this.#fire === null) return;
    this.#fire = null;
    this.#queue.released();
  }

  /** Runs `fire` (once) — called by the queue. */
  expire(): void {
    const fire = this.#fire;
    if (fire === null) return;
    this.#fire = null;
    this.#queue.released();
    fire();
  }
}

interface Lane {
  items: Deadline[];
  head: number;
}

/**
 * Deadlines sharing one timer.
 */
export class DeadlineQueue {
  readonly #lanes = new Map<number, Lane>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #live = 0;

  /** Schedules `fire` in `ms` milliseconds. */
  add(ms: number, fire: () => void): Deadline {
    let lane = this.#lanes.get(ms);
    if (!lane) this.#lanes.set(ms, lane = { items: [], head: 0 });
    trim(lane);
    const deadline = new Deadline(this, performance.now() + ms, fire);
    lane.items.push(deadline);
    this.#live++;
    if (deadline.at < this.#timerAt) this.#arm(deadline.at);
    return deadline;
  }

  /** Called by a deadline when it settles or fires. */
  released(): void {
    if (--this.#live === 0) this.close();
  }

  /** Clears the timer and forgets every deadline without firing it. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#lanes.clear();
    this.#live = 0;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    // Clamped: setTimeout fires at once for delays above 2^31-1 ms.
    const delay = Math.min(Math.max(0, at - performance.now()), 2_147_483_647);
    this.#timer = setTimeout(() => this.#expire(), delay);
  }

  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const [ms, lane] of this.#lanes) {
      const items = lane.items;
      while (lane.head < items.length) {
        const d = items[lane.head];
        if (d.done) lane.head++;
        else if (d.at <= now + 1) {
          lane.head++;
          due.push(d);
        } else break;
      }
      trim(lane);
      if (lane.items.length === 0) this.#lanes.delete(ms);
      else next = Math.min(next, lane.items[lane.head].at);
    }
    if (next !== Infinity) this.#arm(next);
    for (const d of due) d.expire();
  }
}

function trim(lane: Lane): void {
  const items = lane.items;
  while (lane.head < items.length && items[lane.head].done) lane.head++;
  if (lane.head === items.length) {
    items.length = 0;
    lane.head = 0;
  } else if (lane.head > 1024 && lane.head * 2 > items.length) {
    lane.items = items.slice(lane.head);
    lane.head = 0;
  }
}
