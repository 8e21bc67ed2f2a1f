/**
 * How a hook chain ends: halted by a block (`deny`) or run to completion (`finish`). Both
 * build the invocation's {@linkcode HookResult} and start its fire-and-forget plugins.
 *
 * @module
 */
import { PluginViolationError } from "../errors.ts";
import type { ExecutionRecord, PluginViolation } from "../types.ts";
import { scheduleFireAndForget } from "./fire_and_forget.ts";
import { DECISION_PLUGIN_KEY, type Invocation, PERMISSION_HOOK } from "./invocation.ts";
import { blockMessage } from "./outcome.ts";
import { truncateText } from "./records.ts";
import { HookResult } from "./result.ts";
import { NONE } from "./result_checks.ts";

/**
 * Records the blocking plugin's `record` and either throws the block (`raise`:
 * violationsAsExceptions) or returns the halt result.
 */
export function deny(
  inv: Invocation,
  record: ExecutionRecord,
  violation: PluginViolation | null,
  raise: boolean,
): HookResult {
  const name = record.plugin_name;
  inv.stoppedBy = name;
  if (raise) {
    const message = blockMessage(inv.hookName, name, violation);
    record.error_code ??= "plugin_violation";
    record.reason ??= truncateText(message);
    inv.records.push(record);
    throw new PluginViolationError(message, violation, [...inv.records]);
  }
  inv.records.push(record);
  return finish(inv, false, violation);
}

/** Builds the result, scheduling fire-and-forget plugins first. */
export function finish(
  inv: Invocation,
  allow: boolean,
  violation: PluginViolation | null,
): HookResult {
  const result = new HookResult();
  result.continue_processing = allow;
  result.violation = violation;
  const faf = inv.fireAndForget;
  if (faf.length) scheduleFireAndForget(faf, inv, result);
  if (inv.chained !== NONE) result.modified_payload = inv.chained;
  result.modified_extensions = inv.extensions;
  result.metadata = inv.metadata;
  if (inv.decisionPlugin !== null && inv.hookName === PERMISSION_HOOK) {
    result.metadata[DECISION_PLUGIN_KEY] = inv.decisionPlugin;
  }
  result.http_headers = inv.headers;
  // Kept on a halt too (the reference resets it to 0: Q3), so rate limiters work.
  result.retry_delay_ms = inv.retry;
  result.executions = inv.records;
  return result;
}
