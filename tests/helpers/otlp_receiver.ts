/**
 * A real OTLP/HTTP receiver for the OpenTelemetry export tests (issue 15): listens on loopback
 * (port 0), accepts the `http/json` encoding Deno 2.9's built-in OpenTelemetry sends (the
 * protobuf JSON mapping of the official OTLP definitions), keeps every export by signal, and
 * reads points and spans back, optionally only those of one `service.name`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HOOK } from "./otel_plugins.ts";

/** An OTLP attribute. */
export interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** One data point: its attributes and value (a histogram's: its count). */
export interface Point {
  attributes: Record<string, unknown>;
  value: number;
}

/** One exported span (the fields the tests read). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes: KeyValue[];
  status?: { code?: number };
}

/** OTLP attributes as a plain record. */
export function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) out[key] = Object.values(value)[0];
  return out;
}

// deno-lint-ignore no-explicit-any
function serviceOf(resource: any): unknown {
  return attrs(resource?.attributes)["service.name"];
}

/** An OTLP/HTTP JSON receiver that keeps every request body by signal. */
export class Receiver {
  readonly metrics: unknown[] = [];
  readonly traces: unknown[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.json();
      const path = new URL(req.url).pathname;
      if (path === "/v1/metrics") this.metrics.push(body);
      else if (path === "/v1/traces") this.traces.push(body);
      return Response.json({});
    });
  }

  /** The endpoint for OTEL_EXPORTER_OTLP_ENDPOINT. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /**
   * The points of metric `name` (scope `@cpex/core`) in the latest export that has it
   * (cumulative temporality), of `service` only when given.
   */
  points(name: string, service?: string): Point[] {
    for (let i = this.metrics.length - 1; i >= 0; i--) {
      const found: Point[] = [];
      // deno-lint-ignore no-explicit-any
      for (const rm of (this.metrics[i] as any).resourceMetrics ?? []) {
        if (service !== undefined && serviceOf(rm.resource) !== service) continue;
        for (const sm of rm.scopeMetrics ?? []) {
          if (sm.scope?.name !== "@cpex/core") continue;
          for (const m of sm.metrics ?? []) {
            if (m.name !== name) continue;
            const data = m.sum ?? m.histogram;
            if (m.sum) assert.equal(m.sum.isMonotonic, true, `${name} is a counter`);
            for (const dp of data.dataPoints) {
              const value = Number(m.sum ? (dp.asInt ?? dp.asDouble) : dp.count);
              found.push({ attributes: attrs(dp.attributes), value });
            }
          }
        }
      }
      if (found.length) return found;
    }
    return [];
  }

  /**
   * Every span of `scope` (default `@cpex/core`; null: any) received so far, of `service` only
   * when given.
   */
  spans(service?: string, scope: string | null = "@cpex/core"): OtlpSpan[] {
    const out: OtlpSpan[] = [];
    for (const body of this.traces) {
      // deno-lint-ignore no-explicit-any
      for (const rs of (body as any).resourceSpans ?? []) {
        if (service !== undefined && serviceOf(rs.resource) !== service) continue;
        for (const ss of rs.scopeSpans ?? []) {
          if (scope === null || ss.scope?.name === scope) out.push(...ss.spans);
        }
      }
    }
    return out;
  }

  /** Stops listening. */
  close(): Promise<void> {
    return this.#server.shutdown();
  }
}

/** The value of the one point with exactly `attributes` (0 when none). */
export function valueOf(list: Point[], attributes: Record<string, string>): number {
  const found = list.filter((p) =>
    Object.keys(p.attributes).length === Object.keys(attributes).length &&
    Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)
  );
  assert.ok(found.length <= 1, `one point for ${JSON.stringify(attributes)}`);
  return found[0]?.value ?? 0;
}

/** The sum of the points' values. */
export function total(list: Point[]): number {
  return list.reduce((sum, p) => sum + p.value, 0);
}

/**
 * Asserts the metric points the guard plugins of `otel_plugins.ts` record for their six calls
 * (`CALLS`), as exported by `service` (any service when omitted): exact call counts by outcome,
 * the violation, the two absorbed failures and the duration counts.
 */
export function assertGuardPoints(receiver: Receiver, service?: string): void {
  const calls = receiver.points("cpex.plugin.calls", service);
  const c = (plugin: string, outcome: string) =>
    valueOf(calls, { plugin, hook: HOOK, mode: "sequential", outcome });
  assert.equal(c("guard", "allowed"), 5);
  assert.equal(c("guard", "blocked"), 1);
  assert.equal(c("flaky", "allowed"), 4);
  assert.equal(c("flaky", "error"), 1);
  assert.equal(c("slow", "allowed"), 4);
  assert.equal(c("slow", "timeout"), 1);
  assert.equal(calls.length, 6);
  assert.deepEqual(receiver.points("cpex.plugin.violations", service), [
    { attributes: { plugin: "guard", hook: HOOK, code: "DENY_DELETE" }, value: 1 },
  ]);
  const failOpen = receiver.points("cpex.plugin.fail_open", service);
  assert.equal(valueOf(failOpen, { plugin: "flaky", hook: HOOK }), 1);
  assert.equal(valueOf(failOpen, { plugin: "slow", hook: HOOK }), 1);
  assert.equal(failOpen.length, 2);
  const durations = receiver.points("cpex.plugin.duration", service);
  assert.equal(valueOf(durations, { plugin: "guard", hook: HOOK }), 6);
  assert.equal(valueOf(durations, { plugin: "flaky", hook: HOOK }), 5);
  assert.equal(valueOf(durations, { plugin: "slow", hook: HOOK }), 5);
}
