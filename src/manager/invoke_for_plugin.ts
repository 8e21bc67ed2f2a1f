/**
 * One plugin's hook run directly (`invokeHookForPlugin`, and the plugin servers behind it): no
 * conditions, runtime-disabled check, policy, global merge or records, but the same outcome
 * rules as the chain, and `on_error`.
 *
 * @module
 */
import type { PluginContext } from "../context.ts";
import { PluginViolationError } from "../errors.ts";
import type { PluginResult } from "../types.ts";
import { CallOptions, callPlugin } from "./call.ts";
import { deepFreeze } from "./freeze.ts";
import { type ExecutorSettings, pluginTimeout } from "./invocation.ts";
import {
  blockMessage,
  blocks,
  blockSuppressed,
  disableOnError,
  stampViolation,
  toPluginError,
} from "./outcome.ts";
import type { HookRef } from "./registry.ts";
import { HookResult, markBlockSuppressed } from "./result.ts";
import { checkResult } from "./result_checks.ts";

/**
 * Calls `hookRef` with `payload` and answers with the plugin's own result as a
 * {@linkcode HookResult}; a failure is thrown (`on_error: fail`) or answered with an empty
 * result. `raise` throws a block as a `PluginViolationError`.
 */
export async function invokeForPlugin(
  settings: ExecutorSettings,
  hookRef: HookRef,
  payload: unknown,
  context: PluginContext,
  raise: boolean,
): Promise<HookResult> {
  const ref = hookRef.ref;
  deepFreeze(payload);
  const out = new HookResult();
  let result: PluginResult;
  try {
    result = checkResult(
      await callPlugin(
        hookRef,
        payload,
        context,
        new CallOptions(null),
        pluginTimeout(ref, settings),
        settings.deadlines,
      ),
      ref.name,
    );
  } catch (error) {
    if (ref.onError === "fail") throw toPluginError(error, ref.name);
    disableOnError(ref, settings.runtimeDisabled);
    return out;
  }
  const halts = blocks(result, ref.mode);
  // TRANSFORM and AUDIT cannot block: their violation is dropped with the block.
  const suppressed = blockSuppressed(result, ref.mode);
  const violation = suppressed ? null : stampViolation(result.violation, ref.name);
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
