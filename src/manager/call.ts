/**
 * One plugin call: hands the hook an `AbortSignal`, enforces the deadline, and lets the
 * executor cancel a call it no longer waits for.
 *
 * @module
 */
import { PluginTimeoutError } from "../errors.ts";
import type { ObservabilityProvider } from "../observability.ts";
import type { HookCallOptions } from "../plugin.ts";
import type { Extensions, PluginResult } from "../types.ts";
import type { HookRef } from "./registry.ts";
import type { PluginContext } from "../context.ts";
import type { Deadline, DeadlineQueue } from "./deadlines.ts";

/**
 * Thrown into a call that the executor stopped waiting for (a sibling blocked or failed).
 */
export class PluginCancelledError extends Error {
  /** Creates the error for plugin `name`. */
  constructor(name: string) {
    super(`Plugin ${name} was cancelled`);
    this.name = "CancelledError";
  }
}

/**
 * The options object of one call. The `AbortController` is created only if the hook reads
 * `signal`, so hooks that ignore it cost nothing extra.
 */
export class CallOptions implements HookCallOptions {
  /** Extensions filtered for the plugin. */
  readonly extensions: Extensions | null;
  /** When the manager stops waiting (`performance.now()` time). */
  deadline = Infinity;
  /** The provider and span of a traced call (what {@linkcode traceContext} reads). */
  traced: { provider: ObservabilityProvider; span: string } | null = null;
  #controller: AbortController | undefined;
  #reason: unknown = undefined;
  #aborted = false;

  /** Creates the options with the plugin's extension view. */
  constructor(extensions: Extensions | null) {
    this.extensions = extensions;
  }

  /** Aborted when the call's deadline passes or the executor cancels it. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** The W3C trace context of the call's span, when traced by a provider that has one. */
  get traceContext(): Readonly<Record<string, string>> | undefined {
    const traced = this.traced;
    if (traced === null) return undefined;
    try {
      return traced.provider.traceContext?.(traced.span) ?? undefined;
    } catch {
      return undefined; // A failing provider never breaks a hook call.
    }
  }

  /** Aborts the signal (now, or when it is first read). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * A call in flight that the executor may cancel.
 */
export class PendingCall {
  /** True once the call resolved, failed, timed out or was cancelled. */
  settled = false;
  /** The call's deadline, once it waits for one. */
  deadline: Deadline | undefined = undefined;
  options: CallOptions | undefined = undefined;
  reject: ((reason: unknown) => void) | undefined = undefined;

  /** Stops waiting: clears the deadline, aborts the signal, rejects the call. */
  cancel(name: string): void {
    if (this.settled) return;
    this.settled = true;
    this.deadline?.settle();
    const reason = new PluginCancelledError(name);
    this.options?.abort(reason);
    this.reject?.(reason);
  }
}

// setTimeout fires at once for delays above 2^31-1 ms; clamp to ~24.8 days.
const MAX_TIMER_MS = 2_147_483_647;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** Settled already: awaiting it lets the reactions of an already settled promise run first. */
export const TICK: Promise<void> = Promise.resolve();

/**
 * One started plugin call (issue 13: no `Promise.race` and no async frame per plugin). The
 * handler's outcome lands here: at once when it returns a plain value or throws, one tick later
 * when it returns an already settled promise (the caller awaits {@linkcode TICK} and looks
 * again), else {@linkcode PluginCall.wait} races it against the shared deadline timer.
 */
export class PluginCall {
  /** True once the outcome is known. */
  done = false;
  /** True when the outcome is a failure (`value` is the error). */
  failed = false;
  /** The handler's value, or the failure. */
  value: unknown = undefined;
  /** The span of the call, if traced (kept here for the serial phase). */
  span: string | null = null;
  #resolve: (() => void) | null = null;

  /** A call of `hookRef` started at `started` with `payload` and `context`. */
  constructor(
    readonly hookRef: HookRef,
    readonly payload: unknown,
    readonly context: PluginContext,
    readonly options: CallOptions,
    readonly started: number,
    readonly seconds: number,
    readonly pending: PendingCall | undefined,
  ) {}

