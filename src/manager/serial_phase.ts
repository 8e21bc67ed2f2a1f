/**
 * The serial phases: SEQUENTIAL, TRANSFORM and AUDIT plugins, one at a time in priority order,
 * each seeing the payload as the plugins before it left it.
 *
 * @module
 */
import { Outcome } from "../observability/metrics.ts";
import type { PluginResult } from "../types.ts";
import { deny } from "./chain_end.ts";
import { handleFailure } from "./failure.ts";
import type { PluginCall } from "./call.ts";
import type { Invocation } from "./invocation.ts";
import { blocks, stampViolation } from "./outcome.ts";
import { newRecord, recordViolation } from "./records.ts";
import type { HookRef } from "./registry.ts";
import type { HookResult } from "./result.ts";
import { acceptModified, type Chained, checkResult, NONE } from "./result_checks.ts";
import { endPluginSpan, failPluginSpan, startPluginSpan } from "./tracing.ts";

/**
 * Starts one serial plugin (sync: the caller awaits only when the call is still running, so
 * a plugin costs no async frame of its own, issue 13).
 */
export function startSerial(inv: Invocation, hookRef: HookRef): PluginCall {
  const context = inv.contextFor(hookRef);
  const input = inv.current;
  const span = inv.tracing ? startPluginSpan(inv, hookRef) : null;
  const started = inv.clock >= 0 ? inv.clock : performance.now();
  inv.clock = -1;
  const call = inv.start(hookRef, input, context, started);
  call.span = span;
  return call;
}

/**
 * Folds a finished serial call into the invocation; returns the halt result when it blocks
 * the chain, else null. `raise` throws the block instead (violationsAsExceptions).
 */
export function endSerial(inv: Invocation, call: PluginCall, raise: boolean): HookResult | null {
  const hookRef = call.hookRef;
  const ref = hookRef.ref;
  const mode = ref.mode;
  const input = call.payload;
  const span = call.span;
  const started = call.started;
  let result: PluginResult;
  let accepted: Chained = NONE;
  let halts: boolean;
  try {
    result = checkResult(call.take(), ref.name);
    halts = blocks(result, mode);
    const mp = result.modified_payload;
    // A halting plugin's own modification is discarded (a suppressed TRANSFORM block keeps
    // it); AUDIT never modifies.
    if (mp !== undefined && mp !== null && !halts && mode !== "audit") {
      accepted = acceptModified(inv, mp, input);
    }
  } catch (error) {
    failPluginSpan(inv, span);
    handleFailure(inv, hookRef, error, started, mode === "sequential");
    return null;
  }
  const ended = performance.now();
  inv.clock = ended;
  const duration = Math.max(1, Math.round((ended - started) * 1e6));
  endPluginSpan(inv, span, result);
  inv.executed++;
  inv.absorb(hookRef, call.context, result);
  const record = newRecord(ref.identity, inv.hookName, "completed");
  record.duration_ns = duration;
  record.requested_allow = !halts;
  record.effective_allow = !halts;
  const extModified = result.modified_extensions != null;
  record.extensions_modified = extModified;
  if (accepted !== NONE) {
    inv.chained = accepted;
    inv.decisionPlugin = ref.name;
    record.payload_modified = true;
  }
  // Like its payload, a halting plugin's own extensions are discarded.
  if (extModified && !halts && mode !== "audit") inv.extensions = result.modified_extensions!;
  const matched = halts || record.payload_modified || extModified;
  record.matched = matched;
  record.applied = mode === "audit" ? extModified : matched;
  if (!halts) {
    const modified = record.payload_modified || (extModified && mode !== "audit");
    inv.meterRan(hookRef, modified ? Outcome.Modified : Outcome.Allowed, started, duration);
    inv.records.push(record);
    return null;
  }
  inv.meterRan(hookRef, Outcome.Blocked, started, duration);
  if (result.violation) inv.meters?.violation(hookRef, String(result.violation.code));
  recordViolation(record, result.violation);
  return deny(inv, record, stampViolation(result.violation, ref.name), raise);
}
