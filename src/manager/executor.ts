/**
 * The executor: runs one hook's plan through the phases SEQUENTIAL → TRANSFORM → AUDIT →
 * CONCURRENT → FIRE_AND_FORGET, and one plugin's hook directly. The phases, their rules and
 * their records, spans and checks live in the files this one imports.
 *
 * @module
 */
import type { PluginContext, PluginContextTable } from "../context.ts";
import { PayloadSizeError, PluginViolationError } from "../errors.ts";
import { currentTraceId, type ObservabilityProvider } from "../observability.ts";
import type { CpexMetrics } from "../observability/metrics.ts";
import type { DefaultHookPolicy, Extensions, GlobalContext, HookPayloadPolicy } from "../types.ts";
import { finish } from "./chain_end.ts";
import { runConcurrent } from "./concurrent_phase.ts";
import { DeadlineQueue } from "./deadlines.ts";
import { deepFreeze, freezeBounded } from "./freeze.ts";
import { type ExecutorSettings, Invocation } from "./invocation.ts";
import { invokeForPlugin } from "./invoke_for_plugin.ts";
import { payloadSizeError } from "./payload_size.ts";
import { PlanMetricsCache } from "./plan_metrics.ts";
import type { HookPlan, HookRef } from "./registry.ts";
import { HookResult } from "./result.ts";
import type { PayloadValidator } from "./result_checks.ts";
import { endSerial, startSerial } from "./serial_phase.ts";
import { TICK } from "./call.ts";
import { endHookSpan, startHookSpan } from "./tracing.ts";

/** The options of a call without any (shared: not allocated per call). */
const NO_OPTIONS: InvokeOptions = Object.freeze({});

/** The reference's payload size limit, in characters. */
export const MAX_PAYLOAD_SIZE = 1_000_000;

/**
 * Settings of a {@linkcode PluginExecutor}.
 */
export interface ExecutorOptions {
  /** Default per-plugin timeout in seconds (30). */
  timeout?: number;
  /** Per-hook payload policies. */
  hookPolicies?: Record<string, HookPayloadPolicy>;
  /** Policy for hooks without an explicit one (`allow`). */
  defaultHookPolicy?: DefaultHookPolicy;
  /** Span receiver. */
  observability?: ObservabilityProvider | null;
  /** Where calls are counted and timed (null: nowhere). */
  metrics?: CpexMetrics | null;
  /** Bound on concurrent CONCURRENT / FIRE_AND_FORGET calls per invocation (10; 0 = none). */
  executionPool?: number;
  /** Payload size limit in characters (1,000,000). */
  maxPayloadSize?: number;
  /** Validates accepted modified payloads (built-in and registered custom hooks). */
  validatePayload?: PayloadValidator;
  /** True for hooks whose modified payload has another type than the input (http hooks). */
  isCrossType?: (hookName: string) => boolean;
  /**
   * Checks the input payload once per invocation before any plugin runs (throws to reject), so
   * junk gets the same answer in-process as over the wire (issue 12).
   */
  checkInput?: (hookName: string, payload: unknown) => void;
}

/**
 * Options of one hook invocation.
 *
 * @example
 * ```ts
 * import type { InvokeOptions } from "@cpex/core";
 * const o: InvokeOptions = { violationsAsExceptions: true };
 * ```
 */
export interface InvokeOptions {
  /** The context table returned by the previous hook of the same request. */
  localContexts?: PluginContextTable | null;
  /** Throw {@linkcode PluginViolationError} instead of returning a blocking result. */
  violationsAsExceptions?: boolean;
  /** Extensions handed (capability-filtered) to every plugin. */
  extensions?: Extensions | null;
}

/**
 * Runs hook plans. One executor belongs to one manager; its runtime-disabled set persists
 * across invocations until {@linkcode PluginExecutor.resetRuntimeDisabled}.
 */
export class PluginExecutor implements ExecutorSettings {
  /** Default per-plugin timeout in seconds. */
  timeout: number;
  /** Per-hook payload policies. */
  hookPolicies: Record<string, HookPayloadPolicy>;
  /** Policy for hooks without an explicit one. */
  defaultHookPolicy: DefaultHookPolicy;
  /** Span receiver, or null. */
  observability: ObservabilityProvider | null;
  /** Bound on parallel calls per invocation (0 = none). */
  executionPool: number;
  /** Payload size limit in characters. */
  maxPayloadSize: number;
  /** Names of plugins disabled by `on_error: disable`. */
  readonly runtimeDisabled: Set<string> = new Set();
  /** Validates accepted modified payloads, if set. */
  readonly validatePayload: PayloadValidator | undefined;
  /** True for hooks whose modified payload has another type than the input. */
  readonly isCrossType: (hookName: string) => boolean;
  /** Checks the input payload once per invocation, if set. */
  readonly checkInput: ((hookName: string, payload: unknown) => void) | undefined;
  /** The deadline timer shared by every call of this executor. */
  readonly deadlines: DeadlineQueue = new DeadlineQueue();
  readonly #meters: PlanMetricsCache;

  /** Creates an executor. */
  constructor(options: ExecutorOptions = {}) {
    this.timeout = options.timeout ?? 30;
    this.hookPolicies = options.hookPolicies ?? {};
    this.defaultHookPolicy = options.defaultHookPolicy ?? "allow";
    this.observability = options.observability ?? null;
    this.executionPool = options.executionPool ?? 10;
    this.maxPayloadSize = options.maxPayloadSize ?? MAX_PAYLOAD_SIZE;
    this.validatePayload = options.validatePayload;
    this.isCrossType = options.isCrossType ?? (() => false);
    this.checkInput = options.checkInput;
    this.#meters = new PlanMetricsCache(options.metrics ?? null);
  }

