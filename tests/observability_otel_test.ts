/**
 * The OpenTelemetry-backed provider and logger (issue 15 items 3 and 4) through a real
 * PluginManager: spans with the manager's attributes and parentage, error status, and warnings
 * emitted as log records as well as (optionally) to stderr. The providers here are small real
 * implementations of the OpenTelemetry API interfaces that record what they receive.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Attributes,
  type Context,
  context,
  type ContextManager,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Logger, LoggerProvider, LogRecord } from "@opentelemetry/api-logs";
import { otelLogger, OtelObservability, parseConfig, PluginManager, withTraceId } from "../mod.ts";
import { FnPlugin, gctx } from "./helpers/context_plugins.ts";

let nextId = 1;

class RecordingSpan implements Span {
  readonly attributes: Attributes;
  status: SpanStatus = { code: 0 };
  ended = false;
  readonly #context: SpanContext;
  constructor(readonly name: string, options: SpanOptions, readonly parent: RecordingSpan | null) {
    this.attributes = { ...options.attributes };
    this.#context = {
      traceId: parent?.spanContext().traceId ?? "0af7651916cd43dd8448eb211c80319c",
      spanId: (nextId++).toString(16).padStart(16, "0"),
      traceFlags: 1,
    };
  }
  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(key: string, value: string | number | boolean): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {
    this.ended = true;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(): void {}
}

class RecordingTracerProvider implements TracerProvider {
  readonly spans: RecordingSpan[] = [];
  getTracer(): Tracer {
    const spans = this.spans;
    const start = (name: string, options: SpanOptions = {}, context?: Context): Span => {
      const parent = context ? trace.getSpan(context) : undefined;
      const span = new RecordingSpan(name, options, (parent as RecordingSpan) ?? null);
      spans.push(span);
      return span;
    };
    return {
      startSpan: start,
      startActiveSpan: (() => {
        throw new Error("not used");
      }) as Tracer["startActiveSpan"],
    };
  }
}

const HOOK = "tool_pre_invoke";

Deno.test("OtelObservability turns the chain and plugin spans into OpenTelemetry spans", async () => {
  const provider = new RecordingTracerProvider();
  const manager = new PluginManager(null, {
    observability: new OtelObservability({ tracerProvider: provider }),
    metrics: null,
  });
  await manager.initialize();
  await manager.registerPlugin(new FnPlugin({ name: "ok", kind: "inline", hooks: [HOOK] }));
  await manager.registerPlugin(
    new FnPlugin(
      { name: "bad", kind: "inline", hooks: [HOOK], priority: 200, on_error: "ignore" },
      () => {
        throw new Error("boom");
      },
    ),
  );
  try {
    await withTraceId("t1", () => manager.invokeHook(HOOK, { name: "x", args: {} }, gctx()));
  } finally {
    await manager.shutdown();
  }
  const [chain, ok, bad] = provider.spans;
  assert.deepEqual(provider.spans.map((s) => s.name), [
    "plugin.hook.invoke",
    "plugin.execute.ok",
    "plugin.execute.bad",
  ]);
  assert.equal(chain.parent, null);
  assert.equal(ok.parent, chain);
  assert.equal(bad.parent, chain);
  assert.ok(provider.spans.every((s) => s.ended));
  assert.equal(chain.attributes["plugin.hook.type"], HOOK);
  assert.equal(chain.attributes["plugin.chain.length"], 2);
  assert.equal(chain.attributes["plugin.executed_count"], 2);
  assert.equal(ok.attributes["plugin.name"], "ok");
  assert.equal(ok.attributes["plugin.mode"], "sequential");
  assert.equal(ok.attributes["cpex.resource.type"], "plugin");
  assert.equal(ok.attributes["plugin.had_violation"], false);
  assert.equal(ok.status.code, 1, "OK");
  assert.equal(bad.status.code, 2, "ERROR");
});

Deno.test("concurrent chains under one trace id each parent their own plugin spans", async () => {
  const provider = new RecordingTracerProvider();
  const manager = new PluginManager(null, {
    observability: new OtelObservability({ tracerProvider: provider }),
    metrics: null,
  });
  await manager.initialize();
  const gates: Array<() => void> = [];
  await manager.registerPlugin(
    new FnPlugin(
      { name: "wait", kind: "inline", hooks: [HOOK] },
      () => new Promise((resolve) => gates.push(() => resolve({}))),
    ),
  );
  try {
    await withTraceId("shared", async () => {
      const first = manager.invokeHook(HOOK, { name: "a", args: {} }, gctx());
      const second = manager.invokeHook(HOOK, { name: "b", args: {} }, gctx());
      while (gates.length < 2) await new Promise((r) => setTimeout(r, 1));
      for (const open of gates) open();
      await Promise.all([first, second]);
    });
  } finally {
    await manager.shutdown();
  }
  const chains = provider.spans.filter((s) => s.name === "plugin.hook.invoke");
  const plugins = provider.spans.filter((s) => s.name === "plugin.execute.wait");
  assert.equal(chains.length, 2);
  assert.equal(plugins.length, 2);
  // Both chains were open when both plugin spans started: each has its own chain as parent.
  assert.deepEqual(new Set(plugins.map((s) => s.parent)), new Set(chains));
});

/** A context manager over AsyncLocalStorage, as an OpenTelemetry SDK installs one. */
class StorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

Deno.test("OtelObservability parents the chain span on the caller's active span", async () => {
  const provider = new RecordingTracerProvider();
  const manager = new PluginManager(null, {
    observability: new OtelObservability({ tracerProvider: provider }),
    metrics: null,
  });
  await manager.initialize();
  await manager.registerPlugin(new FnPlugin({ name: "ok", kind: "inline", hooks: [HOOK] }));
  assert.ok(context.setGlobalContextManager(new StorageContextManager()));
  const request = new RecordingSpan("gateway.request", {}, null);
  try {
    await context.with(
      trace.setSpan(ROOT_CONTEXT, request),
      () => withTraceId("t2", () => manager.invokeHook(HOOK, { name: "x", args: {} }, gctx())),
    );
  } finally {
    context.disable();
    await manager.shutdown();
  }
  const [chain, ok] = provider.spans;
  assert.equal(chain.parent, request);
  assert.equal(ok.parent, chain);
  assert.equal(ok.spanContext().traceId, request.spanContext().traceId);
});

class RecordingLoggerProvider implements LoggerProvider {
  readonly records: Array<{ logger: string; record: LogRecord }> = [];
  getLogger(name: string): Logger {
    return { emit: (record) => void this.records.push({ logger: name, record }) };
  }
}

Deno.test("otelLogger emits the manager's warnings as WARN log records, with stderr optional", async () => {
  const logs = new RecordingLoggerProvider();
  const manager = new PluginManager(
    parseConfig({ plugins: [{ name: "missing", kind: "./no/such/plugin.ts", hooks: [HOOK] }] }),
    {
      logger: otelLogger({ loggerProvider: logs, stderr: false }),
      metrics: null,
      failOnPluginError: false, // skip and warn (the default fails closed)
    },
  );
  await manager.initialize();
  await manager.shutdown();
  // The skip warning, then the "N of M plugins loaded" line (issue 12).
  assert.equal(logs.records.length, 2);
  const { logger, record } = logs.records[0];
  assert.equal(logger, "@cpex/core");
  assert.equal(record.severityText, "WARN");
  assert.equal(record.severityNumber, 13);
  assert.match(String(record.body), /Skipping plugin missing/);
  assert.match(String(logs.records[1].record.body), /^0 of 1 plugins loaded/);
});
