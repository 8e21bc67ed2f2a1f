/**
 * The executor: runs one hook's plan through the phases SEQUENTIAL → TRANSFORM → AUDIT →
 * CONCURRENT → FIRE_AND_FORGET with timeouts, on_error handling, payload policies, context
 * propagation, execution records and spans.
 *
 * @module
 */
import { PluginContext, type PluginContextTable } from "../context.ts";
import {
  errorRepr,
  PayloadSizeError,
  PluginError,
  PluginTimeoutError,
  PluginViolationError,
} from "../errors.ts";
import {
  currentTraceId,
  type ObservabilityProvider,
  type SpanAttributes,
} from "../observability.ts";
import type {
  DefaultHookPolicy,
  ExecutionRecord,
  Extensions,
  GlobalContext,
  HookPayloadPolicy,
  PluginErrorModel,
  PluginResult,
  PluginViolation,
} from "../types.ts";
import { CallOptions, callPlugin, PendingCall } from "./call.ts";
import { filterExtensions } from "./extensions.ts";
import { cloneData, copyRecord, deepEqual, deepFreeze, isPlainObject } from "./freeze.ts";
import { newRecord, truncateText } from "./records.ts";
import { payloadSizeError } from "./payload_size.ts";
import type { HookPlan, HookRef } from "./registry.ts";
import { HookResult, markBlockSuppressed } from "./result.ts";
import { Semaphore } from "./semaphore.ts";
import { DeadlineQueue } from "./deadlines.ts";

/**
 * Cross-type hooks whose result type the reference models with pydantic: a header map (a root
 * model, one field `root`) or a model with fields. Other cross-type results (the user dict of
 * `http_auth_resolve_user`, custom hooks) are plain data.
 */
const RESULT_MODELS: Record<string, "root" | "model"> = {
  http_pre_request: "root",
  http_post_request: "root",
  http_auth_check_permission: "model",
};

/** The hook whose results carry `_decision_plugin` provenance. */
const PERMISSION_HOOK = "http_auth_check_permission";
/** Metadata key naming the plugin whose modification decided a permission check. */
export const DECISION_PLUGIN_KEY = "_decision_plugin";
/** The reference's payload size limit, in characters. */
export const MAX_PAYLOAD_SIZE = 1_000_000;

/**
 * Validates a modified payload for a hook; returns the value to chain or throws.
 *
 * @example
 * ```ts
 * import type { PayloadValidator } from "./executor.ts";
 * const none: PayloadValidator = (_hook, value) => value;
 * ```
 */
export type PayloadValidator = (hookName: string, value: unknown) => unknown;

/**
 * Settings of a {@linkcode PluginExecutor}.
 *
 * @example
 * ```ts
 * import type { ExecutorOptions } from "./executor.ts";
 * const o: ExecutorOptions = { timeout: 5 };
 * ```
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
  /** Bound on concurrent CONCURRENT / FIRE_AND_FORGET calls per invocation (10; 0 = none). */
  executionPool?: number;
  /** Payload size limit in characters (1,000,000). */
  maxPayloadSize?: number;
  /** Validates accepted modified payloads (built-in and registered custom hooks). */
  validatePayload?: PayloadValidator;
  /** True for hooks whose modified payload has another type than the input (http hooks). */
  isCrossType?: (hookName: string) => boolean;
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

const NONE: unique symbol = Symbol("none");
type Chained = unknown | typeof NONE;

/** Per-invocation state. */
class Invocation {
  readonly records: ExecutionRecord[] = [];
  readonly table: PluginContextTable = {};
  metadata: Record<string, unknown> = {};
  headers: Record<string, string> | null = null;
  chained: Chained = NONE;
  extensions: Extensions | null = null;
  retry = 0;
  executed = 0;
  skipped = 0;
  stoppedBy = "";
  /** FIRE_AND_FORGET refs that pass the skip checks (decided with the others, up front). */
  fireAndForget: readonly HookRef[] = [];
  decisionPlugin: string | null = null;
  tracing: ObservabilityProvider | null = null;
  traceId = "";

  constructor(
    readonly plan: HookPlan,
    readonly hookName: string,
    readonly payload: unknown,
    readonly global: GlobalContext,
    readonly localContexts: PluginContextTable | null,
    readonly callerExtensions: Extensions | null,
  ) {}

