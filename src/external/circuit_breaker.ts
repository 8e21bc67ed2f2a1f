/**
 * The circuit breaker of one replica of an external plugin (issue 14 item 3).
 *
 * `closed`: calls flow; `failure_threshold` consecutive failures (transport failures and
 * timeouts; an error the plugin itself returns is an answer, not a failure) open it. `open`:
 * the replica gets no calls until `reset_timeout` has passed; then the next call is the one
 * probe (`half_open`, every other call still skips the replica): its success closes the
 * breaker, its failure opens it for another `reset_timeout`. No timer runs: the state is
 * decided when a call asks, so an idle gateway pays nothing.
 *
 * @module
 */
import type { CircuitBreakerConfig } from "../types.ts";

/** The state of a {@linkcode CircuitBreaker}. */
export type CircuitState = "closed" | "open" | "half_open";

/** One replica's breaker (see the module doc). */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #resetMs: number;
  #state: CircuitState = "closed";
  #failures = 0;
  #openedAt = 0;

  /** Creates a closed breaker. */
  constructor(config: CircuitBreakerConfig) {
    this.#threshold = config.failure_threshold;
    this.#resetMs = config.reset_timeout * 1000;
  }

  /** The state (an `open` breaker whose reset timeout passed still reads `open` until asked). */
  get state(): CircuitState {
    return this.#state;
  }

  /** True when {@linkcode acquire} would let a call through now (changes nothing). */
  available(now: number): boolean {
    if (this.#state === "closed") return true;
    return this.#state === "open" && now - this.#openedAt >= this.#resetMs;
  }

  /** Lets one call through, or says no; an expired `open` breaker becomes `half_open`. */
  acquire(now: number): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "half_open" || now - this.#openedAt < this.#resetMs) return false;
    this.#state = "half_open"; // This call is the one probe.
    return true;
  }

  /** A call answered. */
  success(): void {
    this.#state = "closed";
    this.#failures = 0;
  }

  /**
   * A call ended without a verdict (the caller cancelled it, e.g. a CONCURRENT sibling blocked
   * first): counts neither way, and a cancelled probe lets the next call probe at once.
   */
  cancelled(): void {
    if (this.#state !== "half_open") return;
    this.#state = "open";
    this.#openedAt = -Infinity;
  }

  /** A call failed or timed out. */
  failure(now: number): void {
    if (this.#state === "half_open" || ++this.#failures >= this.#threshold) {
      this.#state = "open";
      this.#openedAt = now;
      this.#failures = 0;
    }
  }
}
