/**
 * A failed plugin call (exception, invalid result or timeout) in the hook chain: its record,
 * then `on_error` decides whether the failure fails the whole invocation.
 *
 * @module
 */
import { type PluginError, PluginTimeoutError } from "../errors.ts";
import type { ExecutionRecord } from "../types.ts";
import type { Invocation } from "./invocation.ts";
import { disableOnError, toPluginError } from "./outcome.ts";
import { durationNs, newRecord, truncateText } from "./records.ts";
import type { HookRef } from "./registry.ts";

/**
 * Records the failure of the call started at `started`. With `on_error: fail` it throws the
 * {@linkcode PluginError} carrying the records so far; otherwise the chain goes on (`disable`
 * turns the plugin off first). `appliedOnTimeout` marks a timed-out SEQUENTIAL call as applied.
 */
export function handleFailure(
  inv: Invocation,
  hookRef: HookRef,
  error: unknown,
  started: number,
  appliedOnTimeout: boolean,
): void {
  const ref = hookRef.ref;
  const timedOut = error instanceof PluginTimeoutError;
  const record = newRecord(ref.identity, inv.hookName, timedOut ? "timeout" : "error");
  record.duration_ns = durationNs(started);
  inv.meterFailed(hookRef, timedOut, ref.onError !== "fail", started, record.duration_ns);
  record.error_code = timedOut ? "plugin_timeout" : "plugin_error";
  const pluginError = toPluginError(error, ref.name);
  record.reason = truncateText(pluginError.message);
  if (ref.onError === "fail") {
    record.effective_allow = false;
    record.applied = true;
    inv.records.push(record);
    inv.stoppedBy = ref.name;
    (pluginError as PluginError & { executions?: ExecutionRecord[] }).executions = [
      ...inv.records,
    ];
    throw pluginError;
  }
  disableOnError(ref, inv.settings.runtimeDisabled);
  inv.executed++; // the reference counts a plugin whose failure is ignored as executed
  record.applied = timedOut && appliedOnTimeout;
  inv.records.push(record);
}