  get current(): unknown {
    return this.chained === NONE ? this.payload : this.chained;
  }
}

function checkResult(value: unknown, name: string): PluginResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new TypeError(`Plugin ${name} returned ${kind} instead of a result object`);
  }
  const r = value as PluginResult;
  if (r.continue_processing !== undefined && typeof r.continue_processing !== "boolean") {
    throw new TypeError(`Plugin ${name} returned a non-boolean continue_processing`);
  }
  const v = r.violation;
  if (
    v !== undefined && v !== null &&
    (typeof v !== "object" || typeof v.code !== "string" || typeof v.reason !== "string" ||
      typeof v.description !== "string")
  ) {
    throw new TypeError(
      `Plugin ${name} returned a violation without string reason, description and code`,
    );
  }
  if (r.metadata !== undefined && r.metadata !== null && !isPlainObject(r.metadata)) {
    throw new TypeError(`Plugin ${name} returned metadata that is not an object`);
  }
  const retry = r.retry_delay_ms;
  if (retry !== undefined && (typeof retry !== "number" || !(retry >= 0))) {
    throw new TypeError(`Plugin ${name} returned an invalid retry_delay_ms`);
  }
  return r;
}

function toPluginError(error: unknown, name: string): PluginError {
  if (error instanceof PluginError) return error;
  const message = error instanceof PluginTimeoutError ? error.message : errorRepr(error);
  return new PluginError({ message, plugin_name: name }, { cause: error });
}

function blockMessage(hookName: string, name: string, v: PluginViolation | null): string {
  return v
    ? `${hookName} blocked by plugin ${name}: ${v.code} - ${v.reason} (${v.description})`
    : `${hookName} blocked by plugin`;
}

/**
 * Runs hook plans. One executor belongs to one manager; its runtime-disabled set persists
 * across invocations until {@linkcode PluginExecutor.resetRuntimeDisabled}.
 *
 * @example
 * ```ts
 * import { PluginExecutor } from "./executor.ts";
 * const executor = new PluginExecutor({ timeout: 5 });
 * console.log(executor.runtimeDisabled.size); // 0
 * ```
 */
export class PluginExecutor {
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
  readonly #validate: PayloadValidator | undefined;
  readonly #isCrossType: (hookName: string) => boolean;
  readonly #deadlines = new DeadlineQueue();

  /** Creates an executor. */
  constructor(options: ExecutorOptions = {}) {
    this.timeout = options.timeout ?? 30;
    this.hookPolicies = options.hookPolicies ?? {};
    this.defaultHookPolicy = options.defaultHookPolicy ?? "allow";
    this.observability = options.observability ?? null;
    this.executionPool = options.executionPool ?? 10;
    this.maxPayloadSize = options.maxPayloadSize ?? MAX_PAYLOAD_SIZE;
    this.#validate = options.validatePayload;
    this.#isCrossType = options.isCrossType ?? (() => false);
  }

