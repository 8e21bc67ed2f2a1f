/**
 * The spans of a hook invocation: one `plugin.hook.invoke` span per traced invocation and one
 * `plugin.execute.<name>` span per plugin call. Every span that starts ends (Q7), and a failing
 * provider never breaks a hook call.
 *
 * @module
 */
import type { ObservabilityProvider, SpanAttributes, StartSpanOptions } from "../observability.ts";
import type { PluginResult } from "../types.ts";
import { type Invocation, pluginTimeout } from "./invocation.ts";
import type { HookPlan, HookRef } from "./registry.ts";

/** Starts a span; null when the provider throws. */
function safeStart(
  provider: ObservabilityProvider,
  options: Parameters<ObservabilityProvider["startSpan"]>[0],
): string | null {
  try {
    return provider.startSpan(options);
  } catch {
    return null;
  }
}

/** Ends a span (null: nothing to end), ignoring a throwing provider. */
function safeEnd(
  provider: ObservabilityProvider,
  span: string | null,
  status: "ok" | "error",
  attributes?: SpanAttributes,
): void {
  if (span === null) return;
  try {
    provider.endSpan(span, status, attributes);
  } catch {
    // A failing provider never breaks a hook call.
  }
}

/** Starts the span of a whole invocation of `plan`. */
export function startHookSpan(
  provider: ObservabilityProvider,
  traceId: string,
  plan: HookPlan,
): string | null {
  return safeStart(provider, {
    traceId,
    name: "plugin.hook.invoke",
    kind: "internal",
    attributes: { "plugin.hook.type": plan.hookName, "plugin.chain.length": plan.all.length },
  });
}

/** Ends the invocation span with the chain's counts. */
export function endHookSpan(inv: Invocation, span: string | null, status: "ok" | "error"): void {
  safeEnd(inv.tracing!, span, status, {
    "plugin.executed_count": inv.executed,
    "plugin.skipped_count": inv.skipped,
    "plugin.chain.stopped": inv.stoppedBy !== "",
    "plugin.chain.stopped_by": inv.stoppedBy,
  });
}

/** The span of one plugin call: the same name and attributes in a gateway and in a server. */
function pluginSpan(
  traceId: string,
  hookRef: HookRef,
  kind: "internal" | "server",
  timeout: number,
): StartSpanOptions {
  const ref = hookRef.ref;
  const attributes: Record<string, string | number> = {
    "plugin.name": ref.name,
    "plugin.uuid": ref.uuid,
    "plugin.mode": ref.mode,
    "plugin.priority": ref.priority,
    "plugin.timeout": timeout,
  };
  if (kind === "server") attributes["plugin.hook.type"] = hookRef.hookName;
  return {
    traceId,
    name: `plugin.execute.${ref.name}`,
    kind,
    resourceType: "plugin",
    resourceName: ref.name,
    attributes,
  };
}

/** Starts the span of one plugin call of a traced invocation (`inv.tracing` is set). */
export function startPluginSpan(inv: Invocation, hookRef: HookRef): string | null {
  const options = pluginSpan(
    inv.traceId,
    hookRef,
    "internal",
    pluginTimeout(hookRef.ref, inv.settings),
  );
  // Fire-and-forget calls start after the chain span ended: no parent to name.
  if (inv.hookSpan !== null) options.parentSpanId = inv.hookSpan;
  // The call starts right after (synchronously): it takes the span for its trace context.
  return inv.callSpan = safeStart(inv.tracing!, options);
}

/**
 * Starts the span of a direct call (`invokeHookForPlugin`: a plugin server's calls) in trace
 * `traceId`; its parent is the active OpenTelemetry context (a remote gateway's span).
 */
export function startDirectSpan(
  provider: ObservabilityProvider,
  traceId: string,
  hookRef: HookRef,
  timeout: number,
): string | null {
  return safeStart(provider, pluginSpan(traceId, hookRef, "server", timeout));
}

/** Ends a direct call's span (null: untraced); `result` null for a failed call. */
export function endDirectSpan(
  provider: ObservabilityProvider,
  span: string | null,
  result: PluginResult | null,
): void {
  if (span === null) return;
  if (result === null) safeEnd(provider, span, "error");
  else {
    safeEnd(provider, span, "ok", {
      "plugin.had_violation": !!result.violation,
      "plugin.modified_payload": result.modified_payload != null,
    });
  }
}

/** Ends a plugin span "ok" with what the result reports (null span: untraced). */
export function endPluginSpan(inv: Invocation, span: string | null, result: PluginResult): void {
  if (span === null) return;
  safeEnd(inv.tracing!, span, "ok", {
    "plugin.had_violation": !!result.violation,
    "plugin.modified_payload": result.modified_payload != null,
  });
}

/** Ends a plugin span "error": the call failed or will never be processed. */
export function failPluginSpan(inv: Invocation, span: string | null): void {
  if (span !== null) safeEnd(inv.tracing!, span, "error");
}
