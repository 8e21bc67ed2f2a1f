/**
 * Runs a differential-suite scenario through our `PluginManager`, producing the outcome shape
 * of the reference driver (`manager_driver.py`).
 *
 * @module
 */
import {
  type ExecutionRecord,
  type GlobalContext,
  type PluginContext,
  type PluginContextTable,
  PluginError,
  PluginManager,
  PluginViolationError,
} from "../../mod.ts";
import { executorOf } from "../../src/manager/manager.ts";
import { withTraceId } from "../../src/observability.ts";
import type { ObservabilityProvider, SpanAttributes, StartSpanOptions } from "../../mod.ts";
import { BehaviourPlugin, type TraceEvent } from "./behaviour_plugin.ts";
import { KIND, type Scenario } from "./scenario_gen.ts";

/** A recorded span. */
export interface SpanRecord {
  name: string;
  status: string | null;
  attributes: Record<string, unknown>;
  end?: Record<string, unknown>;
}

class Spans implements ObservabilityProvider {
  spans: SpanRecord[] = [];
  startSpan(options: StartSpanOptions): string | null {
    this.spans.push({ name: options.name, status: null, attributes: { ...options.attributes } });
    return String(this.spans.length - 1);
  }
  endSpan(spanId: string, status: "ok" | "error" = "ok", attributes?: SpanAttributes): void {
    const span = this.spans[Number(spanId)];
    span.status = status;
    span.end = { ...attributes };
  }
}

// deno-lint-ignore no-explicit-any
type Json = any;

function clone<T>(value: T): T {
  return value === undefined || value === null ? value : JSON.parse(JSON.stringify(value));
}

const RECORD_KEYS = [
  "plugin_name",
  "mode",
  "status",
  "requested_allow",
  "effective_allow",
  "matched",
  "applied",
  "payload_modified",
  "error_code",
  "reason",
] as const;

function recordsOf(executions: ExecutionRecord[] | null | undefined): Json[] {
  return (executions ?? []).map((r) => {
    const out: Record<string, unknown> = {};
    for (const k of RECORD_KEYS) out[k] = (r as unknown as Record<string, unknown>)[k] ?? null;
    return out;
  });
}

function errorOf(error: unknown): Json {
  const e = error as Error;
  const out: Json = { type: e?.name ?? typeof error, message: e?.message ?? String(error) };
  if (error instanceof PluginError) {
    out.plugin_name = error.error.plugin_name;
    out.message = error.error.message;
  }
  if (error instanceof PluginViolationError) {
    out.violation = clone(error.violation);
    out.records = recordsOf(error.executions);
  }
  return out;
}

const quiet = { warn: () => {} };

/** Replaces strings longer than 1,000 code points by `<str:N>` (big-payload scenarios). */
function shrink(value: Json): Json {
  if (typeof value === "string") {
    if (value.length <= 1000) return value;
    const n = [...value].length;
    return n > 1000 ? `<str:${n}>` : value;
  }
  if (Array.isArray(value)) return value.map(shrink);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shrink(v)]));
  }
  return value;
}

/** Runs `scenario` (its YAML already written to `yamlPath`) through our manager. */
export async function runOurs(scenario: Scenario, yamlPath: string): Promise<Json> {
  const spans = new Spans();
  const out: Json = { load_error: null, calls: [] };
  const manager = new PluginManager(yamlPath, {
    timeout: scenario.timeout,
    observability: spans,
    pluginKinds: { [KIND]: BehaviourPlugin },
    hookPolicies: scenario.policies
      ? Object.fromEntries(
        Object.entries(scenario.policies).map(([h, f]) => [h, { writable_fields: new Set(f) }]),
      )
      : undefined,
    defaultHookPolicy: scenario.default_policy ?? undefined,
    logger: quiet,
  });
  try {
    await manager.initialize();
  } catch (error) {
    out.load_error = { type: (error as Error).name, message: String(error).slice(0, 300) };
    await manager.shutdown();
    return out;
  }
  const sink: TraceEvent[] = [];
  const names = (manager.config?.plugins ?? []).map((p) => p.name);
  for (const name of names) {
    const plugin = manager.getPlugin(name);
    if (plugin instanceof BehaviourPlugin) plugin.sink = sink;
  }
  out.loaded = names.filter((n) => manager.getPlugin(n) !== null);
  const requests: Record<string, { gc: GlobalContext; contexts: PluginContextTable | null }> = {};
  try {
    for (const [i, call] of scenario.calls.entries()) {
      let r = requests[call.request];
      if (!r) {
        const spec = scenario.requests[call.request];
        r = requests[call.request] = {
          gc: { ...structuredClone(spec), state: {}, metadata: {} } as GlobalContext,
          contexts: null,
        };
      }
      const gc = r.gc;
      gc.metadata!._call = i;
      sink.length = 0;
      const spanMark = spans.spans.length;
      const entry: Json = { input: clone(call.payload) };
      let contexts: PluginContextTable | null = null;
      try {
        const [result, table] = await withTraceId(
          "conformance-trace",
          () =>
            manager.invokeHook(call.hook, clone(call.payload) as never, gc, {
              localContexts: call.pass_contexts ? r.contexts : null,
              violationsAsExceptions: call.raise,
            }),
        );
        const bg = await result.waitForBackgroundTasks();
        entry.result = {
          continue_processing: result.continue_processing,
          violation: clone(result.violation),
          modified_payload: clone(result.modified_payload),
          metadata: clone(result.metadata),
          retry_delay_ms: result.retry_delay_ms,
          http_headers: clone(result.http_headers),
          records: recordsOf(result.executions),
          background_errors: bg.map((e) => ({ plugin_name: e.plugin_name, message: e.message })),
        };
        contexts = table;
        if (table !== null) r.contexts = table;
      } catch (error) {
        entry.error = errorOf(error);
      }
      // Aborted plugins settle on their signal; give them a tick so their late events land now.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const byCtx = new Map<PluginContext, string>();
      for (const ev of sink) byCtx.set(ev.ctx, ev.plugin);
      if (contexts !== null) {
        entry.contexts = Object.fromEntries(
          Object.values(contexts).map((c) => [byCtx.get(c) ?? "?", { state: clone(c.state) }]),
        );
      }
      entry.trace = sink.map(({ ctx: _ctx, ...ev }) => clone(ev));
      entry.global_state = clone(gc.state ?? {});
      entry.global_metadata = clone(gc.metadata ?? {});
      entry.disabled = [...executorOf(manager).runtimeDisabled].sort();
      entry.spans = clone(spans.spans.slice(spanMark));
      out.calls.push(shrink(entry));
    }
  } finally {
    await manager.shutdown();
  }
  return out;
}