  /** Clears the shared deadline timer (in-flight calls lose their deadline). */
  close(): void {
    this.#deadlines.close();
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
  async execute(
    plan: HookPlan | null,
    payload: unknown,
    global: GlobalContext,
    options: InvokeOptions = {},
  ): Promise<[HookResult, PluginContextTable | null]> {
    if (!plan || plan.all.length === 0) return [new HookResult(), null];
    this.#checkSize(plan.hookName, payload);
    deepFreeze(payload);
    if (options.extensions) deepFreeze(options.extensions);
    const inv = new Invocation(
      plan,
      plan.hookName,
      payload,
      global,
      options.localContexts ?? null,
      options.extensions ?? null,
    );
    const provider = this.observability;
    const traceId = provider ? currentTraceId() : undefined;
    if (!provider || traceId === undefined) {
      return await this.#run(plan, inv, options.violationsAsExceptions === true);
    }
    inv.tracing = provider;
    inv.traceId = traceId;
    const span = safeStart(provider, {
      traceId,
      name: "plugin.hook.invoke",
      kind: "internal",
      attributes: { "plugin.hook.type": plan.hookName, "plugin.chain.length": plan.all.length },
    });
    let status: "ok" | "error" = "error";
    try {
      const out = await this.#run(plan, inv, options.violationsAsExceptions === true);
      status = "ok";
      return out;
    } catch (error) {
      if (error instanceof PluginViolationError) status = "ok";
      throw error;
    } finally {
      // Always ended, also when an error propagates (the reference leaks it: Q7).
      safeEnd(provider, span, status, {
        "plugin.executed_count": inv.executed,
        "plugin.skipped_count": inv.skipped,
        "plugin.chain.stopped": inv.stoppedBy !== "",
        "plugin.chain.stopped_by": inv.stoppedBy,
      });
    }
  }

  async #run(
    plan: HookPlan,
    inv: Invocation,
    raise: boolean,
  ): Promise<[HookResult, PluginContextTable]> {
    // Every skip is decided before anything runs, as the reference groups its refs: plugins
    // skipped after a halt are still counted in skipped_count (issue 11 item 4).
    const serial = [
      this.#select(plan.sequential, inv),
      this.#select(plan.transform, inv),
      this.#select(plan.audit, inv),
    ];
    const concurrent = this.#select(plan.concurrent, inv);
    inv.fireAndForget = this.#select(plan.fireAndForget, inv);
    for (const refs of serial) {
      for (const hookRef of refs) {
        const halted = await this.#runSerial(hookRef, inv, raise);
        if (halted) return [halted, inv.table];
      }
    }
    if (concurrent.length) {
      const halted = await this.#runConcurrent(concurrent, inv, raise);
      if (halted) return [halted, inv.table];
    }
    return [this.#finish(inv, true, null), inv.table];
  }

  /** The refs of one bucket that run; the bucket itself when none is skipped (no copy). */
  #select(refs: readonly HookRef[], inv: Invocation): readonly HookRef[] {
    let kept: HookRef[] | null = null;
    for (let i = 0; i < refs.length; i++) {
      if (this.#shouldRun(refs[i], inv)) kept?.push(refs[i]);
      else kept ??= refs.slice(0, i);
    }
    return kept ?? refs;
  }

  #shouldRun(hookRef: HookRef, inv: Invocation): boolean {
    const ref = hookRef.ref;
    if (
      ref.mode === "disabled" || this.runtimeDisabled.has(ref.name) ||
      (hookRef.matcher !== null && !hookRef.matcher(inv.payload, inv.global))
    ) {
      inv.skipped++;
      return false;
    }
    return true;
  }

