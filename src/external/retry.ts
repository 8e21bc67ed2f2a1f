/**
 * The one retry helper of the gateway-side clients (issue 10 item 1): every connect, reconnect
 * and config-fetch loop runs through {@linkcode retry}, with one attempt-counting convention.
 *
 * Convention: `attempts` counts every try, the first included, as wire.md states the
 * reference's counts (gRPC config fetch 3, MCP HTTP connect 3, MCP STDIO connect 1, a
 * reconnect `reconnect_attempts`, a Unix request `reconnect_attempts + 1`). The sleep after
 * failed try `n` (1-based) is `delayMs × 2^(n-1)`, plus up to `jitter` of it at random, so
 * gateways restarted together do not reconnect in step. With the reference's defaults this
 * gives its sleeps (1 s then 2 s; 0.1 s then 0.2 s).
 *
 * @module
 */

/** How often and how patiently to try. */
export interface RetryPolicy {
  /** Every try, the first included (at least 1 is made). */
  readonly attempts: number;
  /** Sleep after the first failed try, in ms; each later sleep doubles. */
  readonly delayMs: number;
  /** Up to this fraction of a sleep is added at random (default 0.1). */
  readonly jitter?: number;
}

/** Thrown by {@linkcode retry} when every attempt failed; `cause` is the last failure. */
export class RetriesExhausted extends Error {
  /** Creates the error for `attempts` failed tries. */
  constructor(readonly attempts: number, cause: unknown) {
    super(`failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${describe(cause)}`, {
      cause,
    });
    this.name = "RetriesExhausted";
  }
}

/** The sleep after failed try `attempt` (1-based), in ms. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const base = policy.delayMs * 2 ** (attempt - 1);
  return base + base * (policy.jitter ?? 0.1) * Math.random();
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `operation` until it succeeds, `shouldRetry` says no (that error is rethrown as is),
 * `stopped()` turns true, or the attempts run out ({@linkcode RetriesExhausted}).
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: { shouldRetry?: (error: unknown) => boolean; stopped?: () => boolean } = {},
): Promise<T> {
  const attempts = Math.max(1, policy.attempts);
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (options.stopped?.()) break;
    try {
      return await operation(attempt);
    } catch (error) {
      if (options.shouldRetry && !options.shouldRetry(error)) throw error;
      lastError = error;
      if (attempt < attempts) await sleep(backoffMs(policy, attempt));
    }
  }
  throw new RetriesExhausted(attempts, lastError ?? new Error("plugin shut down"));
}

/** An error's message (or the value as text). */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