  /** Records the handler's value (ignored once the call timed out or was cancelled). */
  ok(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.value = value;
    this.#wake();
  }

  /** Records a failure (ignored once the outcome is known). */
  fail(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failed = true;
    this.value = reason;
    this.#wake();
  }

  #wake(): void {
    const resolve = this.#resolve;
    if (resolve === null) return;
    this.#resolve = null;
    resolve();
  }

  /** The result, or throws the failure. */
  take(): PluginResult {
    if (this.failed) throw this.value;
    return this.value as PluginResult;
  }

  /**
   * Looks at the call after one tick: true when its outcome is known. A call the executor
   * cancelled during the tick fails with `PluginCancelledError`.
   */
  afterTick(): boolean {
    const pending = this.pending;
    if (this.done) {
      if (pending) pending.settled = true;
      return true;
    }
    if (pending?.settled) {
      this.fail(new PluginCancelledError(this.hookRef.ref.name));
      return true;
    }
    return false;
  }

  /**
   * Waits for a call still running after one tick ({@linkcode PluginCall.afterTick} said
   * false): it settles, its deadline passes (the signal is aborted and the call fails with
   * `PluginTimeoutError`) or the executor cancels it (fails with `PluginCancelledError`).
   * Never rejects: the outcome is in the call.
   */
  wait(deadlines: DeadlineQueue): Promise<void> {
    const pending = this.pending;
    const name = this.hookRef.ref.name;
    return new Promise<void>((resolve) => {
      const ms = Math.min(this.seconds * 1000, MAX_TIMER_MS);
      const deadline = deadlines.add(ms, () => {
        if (pending) pending.settled = true;
        const error = new PluginTimeoutError(name, this.seconds);
        this.options.abort(error);
        this.fail(error);
      });
      if (pending) {
        pending.deadline = deadline;
        pending.reject = (reason) => this.fail(reason);
      }
      this.#resolve = () => {
        deadline.settle();
        if (pending) pending.settled = true;
        resolve();
      };
    });
  }
}

/**
 * Starts `hookRef`'s handler with a deadline of `seconds` from `now` (the caller's clock
 * reading: one per plugin boundary, issue 13). A handler that throws synchronously fails the
 * call; one that returns a plain value completes it; a promise reports when it settles.
 */
export function startCall(
  hookRef: HookRef,
  payload: unknown,
  context: PluginContext,
  options: CallOptions,
  seconds: number,
  pending: PendingCall | undefined,
  now: number,
): PluginCall {
  // Known before the call, so a cancel during the first await still aborts the signal.
  if (pending) pending.options = options;
  options.deadline = now + Math.min(seconds * 1000, MAX_TIMER_MS);
  const call = new PluginCall(hookRef, payload, context, options, now, seconds, pending);
  let returned: unknown;
  try {
    returned = hookRef.handler(payload, context, options);
  } catch (error) {
    call.fail(error);
    return call;
  }
  if (!isThenable(returned)) {
    if (pending) pending.settled = true;
    call.ok(returned);
    return call;
  }
  returned.then((value) => call.ok(value), (reason) => call.fail(reason));
  return call;
}

/**
 * Calls `hookRef`'s handler with a deadline of `seconds` from `now`: {@linkcode startCall},
 * then one tick, then the deadline race for a handler still running. Handlers that finish
 * synchronously or return an already settled promise need no timer (a timer costs ~1 µs); on
 * expiry the signal is aborted and a `PluginTimeoutError` is thrown.
 */
export async function callPlugin(
  hookRef: HookRef,
  payload: unknown,
  context: PluginContext,
  options: CallOptions,
  seconds: number,
  deadlines: DeadlineQueue,
  pending?: PendingCall,
  now: number = performance.now(),
): Promise<PluginResult> {
  const call = startCall(hookRef, payload, context, options, seconds, pending, now);
  if (!call.done) {
    await TICK;
    if (!call.afterTick()) await call.wait(deadlines);
  }
  return call.take();
}
