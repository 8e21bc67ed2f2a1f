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
const TICK: Promise<void> = Promise.resolve();

/**
 * Where a hook's promise reports: read after one tick to tell whether it had settled, else
 * forwarded to the deadline race (issue 13: no `Promise.race` per plugin).
 */
class HookOutcome {
  done = false;
  failed = false;
  value: unknown = undefined;
  resolve: ((value: PluginResult) => void) | null = null;
  reject: ((reason: unknown) => void) | null = null;

  /** Records a value (and forwards it once the deadline race waits for it). */
  ok(value: unknown): void {
    this.done = true;
    this.value = value;
    this.resolve?.(value as PluginResult);
  }

  /** Records a failure (and forwards it once the deadline race waits for it). */
  fail(reason: unknown): void {
    this.done = true;
    this.failed = true;
    this.value = reason;
    this.reject?.(reason);
  }
}

/**
 * Calls `hookRef`'s handler with a deadline of `seconds` from `now` (the caller's clock reading:
 * one per plugin boundary, issue 13). Handlers that finish synchronously or return an already
 * settled promise need no timer (a timer costs ~1 µs); the others race their deadline, and on
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
  // Known before the call, so a cancel during the first await still aborts the signal.
  if (pending) pending.options = options;
  const ms = Math.min(seconds * 1000, MAX_TIMER_MS);
  options.deadline = now + ms;
  const returned = hookRef.handler(payload, context, options);
  if (!isThenable(returned)) {
    if (pending) pending.settled = true;
    return returned;
  }
  const outcome = new HookOutcome();
  returned.then((value) => outcome.ok(value), (reason) => outcome.fail(reason));
  await TICK;
  if (outcome.done) {
    if (pending) pending.settled = true;
    if (outcome.failed) throw outcome.value;
    return outcome.value as PluginResult;
  }
  if (pending?.settled) throw new PluginCancelledError(hookRef.ref.name);
  const name = hookRef.ref.name;
  return await new Promise<PluginResult>((resolve, reject) => {
    const deadline = deadlines.add(ms, () => {
      if (pending) pending.settled = true;
      const error = new PluginTimeoutError(name, seconds);
      options.abort(error);
      reject(error);
    });
    if (pending) {
      pending.deadline = deadline;
      pending.reject = reject;
    }
    outcome.resolve = (value) => {
      deadline.settle();
      if (pending) pending.settled = true;
      resolve(value);
    };
    outcome.reject = (error) => {
      deadline.settle();
      if (pending) pending.settled = true;
      reject(error);
    };
  });
}
