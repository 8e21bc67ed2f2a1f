/**
 * An {@linkcode ObservabilityProvider} backed by the OpenTelemetry tracing API (issue 15 item 3):
 * the manager's `plugin.hook.invoke` and `plugin.execute.<name>` spans become OpenTelemetry
 * spans, with the attributes the manager sets.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { ObservabilityProvider, SpanAttributes, StartSpanOptions } from "../observability.ts";
import { injectTraceContext } from "./trace_context.ts";

/**
 * An OpenTelemetry `TracerProvider` (`@opentelemetry/api`), as any SDK's is; typed structurally
 * so the public API does not expose the OpenTelemetry types.
 *
 * @example
 * ```ts
 * import type { OtelTracerProvider } from "@cpex/core";
 * import { trace } from "@opentelemetry/api";
 * const p: OtelTracerProvider = trace.getTracerProvider();
 * ```
 */
export interface OtelTracerProvider {
  /** Returns a tracer (an OpenTelemetry `Tracer`). */
  getTracer(name: string, version?: string, options?: object): unknown;
}

/**
 * Options of {@linkcode OtelObservability}.
 *
 * @example
 * ```ts
 * import type { OtelObservabilityOptions } from "@cpex/core";
 * const o: OtelObservabilityOptions = {};
 * ```
 */
export interface OtelObservabilityOptions {
  /** Where spans go (default: the global provider, e.g. Deno's `OTEL_DENO`). */
  tracerProvider?: OtelTracerProvider;
}

interface OpenSpan {
  readonly span: Span;
  /** The context the span's children start in. */
  readonly context: Context;
}

/**
 * Turns the manager's spans into OpenTelemetry spans (tracer `@cpex/core`). A chain span is a
 * child of the caller's active span (for example the gateway's request span); each plugin span is
 * a child of its chain span (a fire-and-forget plugin's, which starts after the chain ended, of
 * the active span). Spans are emitted for calls made inside {@linkcode withTraceId}, as with
 * every provider; OpenTelemetry assigns the trace ids.
 *
 * @example
 * ```ts
 * import { OtelObservability, PluginManager, withTraceId } from "@cpex/core";
 * const manager = new PluginManager(null, { observability: new OtelObservability() });
 * await manager.initialize();
 * await withTraceId("request-1", () =>
 *   manager.invokeHook("tool_pre_invoke", { name: "t", args: {} }, { request_id: "r1" })
 * );
 * await manager.shutdown();
 * ```
 */
export class OtelObservability implements ObservabilityProvider {
  readonly #tracer: Tracer;
  readonly #open = new Map<string, OpenSpan>();
  #next = 0;

  /** Creates the provider on the given (else the global) tracer provider. */
  constructor(options: OtelObservabilityOptions = {}) {
    const provider = (options.tracerProvider ?? trace.getTracerProvider()) as TracerProvider;
    this.#tracer = provider.getTracer("@cpex/core");
  }

  /** Starts an OpenTelemetry span; returns its handle. */
  startSpan(options: StartSpanOptions): string | null {
    const attributes: Attributes = { ...options.attributes };
    if (options.resourceType) attributes["cpex.resource.type"] = options.resourceType;
    if (options.resourceName) attributes["cpex.resource.name"] = options.resourceName;
    const chain = options.parentSpanId === undefined
      ? undefined
      : this.#open.get(options.parentSpanId)?.context;
    const parent = chain ?? otelContext.active();
    const span = this.#tracer.startSpan(
      options.name,
      { kind: kindOf(options.kind), attributes },
      parent,
    );
    const id = String(++this.#next);
    this.#open.set(id, { span, context: trace.setSpan(parent, span) });
    return id;
  }

  /** The W3C trace context of the open span `spanId` (its `traceparent`), or null. */
  traceContext(spanId: string): Record<string, string> | null {
    const open = this.#open.get(spanId);
    return open ? injectTraceContext(open.context) : null;
  }

  /** Sets the final attributes and status and ends the span. */
  endSpan(spanId: string, status: "ok" | "error" = "ok", attributes?: SpanAttributes): void {
    const open = this.#open.get(spanId);
    if (!open) return;
    this.#open.delete(spanId);
    const span = open.span;
    if (attributes) span.setAttributes(attributes);
    span.setStatus({ code: status === "ok" ? SpanStatusCode.OK : SpanStatusCode.ERROR });
    span.end();
  }
}

function kindOf(kind: string | undefined): SpanKind {
  switch (kind) {
    case "client":
      return SpanKind.CLIENT;
    case "server":
      return SpanKind.SERVER;
    case "producer":
      return SpanKind.PRODUCER;
    case "consumer":
      return SpanKind.CONSUMER;
    default:
      return SpanKind.INTERNAL;
  }
}
