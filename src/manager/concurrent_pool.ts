/**
 * The calls of the CONCURRENT phase: at most the execution pool's size in flight, handed back
 * in the order they settle, and cancelled once the phase stops waiting for them.
 *
 * @module
 */
import type { PluginContext } from "../context.ts";
import { PendingCall } from "./call.ts";
import type { Invocation } from "./invocation.ts";
import type { HookRef } from "./registry.ts";
import { failPluginSpan, startPluginSpan } from "./tracing.ts";

/** A call of the pool that settled: its index, whether it resolved, its value or error. */
export interface Settlement {
  /** Index of the call's ref. */
  readonly index: number;
  /** True when the call resolved. */
  readonly ok: boolean;
  /** The returned value, or the error. */
  readonly value: unknown;
}

/**
 * Starts the first calls on construction and one more each time a call settles, until
 * {@linkcode ConcurrentPool.stop}.
 */
export class ConcurrentPool {
  /** Each call's plugin context, all prepared before any plugin starts. */
  readonly contexts: PluginContext[];
  /** When each call started (`performance.now()` time). */
  readonly started: number[];
  readonly #spans: Array<string | null>;
  readonly #pending: PendingCall[];
  readonly #done: Settlement[] = [];
  /** 1 for each call whose settlement was handed out (taken or returned by `stop`). */
  readonly #handed: Uint8Array;
  #wake: (() => void) | null = null;
  #next = 0;
  #stopped = false;

  /** Starts calling `refs` with `input`. */
  constructor(
    readonly inv: Invocation,
    readonly refs: readonly HookRef[],
    readonly input: unknown,
  ) {
    const n = refs.length;
    // Every context is prepared before any plugin starts: all see the same global state.
    this.contexts = refs.map((h) => inv.contextFor(h));
    this.#pending = refs.map(() => new PendingCall());
    this.started = new Array<number>(n);
    this.#spans = new Array<string | null>(n).fill(null);
    this.#handed = new Uint8Array(n);
    const pool = inv.settings.executionPool;
    const first = Math.min(pool > 0 ? pool : n, n);
    while (this.#next < first) this.#start(this.#next++);
  }

  #start(index: number): void {
    const inv = this.inv;
    const hookRef = this.refs[index];
    if (inv.tracing) this.#spans[index] = startPluginSpan(inv, hookRef);
    const now = this.started[index] = performance.now();
    try {
      inv.call(hookRef, this.input, this.contexts[index], this.#pending[index], now).then(
        (value) => this.#settle(index, true, value),
        (error) => this.#settle(index, false, error),
      );
    } catch (error) {
      this.#pending[index].settled = true;
      queueMicrotask(() => this.#settle(index, false, error));
    }
  }

  #settle(index: number, ok: boolean, value: unknown): void {
    this.#done.push({ index, ok, value });
    const wake = this.#wake;
    if (wake) {
      this.#wake = null;
      wake();
    }
    if (this.#next < this.refs.length && !this.#stopped) this.#start(this.#next++);
  }

  /** True when no settlement waits to be taken. */
  get idle(): boolean {
    return this.#done.length === 0;
  }

  /** Resolves when the next call settles (call only when {@linkcode idle}). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.#wake = resolve);
  }

  /** The oldest settlement not taken yet (call only when not {@linkcode idle}). */
  take(): Settlement {
    const settlement = this.#done.shift()!;
    this.#handed[settlement.index] = 1;
    return settlement;
  }

  /** The span of call `index`, which the caller now ends. */
  takeSpan(index: number): string | null {
    const span = this.#spans[index];
    this.#spans[index] = null;
    return span;
  }

  /**
   * Starts no more calls; returns the settlements not taken yet, whose effects the caller
   * still applies (it ends their spans).
   */
  stop(): Settlement[] {
    this.#stopped = true;
    const rest = this.#done.splice(0);
    for (const { index } of rest) this.#handed[index] = 1;
    return rest;
  }

  /** Cancels every call still in flight; spans of calls never taken end as errors (Q7). */
  cancel(): void {
    const inv = this.inv;
    const meters = inv.meters;
    for (let i = 0; i < this.refs.length; i++) {
      this.#pending[i].cancel(this.refs[i].ref.name);
      failPluginSpan(inv, this.takeSpan(i));
      // In flight, settled but never handed out, or never started: cancelled (issue 15).
      if (meters !== null && this.#handed[i] === 0) meters.cancelled(this.refs[i]);
    }
  }
}
