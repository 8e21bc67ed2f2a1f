/**
 * The FIRE_AND_FORGET phase: spawned when the chain ends, run in the background (bounded by
 * the execution pool), each reporting an error model instead of failing the invocation.
 *
 * @module
 */
import type { PluginContext } from "../context.ts";
import { errorRepr, PluginTimeoutError } from "../errors.ts";
import { Outcome } from "../observability/metrics.ts";
import type { PluginErrorModel } from "../types.ts";
import type { Invocation } from "./invocation.ts";
import { disableOnError } from "./outcome.ts";
import { durationNs, newRecord } from "./records.ts";
import type { HookRef } from "./registry.ts";
import type { HookResult } from "./result.ts";
import { checkResult } from "./result_checks.ts";
import { Semaphore } from "./semaphore.ts";
import { endPluginSpan, failPluginSpan, startPluginSpan } from "./tracing.ts";

/** Records and spawns `refs` as background tasks of `result`. */
export function scheduleFireAndForget(
  refs: readonly HookRef[],
  inv: Invocation,
  result: HookResult,
): void {
  // FAF plugins see the final chained payload (the reference hands them the original: Q1).
  const payload = inv.current;
  const semaphore = new Semaphore(inv.settings.executionPool);
  for (const hookRef of refs) {
    const context = inv.contextFor(hookRef);
    inv.records.push(newRecord(hookRef.ref.identity, inv.hookName, "completed"));
    result.background_tasks.push(runFireAndForget(hookRef, inv, payload, context, semaphore));
  }
}

async function runFireAndForget(
  hookRef: HookRef,
  inv: Invocation,
  payload: unknown,
  context: PluginContext,
  semaphore: Semaphore,
): Promise<PluginErrorModel | undefined> {
  // Start on a later macrotask: the caller gets its result before any FAF plugin runs.
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  await semaphore.acquire();
  const ref = hookRef.ref;
  const span = inv.tracing ? startPluginSpan(inv, hookRef) : null;
  const started = inv.meters === null ? 0 : performance.now();
  try {
    const result = checkResult(await inv.call(hookRef, payload, context), ref.name);
    endPluginSpan(inv, span, result);
    inv.meters?.ran(hookRef, Outcome.Allowed, durationNs(started));
    return undefined;
  } catch (error) {
    failPluginSpan(inv, span);
    disableOnError(ref, inv.settings.runtimeDisabled);
    // Never fail-open: a FIRE_AND_FORGET plugin cannot stop a call whatever its on_error.
    const timedOut = error instanceof PluginTimeoutError;
    inv.meters?.failed(hookRef, timedOut, false, durationNs(started));
    return { message: errorRepr(error), plugin_name: ref.name };
  } finally {
    semaphore.release();
  }
}