  #context(hookRef: HookRef, inv: Invocation): PluginContext {
    const g = inv.global;
    const copy: GlobalContext = {
      request_id: g.request_id,
      user: g.user,
      user_context: g.user_context,
      tenant_id: g.tenant_id,
      server_id: g.server_id,
      content_type: g.content_type,
      state: copyRecord(g.state),
      metadata: copyRecord(g.metadata),
    };
    const key = g.request_id + hookRef.ref.uuid;
    const existing = inv.localContexts?.[key];
    let context: PluginContext;
    if (existing) {
      existing.global_context = copy;
      context = existing;
    } else {
      context = new PluginContext(copy);
    }
    inv.table[key] = context;
    return context;
  }

  #options(hookRef: HookRef, inv: Invocation): CallOptions {
    const ext = inv.callerExtensions;
    // Views are frozen like payloads: a plugin cannot change what the caller or others see.
    return new CallOptions(
      ext ? deepFreeze(filterExtensions(ext, hookRef.ref.capabilities)) : null,
    );
  }

  /** Runs one serial plugin; returns a halt result when it stops the chain. */
  async #runSerial(
    hookRef: HookRef,
    inv: Invocation,
    raise: boolean,
  ): Promise<HookResult | null> {
    const ref = hookRef.ref;
    const mode = ref.mode;
    const context = this.#context(hookRef, inv);
    const input = inv.current;
    const span = inv.tracing ? this.#startPluginSpan(hookRef, inv) : null;
    const started = performance.now();
    let result: PluginResult;
    let accepted: Chained = NONE;
    let allow: boolean;
    try {
      result = checkResult(
        await callPlugin(
          hookRef,
          input,
          context,
          this.#options(hookRef, inv),
          ref.timeout ?? this.timeout,
          this.#deadlines,
        ),
        ref.name,
      );
      allow = result.continue_processing !== false;
      const mp = result.modified_payload;
      // A halting SEQUENTIAL plugin's own modification is discarded; TRANSFORM keeps it.
      if (
        mp !== undefined && mp !== null && mode !== "audit" && (allow || mode === "transform")
      ) {
        accepted = this.#accept(inv, mp, input);
      }
    } catch (error) {
      if (span !== null) safeEnd(inv.tracing!, span, "error");
      this.#failed(hookRef, inv, error, started, mode === "sequential");
      return null;
    }
    const duration = Math.max(1, Math.round((performance.now() - started) * 1e6));
    if (span !== null) {
      safeEnd(inv.tracing!, span, "ok", {
        "plugin.had_violation": !!result.violation,
        "plugin.modified_payload": result.modified_payload != null,
      });
    }
    inv.executed++;
    this.#absorb(hookRef, inv, context, result);
    const violation = result.violation
      ? { ...result.violation, plugin_name: ref.name } as PluginViolation
      : null;
    if (!allow && mode !== "sequential") allow = true; // TRANSFORM and AUDIT cannot block
    const record = newRecord(ref.identity, inv.hookName, "completed");
    record.duration_ns = duration;
    record.requested_allow = allow;
    record.effective_allow = allow;
    const extModified = result.modified_extensions != null;
    record.extensions_modified = extModified;
    if (accepted !== NONE) {
      inv.chained = accepted;
      inv.decisionPlugin = ref.name;
      record.payload_modified = true;
    }
    // Like its payload, a halting plugin's own extensions are discarded.
    if (extModified && mode !== "audit" && allow) inv.extensions = result.modified_extensions!;
    const matched = !allow || record.payload_modified || extModified;
    record.matched = matched;
    record.applied = mode === "audit" ? extModified : matched;
    if (allow) {
      inv.records.push(record);
      return null;
    }
    record.error_code = violation?.code ?? null;
    record.reason = truncateText(violation?.reason);
    return this.#deny(inv, record, violation, raise);
  }

  /** Records a block and either throws it (violationsAsExceptions) or returns the halt result. */
  #deny(
    inv: Invocation,
    record: ExecutionRecord,
    violation: PluginViolation | null,
    raise: boolean,
  ): HookResult {
    const name = record.plugin_name;
    inv.stoppedBy = name;
    if (raise) {
      const message = blockMessage(inv.hookName, name, violation);
      record.error_code ??= "plugin_violation";
      record.reason ??= truncateText(message);
      inv.records.push(record);
      throw new PluginViolationError(message, violation, [...inv.records]);
    }
    inv.records.push(record);
    return this.#finish(inv, false, violation);
  }

  /** Handles a failed call (exception, junk result or timeout) per the plugin's on_error. */
  #failed(
    hookRef: HookRef,
    inv: Invocation,
    error: unknown,
    started: number,
    appliedOnTimeout: boolean,
  ): void {
    const ref = hookRef.ref;
    const timedOut = error instanceof PluginTimeoutError;
    const record = newRecord(ref.identity, inv.hookName, timedOut ? "timeout" : "error");
    record.duration_ns = Math.max(1, Math.round((performance.now() - started) * 1e6));
    record.error_code = timedOut ? "plugin_timeout" : "plugin_error";
    const pluginError = toPluginError(error, ref.name);
    record.reason = truncateText(pluginError.message);
    if (ref.onError === "fail") {
      record.effective_allow = false;
      record.applied = true;
      inv.records.push(record);
      inv.stoppedBy = ref.name;
      (pluginError as PluginError & { executions?: ExecutionRecord[] }).executions = [
        ...inv.records,
      ];
      throw pluginError;
    }
    if (ref.onError === "disable") this.runtimeDisabled.add(ref.name);
    inv.executed++; // the reference counts a plugin whose failure is ignored as executed
    record.applied = timedOut && appliedOnTimeout;
    inv.records.push(record);
  }

  /** Applies the effects of a CONCURRENT sibling that finished before a halt was processed. */
  #finishedSibling(
    hookRef: HookRef,
    inv: Invocation,
    context: PluginContext,
    span: string | null,
    ok: boolean,
    value: unknown,
  ): void {
    const ref = hookRef.ref;
    let result: PluginResult;
    try {
      if (!ok) throw value;
      result = checkResult(value, ref.name);
    } catch {
      if (span !== null) safeEnd(inv.tracing!, span, "error");
      if (ref.onError === "disable") this.runtimeDisabled.add(ref.name);
      return;
    }
    if (span !== null) {
      safeEnd(inv.tracing!, span, "ok", {
        "plugin.had_violation": !!result.violation,
        "plugin.modified_payload": result.modified_payload != null,
      });
    }
    this.#absorb(hookRef, inv, context, result, false);
  }

  /**
   * Merges what a successful plugin contributes besides its decision. `signals` false skips
   * the retry hint and headers (for siblings whose result the loop never processed).
   */
  #absorb(
    hookRef: HookRef,
    inv: Invocation,
    context: PluginContext,
    result: PluginResult,
    signals = true,
  ): void {
    const mode = hookRef.ref.mode;
    if (mode !== "audit") {
      const g = inv.global;
      // Merged as a copy, so a plugin that keeps a reference cannot change it later (Q9).
      const copy = context.global_context;
      if (copy.state) {
        for (const _ in copy.state) {
          Object.assign(g.state ??= {}, cloneData(copy.state));
          break;
        }
      }
      if (copy.metadata) {
        for (const _ in copy.metadata) {
          Object.assign(g.metadata ??= {}, cloneData(copy.metadata));
          break;
        }
      }
      if (signals && result.http_headers) {
        inv.headers = { ...inv.headers, ...result.http_headers };
      }
    }
    const metadata = result.metadata;
    if (metadata) {
      for (const key in metadata) {
        if (key !== DECISION_PLUGIN_KEY) inv.metadata[key] = metadata[key];
      }
    }
    const retry = result.retry_delay_ms;
    if (signals && retry !== undefined && retry > inv.retry) inv.retry = retry;
  }

  /** Applies the hook's policy to a returned modification; returns the new chained payload. */
  #accept(inv: Invocation, modified: unknown, input: unknown): Chained {
    const hookName = inv.hookName;
    const policy = this.hookPolicies[hookName];
    let value: unknown;
    if (policy) {
      // Once a cross-type hook's payload is its result type (an earlier plugin's accepted
      // change), the reference treats later changes as same-type: a result model's fields are
      // filtered by the policy, and a header map (a root model) passes only through `root`.
      const resultKind = inv.chained === NONE ? undefined : RESULT_MODELS[hookName];
      if (resultKind === "root") {
        if (
          !isPlainObject(modified) || deepEqual(modified, input) ||
          !policy.writable_fields.has("root")
        ) return NONE;
        value = modified;
      } else if (
        (!this.#isCrossType(hookName) || resultKind === "model") && isPlainObject(modified) &&
        isPlainObject(input)
      ) {
        let changes: Record<string, unknown> | null = null;
        for (const key in modified) {
          if (!policy.writable_fields.has(key)) continue;
          if (!deepEqual(modified[key], input[key])) (changes ??= {})[key] = modified[key];
        }
        if (changes === null) return NONE;
        value = { ...(inv.current as Record<string, unknown>), ...changes };
      } else if (isPlainObject(modified)) {
        value = modified;
      } else {
        return NONE;
      }
    } else if (this.defaultHookPolicy === "deny") {
      return NONE;
    } else {
      value = modified;
    }
    if (this.#validate) value = this.#validate(hookName, value);
    return deepFreeze(value);
  }

  async #runConcurrent(
    refs: readonly HookRef[],
    inv: Invocation,
    raise: boolean,
  ): Promise<HookResult | null> {
    const runnable = refs;
    const n = runnable.length;
    const input = inv.current;
    // Every context is prepared before any plugin starts: all see the same global state.
    const contexts = runnable.map((h) => this.#context(h, inv));
    const pending = runnable.map(() => new PendingCall());
    const started = new Array<number>(n);
    const spans = new Array<string | null>(n).fill(null);
    const done: Array<{ index: number; ok: boolean; value: unknown }> = [];
    let wake: (() => void) | null = null;
    let next = 0;
    const limit = this.executionPool > 0 ? this.executionPool : n;
    const start = (index: number) => {
      const hookRef = runnable[index];
      if (inv.tracing) spans[index] = this.#startPluginSpan(hookRef, inv);
      started[index] = performance.now();
      const settle = (ok: boolean, value: unknown) => {
        done.push({ index, ok, value });
        if (wake) {
          const w = wake;
          wake = null;
          w();
        }
        if (next < n && !stopped) start(next++);
      };
      try {
        Promise.resolve(
          callPlugin(
            hookRef,
            input,
            contexts[index],
            this.#options(hookRef, inv),
            hookRef.ref.timeout ?? this.timeout,
            this.#deadlines,
            pending[index],
          ),
        ).then((v) => settle(true, v), (e) => settle(false, e));
      } catch (error) {
        pending[index].settled = true;
        queueMicrotask(() => settle(false, error));
      }
    };
    let stopped = false;
    const cancelRest = () => {
      stopped = true;
      // Siblings that finished but were not processed yet keep their effects, as in the
      // reference, where each task merges its own (issue 11 item 3): disable on failure,
      // global state and metadata merged, spans ended. They get no record.
      for (const { index, ok, value } of done.splice(0)) {
        this.#finishedSibling(runnable[index], inv, contexts[index], spans[index], ok, value);
        spans[index] = null;
      }
      for (let i = 0; i < n; i++) {
        pending[i].cancel(runnable[i].ref.name);
        // Spans of calls that will never be processed end here (Q7: spans always end).
        if (spans[i] !== null) {
          safeEnd(inv.tracing!, spans[i], "error");
          spans[i] = null;
        }
      }
    };
    while (next < Math.min(limit, n)) start(next++);
    for (let handled = 0; handled < n; handled++) {
      if (done.length === 0) await new Promise<void>((resolve) => wake = resolve);
      const { index, ok, value } = done.shift()!;
      const hookRef = runnable[index];
      const ref = hookRef.ref;
      const span = spans[index];
      spans[index] = null;
      let result: PluginResult;
      try {
        if (!ok) throw value;
        result = checkResult(value, ref.name);
      } catch (error) {
        if (span !== null) safeEnd(inv.tracing!, span, "error");
        try {
          this.#failed(hookRef, inv, error, started[index], false);
        } catch (failure) {
          cancelRest(); // the reference leaves siblings running (Q6)
          throw failure;
        }
        continue;
      }
      if (span !== null) {
        safeEnd(inv.tracing!, span, "ok", {
          "plugin.had_violation": !!result.violation,
          "plugin.modified_payload": result.modified_payload != null,
        });
      }
      inv.executed++;
      this.#absorb(hookRef, inv, contexts[index], result);
      const allow = result.continue_processing !== false;
      const violation = result.violation
        ? { ...result.violation, plugin_name: ref.name } as PluginViolation
        : null;
      const record = newRecord(ref.identity, inv.hookName, "completed");
      record.duration_ns = Math.max(1, Math.round((performance.now() - started[index]) * 1e6));
      record.requested_allow = allow;
      record.effective_allow = allow;
      record.matched = !allow;
      record.applied = !allow;
      record.extensions_modified = result.modified_extensions != null;
      if (violation) {
        record.reason = truncateText(violation.reason);
        record.error_code = violation.code;
      }
      if (allow) {
        inv.records.push(record);
        continue;
      }
      cancelRest();
      return this.#deny(inv, record, violation, raise);
    }
    return null;
  }

  /** Builds the result, scheduling fire-and-forget plugins first. */
  #finish(
    inv: Invocation,
    allow: boolean,
    violation: PluginViolation | null,
  ): HookResult {
    const result = new HookResult();
    result.continue_processing = allow;
    result.violation = violation;
    const faf = inv.fireAndForget;
    if (faf.length) this.#scheduleFireAndForget(faf, inv, result);
    if (inv.chained !== NONE) result.modified_payload = inv.chained;
    result.modified_extensions = inv.extensions;
    result.metadata = inv.metadata;
    if (inv.decisionPlugin !== null && inv.hookName === PERMISSION_HOOK) {
      result.metadata[DECISION_PLUGIN_KEY] = inv.decisionPlugin;
    }
    result.http_headers = inv.headers;
    // Kept on a halt too (the reference resets it to 0: Q3), so rate limiters work.
    result.retry_delay_ms = inv.retry;
    result.executions = inv.records;
    return result;
  }

  #scheduleFireAndForget(refs: readonly HookRef[], inv: Invocation, result: HookResult): void {
    // FAF plugins see the final chained payload (the reference hands them the original: Q1).
    const payload = inv.current;
    const semaphore = new Semaphore(this.executionPool);
    for (const hookRef of refs) {
      const context = this.#context(hookRef, inv);
      inv.records.push(newRecord(hookRef.ref.identity, inv.hookName, "completed"));
      result.background_tasks.push(
        this.#runFireAndForget(hookRef, inv, payload, context, semaphore),
      );
    }
  }

  async #runFireAndForget(
    hookRef: HookRef,
    inv: Invocation,
    payload: unknown,
    context: PluginContext,
    semaphore: Semaphore,
  ): Promise<PluginErrorModel | undefined> {
    // Start on a later macrotask: the caller gets its result before any FAF plugin runs.
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    await semaphore.acquire();
    const ref = hookRef.ref;
    const span = inv.tracing ? this.#startPluginSpan(hookRef, inv) : null;
    try {
      const value = await callPlugin(
        hookRef,
        payload,
        context,
        this.#options(hookRef, inv),
        ref.timeout ?? this.timeout,
        this.#deadlines,
      );
      const result = checkResult(value, ref.name);
      if (span !== null) {
        safeEnd(inv.tracing!, span, "ok", {
          "plugin.had_violation": !!result.violation,
          "plugin.modified_payload": result.modified_payload != null,
        });
      }
      return undefined;
    } catch (error) {
      if (span !== null) safeEnd(inv.tracing!, span, "error");
      if (ref.onError === "disable") this.runtimeDisabled.add(ref.name);
      return { message: errorRepr(error), plugin_name: ref.name };
    } finally {
      semaphore.release();
    }
  }

  /**
   * Runs one plugin's hook directly: no conditions, runtime-disabled check, policy, global
   * merge or records (`invokeHookForPlugin`). on_error still applies.
   */
  async executeOne(
    hookRef: HookRef,
    payload: unknown,
    context: PluginContext,
    violationsAsExceptions = false,
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
          ref.timeout ?? this.timeout,
          this.#deadlines,
        ),
        ref.name,
      );
    } catch (error) {
      if (ref.onError === "fail") throw toPluginError(error, ref.name);
      if (ref.onError === "disable") this.runtimeDisabled.add(ref.name);
      return out;
    }
    const blocks = result.continue_processing === false &&
      (ref.mode === "sequential" || ref.mode === "concurrent");
    // TRANSFORM and AUDIT cannot block: their violation is dropped with the block.
    const violation = result.violation && (blocks || result.continue_processing !== false)
      ? { ...result.violation, plugin_name: ref.name } as PluginViolation
      : null;
    if (blocks && violationsAsExceptions) {
      throw new PluginViolationError(
        blockMessage(hookRef.hookName, ref.name, violation),
        violation,
      );
    }
    // A suppressed TRANSFORM/AUDIT block answers as the reference's does: no metadata on the
    // wire (issue 11 item 8), no extensions, and AUDIT forwards no payload. Headers and the
    // retry hint are kept (README: item 9, Q3).
    const suppressed = !blocks && result.continue_processing === false;
    if (suppressed) markBlockSuppressed(out);
    out.continue_processing = !blocks;
    out.violation = violation;
    out.modified_payload = blocks || (suppressed && ref.mode === "audit")
      ? null
      : result.modified_payload ?? null;
    out.modified_extensions = suppressed ? null : result.modified_extensions ?? null;
    out.metadata = result.metadata ?? {};
    out.http_headers = result.http_headers ?? null;
    out.retry_delay_ms = result.retry_delay_ms ?? 0;
    return out;
  }

  #checkSize(hookName: string, payload: unknown): void {
    const message = payloadSizeError(hookName, payload, this.maxPayloadSize);
    if (message !== null) throw new PayloadSizeError(message);
  }

  #startPluginSpan(hookRef: HookRef, inv: Invocation): string | null {
    const ref = hookRef.ref;
    return safeStart(inv.tracing!, {
      traceId: inv.traceId,
      name: `plugin.execute.${ref.name}`,
      kind: "internal",
      resourceType: "plugin",
      resourceName: ref.name,
      attributes: {
        "plugin.name": ref.name,
        "plugin.uuid": ref.uuid,
        "plugin.mode": ref.mode,
        "plugin.priority": ref.priority,
        "plugin.timeout": ref.timeout ?? this.timeout,
      },
    });
  }
}

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
