/**
 * W3C trace context across the wire (issue 15 item 3): the gateway writes `traceparent` (and
 * `tracestate`) into gRPC metadata and into the MCP request's `_meta`; a plugin server reads
 * them back so its spans join the gateway's trace. Both sides go through the OpenTelemetry
 * propagation API, so the registered propagator decides the format (Deno's built-in
 * OpenTelemetry, `OTEL_DENO=true`, registers W3C trace context); with no SDK nothing is written
 * and nothing costs more than a no-op call.
 *
 * @module
 */
import {
  type Context,
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  trace,
} from "@opentelemetry/api";

/** Trace context headers: `traceparent` and, when set, `tracestate` (lower-case names). */
export type TraceCarrier = Record<string, string>;

/** The names a trace context is carried under on the wire (W3C trace context). */
export const TRACE_CONTEXT_KEYS: readonly string[] = Object.freeze(["traceparent", "tracestate"]);

/** Longest `traceparent`/`tracestate` value read from the wire (W3C: 55 and 512 characters). */
const MAX_VALUE = 1024;

/**
 * The trace context of `ctx` (default: the active one) as headers; null when it holds no span
 * or the registered propagator (none without an SDK) writes no `traceparent`.
 */
export function injectTraceContext(ctx: Context = otelContext.active()): TraceCarrier | null {
  if (trace.getSpanContext(ctx) === undefined) return null;
  const carrier: TraceCarrier = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent === undefined ? null : carrier;
}

/**
 * The trace context headers of an untrusted record (gRPC metadata values, MCP `_meta`): only
 * string `traceparent`/`tracestate` values of bounded length are kept; null when there is no
 * `traceparent`.
 */
export function readTraceCarrier(
  get: (key: string) => unknown,
): TraceCarrier | null {
  const parent = get("traceparent");
  if (typeof parent !== "string" || parent.length > MAX_VALUE) return null;
  const carrier: TraceCarrier = { traceparent: parent };
  const state = get("tracestate");
  if (typeof state === "string" && state.length <= MAX_VALUE) carrier.tracestate = state;
  return carrier;
}

/**
 * The context a server's work runs in for a call that carried `carrier`: the remote span as
 * parent. Null when the propagator finds no valid span in it (a malformed header is ignored).
 */
export function extractTraceContext(carrier: TraceCarrier): Context | null {
  const ctx = propagation.extract(ROOT_CONTEXT, carrier);
  return trace.getSpanContext(ctx) === undefined ? null : ctx;
}

/** The trace id (32 hex digits) of `ctx`'s span. */
export function traceIdOf(ctx: Context): string | undefined {
  return trace.getSpanContext(ctx)?.traceId;
}

/** Runs `fn` with `ctx` active (OpenTelemetry spans started inside are its children). */
export function runInContext<T>(ctx: Context, fn: () => T): T {
  return otelContext.with(ctx, fn);
}
