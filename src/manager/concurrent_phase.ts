/**
 * The CONCURRENT phase: every plugin sees the same payload; results are processed in the
 * order they arrive, and the first block or `on_error: fail` failure ends the phase.
 *
 * @module
 */
import type { PluginContext } from "../context.ts";
import { Outcome } from "../observability/metrics.ts";
import { PluginTimeoutError } from "../errors.ts";
import type { PluginResult } from "../types.ts";
import { deny } from "./chain_end.ts";
import { ConcurrentPool } from "./concurrent_pool.ts";
import { handleFailure } from "./failure.ts";
import type { Invocation } from "./invocation.ts";
import { blocks, disableOnError, stampViolation } from "./outcome.ts";
import { durationNs, newRecord, recordViolation } from "./records.ts";
import type { HookRef } from "./registry.ts";
import type { HookResult } from "./result.ts";
import { checkResult } from "./result_checks.ts";
import { endPluginSpan, failPluginSpan } from "./tracing.ts";

/**
 * Runs the CONCURRENT `refs`; returns the halt result when one blocks, else null. `raise`
 * throws the block instead (violationsAsExceptions).
 */
export async function runConcurrent(
  inv: Invocation,
  refs: readonly HookRef[],
  raise: boolean,
): Promise<HookResult | null> {
  const pool = new ConcurrentPool(inv, refs, inv.current);
  for (let handled = 0; handled < refs.length; handled++) {
    if (pool.idle) await pool.wait();
    const { index, ok, value } = pool.take();
    const hookRef = refs[index];
    const ref = hookRef.ref;
    const span = pool.takeSpan(index);
    let result: PluginResult;
    try {
      if (!ok) throw value;
      result = checkResult(value, ref.name);
    } catch (error) {
      failPluginSpan(inv, span);
      try {
        handleFailure(inv, hookRef, error, pool.started[index], false);
      } catch (failure) {
        stopPool(pool); // the reference leaves siblings running (Q6)
        throw failure;
      }
      continue;
    }
    endPluginSpan(inv, span, result);
    inv.executed++;
    inv.absorb(hookRef, pool.contexts[index], result);
    const halts = blocks(result, ref.mode);
    const record = newRecord(ref.identity, inv.hookName, "completed");
    record.duration_ns = durationNs(pool.started[index]);
    record.requested_allow = !halts;
    record.effective_allow = !halts;
    record.matched = halts;
    record.applied = halts;
    record.extensions_modified = result.modified_extensions != null;
    recordViolation(record, result.violation);
    if (!halts) {
      // A CONCURRENT plugin's modifications are never applied: it allowed.
      inv.meterRan(hookRef, Outcome.Allowed, pool.started[index], record.duration_ns);
      inv.records.push(record);
      continue;
    }
    inv.meterRan(hookRef, Outcome.Blocked, pool.started[index], record.duration_ns);
    if (result.violation) inv.meters?.violation(hookRef, String(result.violation.code));
    stopPool(pool);
    return deny(inv, record, stampViolation(result.violation, ref.name), raise);
  }
  return null;
}

/** Stops waiting: siblings that already finished keep their effects, the rest are cancelled. */
function stopPool(pool: ConcurrentPool): void {
  // Siblings that finished but were not processed yet keep their effects, as in the
  // reference, where each task merges its own (issue 11 item 3): disable on failure, global
  // state and metadata merged, spans ended. They get no record.
  for (const { index, ok, value } of pool.stop()) {
    finishedSibling(
      pool.inv,
      pool.refs[index],
      pool.contexts[index],
      pool.takeSpan(index),
      ok,
      value,
      pool.started[index],
    );
  }
  pool.cancel();
}

/** Applies the effects of a sibling that finished before a halt was processed. */
function finishedSibling(
  inv: Invocation,
  hookRef: HookRef,
  context: PluginContext,
  span: string | null,
  ok: boolean,
  value: unknown,
  started: number,
): void {
  const ref = hookRef.ref;
  let result: PluginResult;
  try {
    if (!ok) throw value;
    result = checkResult(value, ref.name);
  } catch (error) {
    failPluginSpan(inv, span);
    disableOnError(ref, inv.settings.runtimeDisabled);
    const timedOut = error instanceof PluginTimeoutError;
    inv.meterFailed(hookRef, timedOut, ref.onError !== "fail", started, durationNs(started));
    return;
  }
  endPluginSpan(inv, span, result);
  inv.meterRan(hookRef, Outcome.Allowed, started, durationNs(started));
  inv.absorb(hookRef, context, result, false);
}
