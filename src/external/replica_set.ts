/**
 * The replicas of one external plugin and how a call picks one (issue 14 item 1).
 *
 * Each replica is one {@linkcode RemoteConnection} with its own circuit breaker and health
 * check. A call goes to the eligible replica (healthy, breaker not open) with the fewest
 * requests outstanding, ties taken in turn. Least outstanding requests rather than plain
 * round-robin because plugin calls differ in cost and a slow or half-stuck replica keeps its
 * calls longer: it gets fewer new ones at once, where round-robin keeps feeding it its share
 * (Envoy's and gRPC's own least-request policies reason the same way). Counting costs one
 * integer per replica; with one replica the pick is a single check.
 *
 * @module
 */
import { CircuitBreaker } from "./circuit_breaker.ts";
import type { HealthCheck } from "./health_check.ts";
import type { RemoteConnection } from "./remote_plugin.ts";
import type { CircuitBreakerConfig } from "../types.ts";

/** One endpoint of a plugin. */
export class Replica {
  /** Its connection. */
  readonly connection: RemoteConnection;
  /** Its breaker (null: off). */
  readonly breaker: CircuitBreaker | null;
  /** Its health check (null: off); set once the plugin is initialized. */
  health: HealthCheck | null = null;
  /** Calls sent and not yet answered. */
  outstanding = 0;
  /** A reconnect under way (concurrent callers share it). */
  reconnecting: Promise<void> | null = null;

  /** Creates the replica. */
  constructor(connection: RemoteConnection, breaker: CircuitBreakerConfig | null) {
    this.connection = connection;
    this.breaker = breaker ? new CircuitBreaker(breaker) : null;
  }

  /** Where it is. */
  get target(): string {
    return this.connection.target;
  }

  /** Whether a call may be sent to it now. */
  eligible(now: number): boolean {
    return (this.health?.healthy ?? true) && (this.breaker?.available(now) ?? true);
  }

  /** Why it is not eligible, for messages. */
  state(now: number): string {
    if (this.health && !this.health.healthy) return "unhealthy";
    const breaker = this.breaker;
    if (!breaker || breaker.available(now)) return "available";
    return breaker.state === "half_open" ? "circuit half-open (probe under way)" : "circuit open";
  }
}

/** The replicas of one plugin (see the module doc). */
export class ReplicaSet {
  /** Every replica, in config order. */
  readonly replicas: readonly Replica[];
  #turn = 0;

  /** Creates the set. */
  constructor(replicas: Replica[]) {
    this.replicas = replicas;
  }

  /**
   * The replica for the next call (its breaker admits the call), or null when none is
   * eligible. `exclude`: replicas this call already failed on.
   */
  pick(now: number, exclude: ReadonlySet<Replica> | null): Replica | null {
    const replicas = this.replicas;
    const n = replicas.length;
    let best: Replica | null = null;
    const start = n === 1 ? 0 : this.#turn = (this.#turn + 1) % n;
    for (let i = 0; i < n; i++) {
      const replica = replicas[(start + i) % n];
      if (exclude?.has(replica) || !replica.eligible(now)) continue;
      if (!best || replica.outstanding < best.outstanding) best = replica;
    }
    if (best && best.breaker && !best.breaker.acquire(now)) return null;
    return best;
  }

  /** How many replicas are eligible now. */
  available(now: number): number {
    let count = 0;
    for (const replica of this.replicas) if (replica.eligible(now)) count++;
    return count;
  }

  /** Each replica's state, for messages (`a: circuit open, b: unhealthy`). */
  describe(now: number): string {
    return this.replicas.map((r) => `${r.target}: ${r.state(now)}`).join(", ");
  }
}
