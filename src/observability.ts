/**
 * Observability: a provider interface for spans, the null provider, and the trace id that
 * switches span emission on for a call tree.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Attributes attached to a span.
 *
 * @example
 * ```ts
 * import type { SpanAttributes } from "@cpex/core";
 * const a: SpanAttributes = { "plugin.name": "p", "plugin.priority": 10 };
 * ```
 */
export type SpanAttributes = Record<string, string | number | boolean>;

/**
 * Options of {@linkcode ObservabilityProvider.startSpan}.
 *
 * @example
 * ```ts
 * import type { StartSpanOptions } from "@cpex/core";
 * const o: StartSpanOptions = { traceId: "t1", name: "plugin.hook.invoke", kind: "internal" };
 * ```
 */
export interface StartSpanOptions {
  /** Trace the span belongs to (the current {@linkcode withTraceId} id). */
  traceId: string;
  /** Span name, e.g. `plugin.hook.invoke`. */
  name: string;
  /** Span kind, e.g. `internal`. */
  kind?: string;
  /** Type of the resource the span is about, e.g. `plugin`. */
  resourceType?: string;
  /** Name of that resource, e.g. the plugin name. */
  resourceName?: string;
  /** Initial span attributes. */
  attributes?: SpanAttributes;
  /**
   * The id `startSpan` returned for the span this one belongs to (a plugin span: its chain's
   * `plugin.hook.invoke` span), when that one is still open.
   */
  parentSpanId?: string;
}

/**
 * Receives spans from the manager. Implementations may throw: the manager swallows provider
 * errors. `startSpan` returns a span id, or null to skip `endSpan`.
 *
 * @example
 * ```ts
 * import type { ObservabilityProvider } from "@cpex/core";
 * const spans: string[] = [];
 * const provider: ObservabilityProvider = {
 *   startSpan: (o) => (spans.push(o.name), String(spans.length)),
 *   endSpan: () => {},
 * };
 * ```
 */
export interface ObservabilityProvider {
  /** Starts a span; returns its id, or `null` to skip the matching `endSpan`. */
  startSpan(options: StartSpanOptions): string | null;
  /** Ends a span started by `startSpan` with its status (`ok` by default) and extra attributes. */
  endSpan(spanId: string, status?: "ok" | "error", attributes?: SpanAttributes): void;
  /**
   * The W3C trace context headers (`traceparent`, `tracestate`) of the open span `spanId`, or
   * null. Optional: an external plugin sends them to its server so the server's spans join the
   * trace (issue 15); without it the active OpenTelemetry context is sent, if any.
   */
  traceContext?(spanId: string): Record<string, string> | null;
}

/**
 * A provider that records nothing.
 *
 * @example
 * ```ts
 * import { NullObservability } from "@cpex/core";
 * console.log(new NullObservability().startSpan({ traceId: "t", name: "n" })); // null
 * ```
 */
export class NullObservability implements ObservabilityProvider {
  /** Returns null. */
  startSpan(_options: StartSpanOptions): string | null {
    return null;
  }
  /** Does nothing. */
  endSpan(_spanId: string, _status?: "ok" | "error", _attributes?: SpanAttributes): void {}
}

const traceStorage = new AsyncLocalStorage<string>();

/**
 * Runs `fn` with `traceId` as the current trace id; hook calls made inside it (and the
 * background tasks they start) emit spans to the manager's provider.
 *
 * @example
 * ```ts
 * import { currentTraceId, withTraceId } from "@cpex/core";
 * await withTraceId("trace-1", () => {
 *   console.log(currentTraceId()); // "trace-1"
 *   return Promise.resolve();
 * });
 * ```
 */
export function withTraceId<T>(traceId: string, fn: () => T): T {
  return traceStorage.run(traceId, fn);
}

/**
 * The current trace id, or undefined outside {@linkcode withTraceId}.
 *
 * @example
 * ```ts
 * import { currentTraceId } from "@cpex/core";
 * console.log(currentTraceId()); // undefined
 * ```
 */
export function currentTraceId(): string | undefined {
  return traceStorage.getStore();
}
