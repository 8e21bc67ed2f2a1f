/**
 * One plugin's hook run directly (`invokeHookForPlugin`, and the plugin servers behind it): no
 * conditions, runtime-disabled check, policy, global merge or records, but the same outcome
 * rules as the chain, and `on_error`.
 *
 * @module
 */
import type { PluginContext } from "../context.ts";
import { PluginTimeoutError, PluginViolationError } from "../errors.ts";
import { currentTraceId, type ObservabilityProvider } from "../observability.ts";
import { Outcome } from "../observability/metrics.ts";
import type { PluginResult } from "../types.ts";
import { CallOptions, callPlugin } from "./call.ts";
import { deepFreeze, freezeBounded } from "./freeze.ts";
import { type ExecutorSettings, pluginTimeout } from "./invocation.ts";
import {
  blockMessage,
  blocks,
  blockSuppressed,
  disableOnError,
  stampViolation,
  toPluginError,
} from "./outcome.ts";
import type { DirectMetrics } from "./plan_metrics.ts";
import type { HookRef } from "./registry.ts";
import { HookResult, markBlockSuppressed } from "./result.ts";
import { checkResult } from "./result_checks.ts";
import { endDirectSpan, startDirectSpan } from "./tracing.ts";

/**
 * Calls `hookRef` with `payload` and answers with the plugin's own result as a
 * {@linkcode HookResult}; a failure is thrown (`on_error: fail`) or answered with an empty
 * result. `raise` throws a block as a `PluginViolationError`. The call is counted in `meters`
 * and, inside {@linkcode withTraceId}, traced by `tracing` (a plugin server's spans and metrics:
 * issue 15 item 2).
 */
export async function invokeForPlugin(
  settings: ExecutorSettings,
  hookRef: HookRef,
  payload: unknown,
  context: PluginContext,
  raise: boolean,
  meters: DirectMetrics | null = null,
  tracing: ObservabilityProvider | null = null,
): Promise<HookResult> {
  const ref = hookRef.ref;
  // One walk without the WeakSet bookkeeping of deepFreeze (issue 13: on a plugin server every
  // payload is freshly decoded, so the set only grew, and its entries cost GC time); only data
  // it cannot walk (class instances, deep nesting) takes the general walk.
  if (freezeBounded(payload) === Infinity) deepFreeze(payload);
  const out = new HookResult();
  const timeout = pluginTimeout(ref, settings);
  const traceId = tracing === null ? undefined : currentTraceId();
  const span = traceId === undefined ? null : startDirectSpan(tracing!, traceId, hookRef, timeout);
  const started = meters === null ? 0 : performance.now();
  let result: PluginResult;
  try {
    const options = new CallOptions(null);
    if (span !== null) options.traced = { provider: tracing!, span };
    result = checkResult(
      await callPlugin(hookRef, payload, context, options, timeout, settings.deadlines),
      ref.name,
    );
  } catch (error) {
    if (span !== null) endDirectSpan(tracing!, span, null);
    const absorbed = ref.onError !== "fail";
    meters?.failed(error instanceof PluginTimeoutError, absorbed, elapsed(started));
    if (!absorbed) throw toPluginError(error, ref.name);
    disableOnError(ref, settings.runtimeDisabled);
    return out;
  }
  if (span !== null) endDirectSpan(tracing!, span, result);
  const halts = blocks(result, ref.mode);
  // TRANSFORM and AUDIT cannot block: their violation is dropped with the block.
  const suppressed = blockSuppressed(result, ref.mode);
  const violation = suppressed ? null : stampViolation(result.violation, ref.name);
  if (meters !== null) {
    const modified = !halts && !suppressed &&
      ((result.modified_payload != null && ref.mode !== "audit") ||
        result.modified_extensions != null);
    meters.ran(
      halts ? Outcome.Blocked : modified ? Outcome.Modified : Outcome.Allowed,
      elapsed(started),
    );
    if (halts && violation) meters.metrics.violation(meters.series, String(violation.code));
  }
  if (halts && raise) {
    throw new PluginViolationError(blockMessage(hookRef.hookName, ref.name, violation), violation);
  }
  // A suppressed TRANSFORM/AUDIT block answers as the reference's does: no metadata on the
  // wire (issue 11 item 8), no extensions, and AUDIT forwards no payload. Headers and the
  // retry hint are kept (README: item 9, Q3).
  if (suppressed) markBlockSuppressed(out);
  out.continue_processing = !halts;
  out.violation = violation;
  out.modified_payload = halts || (suppressed && ref.mode === "audit")
    ? null
    : result.modified_payload ?? null;
  out.modified_extensions = suppressed ? null : result.modified_extensions ?? null;
  out.metadata = result.metadata ?? {};
  out.http_headers = result.http_headers ?? null;
  out.retry_delay_ms = result.retry_delay_ms ?? 0;
  return out;
}

/** Seconds since `started` (a `performance.now()` time). */
function elapsed(started: number): number {
  return (performance.now() - started) / 1000;
}