  /** Where calls are counted and timed, or null. */
  get metrics(): CpexMetrics | null {
    return this.#meters.metrics;
  }

  /** Replaces the metrics. */
  set metrics(metrics: CpexMetrics | null) {
    this.#meters.metrics = metrics;
  }

  /** Clears the shared deadline timer (in-flight calls lose their deadline). */
  close(): void {
    this.deadlines.close();
  }

  /** Re-enables every plugin disabled at runtime. */
  resetRuntimeDisabled(): Promise<void> {
    this.runtimeDisabled.clear();
    return Promise.resolve();
  }

  /**
   * Runs `plan` for `payload`. Returns the aggregated result and the context table of the
   * plugins that ran (null when the hook has no plugins).
   */
  execute(
    plan: HookPlan | null,
    payload: unknown,
    global: GlobalContext,
    options: InvokeOptions = NO_OPTIONS,
  ): Promise<[HookResult, PluginContextTable | null]> {
    if (!plan || plan.all.length === 0) return Promise.resolve([new HookResult(), null]);
    let inv: Invocation;
    try {
      inv = this.#start(plan, payload, global, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const raise = options.violationsAsExceptions === true;
    const provider = this.observability;
    const traceId = provider ? currentTraceId() : undefined;
    // Untraced, the chain's own async function is the only one (issue 13: no frame per layer).
    if (!provider || traceId === undefined) return run(plan, inv, raise);
    return traced(plan, inv, raise, provider, traceId);
  }

  /** Freezes and checks the input, and makes the invocation; throws what rejects the call. */
  #start(
    plan: HookPlan,
    payload: unknown,
    global: GlobalContext,
    options: InvokeOptions,
  ): Invocation {
    // One walk freezes the payload and bounds its size; the exact count (C3) runs only when
    // the bound passes the limit (issue 13).
    if (freezeBounded(payload) > this.maxPayloadSize) {
      const tooLarge = payloadSizeError(plan.hookName, payload, this.maxPayloadSize);
      if (tooLarge !== null) throw new PayloadSizeError(tooLarge);
      deepFreeze(payload);
    }
    this.checkInput?.(plan.hookName, payload);
    if (options.extensions) deepFreeze(options.extensions);
    const inv = new Invocation(
      this,
      plan,
      plan.hookName,
      payload,
      global,
      options.localContexts ?? null,
      options.extensions ?? null,
    );
    inv.meters = this.#meters.of(plan);
    return inv;
  }

  /**
   * Runs one plugin's hook directly: no conditions, runtime-disabled check, policy, global
   * merge or records (`invokeHookForPlugin`). on_error still applies.
   */
  executeOne(
    hookRef: HookRef,
    payload: unknown,
    context: PluginContext,
    violationsAsExceptions = false,
  ): Promise<HookResult> {
    return invokeForPlugin(
      this,
      hookRef,
      payload,
      context,
      violationsAsExceptions,
      this.#meters.direct(hookRef),
      this.observability,
    );
  }
}

/**
 * Records the chain's duration: from the first plugin call's start to the last one's end, as
 * the records timed them (0 when every plugin was skipped).
 */
function meterChain(inv: Invocation): void {
  const meters = inv.meters;
  if (meters === null) return;
  const ms = inv.chainStart < 0 ? 0 : inv.chainEnd - inv.chainStart;
  meters.metrics.chain(meters.hook, ms / 1000);
}

/** {@linkcode run} inside the invocation's span. */
async function traced(
  plan: HookPlan,
  inv: Invocation,
  raise: boolean,
  provider: ObservabilityProvider,
  traceId: string,
): Promise<[HookResult, PluginContextTable]> {
  inv.tracing = provider;
  inv.traceId = traceId;
  const span = startHookSpan(provider, traceId, plan);
  inv.hookSpan = span;
  let status: "ok" | "error" = "error";
  try {
    const out = await run(plan, inv, raise);
    status = "ok";
    return out;
  } catch (error) {
    if (error instanceof PluginViolationError) status = "ok";
    throw error;
  } finally {
    // Always ended, also when an error propagates (the reference leaks it: Q7).
    endHookSpan(inv, span, status);
    inv.hookSpan = null;
    meterChain(inv);
  }
}

/**
 * Runs the phases in order; the first halt ends the chain. Untraced, it also records the
 * chain's duration (traced, {@linkcode traced} does, after the span).
 */
async function run(
  plan: HookPlan,
  inv: Invocation,
  raise: boolean,
): Promise<[HookResult, PluginContextTable]> {
  try {
    // Every skip is decided before anything runs, as the reference groups its refs: plugins
    // skipped after a halt are still counted in skipped_count (issue 11 item 4).
    const serial = [
      inv.select(plan.sequential),
      inv.select(plan.transform),
      inv.select(plan.audit),
    ];
    const concurrent = inv.select(plan.concurrent);
    inv.fireAndForget = inv.select(plan.fireAndForget);
    const deadlines = inv.settings.deadlines;
    // Indexed loops: an array iterator would live across the awaits (allocated per call).
    for (let b = 0; b < serial.length; b++) {
      const refs = serial[b];
      for (let i = 0; i < refs.length; i++) {
        const call = startSerial(inv, refs[i]);
        if (!call.done) {
          await TICK;
          if (!call.afterTick()) await call.wait(deadlines);
        }
        const halted = endSerial(inv, call, raise);
        if (halted) return [halted, inv.table];
      }
    }
    if (concurrent.length) {
      const halted = await runConcurrent(inv, concurrent, raise);
      if (halted) return [halted, inv.table];
    }
    return [finish(inv, true, null), inv.table];
  } finally {
    if (inv.tracing === null) meterChain(inv);
  }
}
