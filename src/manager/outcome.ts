/**
 * The outcome rules of one plugin call, written once for the hook chain (the phases) and for
 * `invokeHookForPlugin` (`invoke_for_plugin.ts`): which modes may block, the violation a result
 * reports, `on_error: disable`, and the errors a block or a failure raises.
 *
 * @module
 */
import { errorRepr, PluginError, PluginTimeoutError } from "../errors.ts";
import type { PluginMode, PluginResult, PluginViolation } from "../types.ts";
import type { PluginRef } from "./registry.ts";

/**
 * True when a plugin in `mode` may halt the chain: SEQUENTIAL and CONCURRENT. A TRANSFORM or
 * AUDIT plugin that asks to block is suppressed.
 */
export function mayBlock(mode: PluginMode): boolean {
  return mode === "sequential" || mode === "concurrent";
}

/** True when `result` of a plugin in `mode` halts the chain. */
export function blocks(result: PluginResult, mode: PluginMode): boolean {
  return result.continue_processing === false && mayBlock(mode);
}

/** True when `result` asks to block but its plugin's `mode` may not (TRANSFORM, AUDIT). */
export function blockSuppressed(result: PluginResult, mode: PluginMode): boolean {
  return result.continue_processing === false && !mayBlock(mode);
}

/**
 * The plugin's violation stamped with its trusted name (a plugin cannot speak for another),
 * or null without one.
 */
export function stampViolation(
  violation: PluginViolation | null | undefined,
  name: string,
): PluginViolation | null {
  return violation ? { ...violation, plugin_name: name } as PluginViolation : null;
}

/** Applies `on_error: disable` to a failed plugin: later calls skip it. */
export function disableOnError(ref: PluginRef, runtimeDisabled: Set<string>): void {
  if (ref.onError === "disable") runtimeDisabled.add(ref.name);
}

/** The {@linkcode PluginError} an `on_error: fail` plugin's failure raises. */
export function toPluginError(error: unknown, name: string): PluginError {
  if (error instanceof PluginError) return error;
  const message = error instanceof PluginTimeoutError ? error.message : errorRepr(error);
  return new PluginError({ message, plugin_name: name }, { cause: error });
}

/** The message of the `PluginViolationError` a block raises under `violationsAsExceptions`. */
export function blockMessage(hookName: string, name: string, v: PluginViolation | null): string {
  return v
    ? `${hookName} blocked by plugin ${name}: ${v.code} - ${v.reason} (${v.description})`
    : `${hookName} blocked by plugin`;
}
