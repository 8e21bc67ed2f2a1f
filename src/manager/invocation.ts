/**
 * The state of one hook invocation and how the plugins that run fold into it: which refs are
 * skipped, each plugin's context and call, and the merge of what a plugin contributes besides
 * its decision.
 *
 * @module
 */
import { PluginContext, type PluginContextTable } from "../context.ts";
import type { ObservabilityProvider } from "../observability.ts";
import type {
  DefaultHookPolicy,
  ExecutionRecord,
  Extensions,
  GlobalContext,
  HookPayloadPolicy,
  PluginResult,
} from "../types.ts";
import { CallOptions, callPlugin, type PendingCall, type PluginCall, startCall } from "./call.ts";
import { ContextTableSource } from "./context_table.ts";
import type { DeadlineQueue } from "./deadlines.ts";
import { filterExtensions } from "./extensions.ts";
import { cloneData, copyRecord, deepFreeze } from "./freeze.ts";
import type { Outcome } from "../observability/metrics.ts";
import type { PlanMetrics } from "./plan_metrics.ts";
import type { HookPlan, HookRef, PluginRef } from "./registry.ts";
import { type Chained, NONE, type PayloadValidator } from "./result_checks.ts";

/** The hook whose results carry `_decision_plugin` provenance. */
export const PERMISSION_HOOK = "http_auth_check_permission";
/** Metadata key naming the plugin whose modification decided a permission check. */
export const DECISION_PLUGIN_KEY = "_decision_plugin";

/**
 * What an invocation reads from its executor, live (the manager may change the settings
 * between calls; fire-and-forget plugins read them when they start).
 */
export interface ExecutorSettings {
  /** Default per-plugin timeout in seconds. */
  readonly timeout: number;
  /** Bound on parallel calls per invocation (0 = none). */
  readonly executionPool: number;
  /** Names of plugins disabled by `on_error: disable`. */
  readonly runtimeDisabled: Set<string>;
  /** The shared deadline timer. */
  readonly deadlines: DeadlineQueue;
  /** Per-hook payload policies. */
  readonly hookPolicies: Record<string, HookPayloadPolicy>;
  /** Policy for hooks without an explicit one. */
  readonly defaultHookPolicy: DefaultHookPolicy;
  /** Validates accepted modified payloads, if set. */
  readonly validatePayload: PayloadValidator | undefined;
  /** True for hooks whose modified payload has another type than the input. */
  readonly isCrossType: (hookName: string) => boolean;
}

/** The timeout in seconds of one call of `ref`: its own, else the executor's. */
export function pluginTimeout(ref: PluginRef, settings: ExecutorSettings): number {
  return ref.timeout ?? settings.timeout;
}

/** Per-invocation state. */
export class Invocation {
  readonly records: ExecutionRecord[] = [];
  /** The contexts of the plugins that ran; `contexts.table` is the table returned. */
  readonly contexts: ContextTableSource;
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
  /** The id of the open `plugin.hook.invoke` span, or null. */
  hookSpan: string | null = null;
  /** The span of the plugin call about to start (set by `startPluginSpan`, taken by `call`). */
  callSpan: string | null = null;
  /** Where this invocation's calls are counted, or null. */
  meters: PlanMetrics | null = null;
  /** When the first plugin call started (`performance.now()` time; -1: none yet). */
  chainStart = -1;
  /** When the last plugin call ended, from the timings the records take anyway. */
  chainEnd = 0;
  /**
   * The clock reading at the end of the last serial plugin, which is the next one's start (one
   * clock read per plugin boundary, issue 13); -1 when there is none to reuse.
   */
  clock = -1;

  constructor(
    readonly settings: ExecutorSettings,
    readonly plan: HookPlan,
    readonly hookName: string,
    readonly payload: unknown,
    readonly global: GlobalContext,
    readonly localContexts: PluginContextTable | null,
    readonly callerExtensions: Extensions | null,
  ) {
    this.contexts = new ContextTableSource(global.request_id);
  }

  /** The context table of the plugins that ran (built when first read). */
  get table(): PluginContextTable {
    return this.contexts.table;
  }

  /** The payload the next plugin sees: the last accepted modification, else the input. */
  get current(): unknown {
    return this.chained === NONE ? this.payload : this.chained;
  }

  /** The refs of one bucket that run; the bucket itself when none is skipped (no copy). */
  select(refs: readonly HookRef[]): readonly HookRef[] {
    let kept: HookRef[] | null = null;
    for (let i = 0; i < refs.length; i++) {
      if (this.#shouldRun(refs[i])) kept?.push(refs[i]);
      else kept ??= refs.slice(0, i);
    }
    return kept ?? refs;
  }

  #shouldRun(hookRef: HookRef): boolean {
    const ref = hookRef.ref;
    if (
      ref.mode === "disabled" || this.settings.runtimeDisabled.has(ref.name) ||
      (hookRef.matcher !== null && !hookRef.matcher(this.payload, this.global))
    ) {
      this.skipped++;
      this.meters?.skipped(hookRef);
      return false;
    }
    return true;
  }

  /**
   * The plugin's context for this call, with a private copy of the global context; reuses
   * the plugin's context from `localContexts` and enters it in the returned table.
   */
  contextFor(hookRef: HookRef): PluginContext {
    const g = this.global;
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
    const local = this.localContexts;
    const existing = local
      ? ContextTableSource.find(local, this.contexts.requestId, hookRef)
      : undefined;
    let context: PluginContext;
    if (existing) {
      existing.global_context = copy;
      context = existing;
    } else {
      context = new PluginContext(copy);
    }
    this.contexts.add(hookRef, context);
    return context;
  }

  /**
   * Counts a call of the chain started at `started` that took `ns` with `outcome` (no-op
   * without metrics). The chain's own duration is taken from these timings: a clock read costs
   * about 0.1 µs in Deno, and the hot path reads none for metrics (issue 15).
   */
  meterRan(hookRef: HookRef, outcome: Outcome, started: number, ns: number): void {
    const meters = this.meters;
    if (meters === null) return;
    this.#timed(started, ns);
    meters.ran(hookRef, outcome, ns);
  }

  /** Counts a failed call of the chain (`absorbed`: fail-open); see {@linkcode meterRan}. */
  meterFailed(
    hookRef: HookRef,
    timedOut: boolean,
    absorbed: boolean,
    started: number,
    ns: number,
  ): void {
    const meters = this.meters;
    if (meters === null) return;
    this.#timed(started, ns);
    meters.failed(hookRef, timedOut, absorbed, ns);
  }

  #timed(started: number, ns: number): void {
    if (this.chainStart < 0 || started < this.chainStart) this.chainStart = started;
    const end = started + ns / 1e6;
    if (end > this.chainEnd) this.chainEnd = end;
  }

  /** Calls the plugin's hook with its extension view and timeout. */
  call(
    hookRef: HookRef,
    input: unknown,
    context: PluginContext,
    pending?: PendingCall,
    now?: number,
  ): Promise<PluginResult> {
    const settings = this.settings;
    return callPlugin(
      hookRef,
      input,
      context,
      this.#options(hookRef),
      pluginTimeout(hookRef.ref, settings),
      settings.deadlines,
      pending,
      now,
    );
  }

  /** Starts the plugin's hook with its extension view and timeout (see `startCall`). */
  start(hookRef: HookRef, input: unknown, context: PluginContext, now: number): PluginCall {
    const options = this.#options(hookRef);
    return startCall(
      hookRef,
      input,
      context,
      options,
      pluginTimeout(hookRef.ref, this.settings),
      undefined,
      now,
    );
  }

  #options(hookRef: HookRef): CallOptions {
    const ext = this.callerExtensions;
    // Taken first, so a throw below cannot leave it to the next call.
    const span = this.callSpan;
    this.callSpan = null;
    // Views are frozen like payloads: a plugin cannot change what the caller or others see.
    const options = new CallOptions(
      ext ? deepFreeze(filterExtensions(ext, hookRef.ref.capabilities)) : null,
    );
    if (span !== null) options.traced = { provider: this.tracing!, span };
    return options;
  }

  /**
   * Merges what a successful plugin contributes besides its decision. `signals` false skips
   * the retry hint and headers (for siblings whose result the loop never processed).
   */
  absorb(hookRef: HookRef, context: PluginContext, result: PluginResult, signals = true): void {
    const mode = hookRef.ref.mode;
    if (mode !== "audit") {
      const g = this.global;
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
        this.headers = { ...this.headers, ...result.http_headers };
      }
    }
    const metadata = result.metadata;
    if (metadata) {
      for (const key in metadata) {
        if (key !== DECISION_PLUGIN_KEY) this.metadata[key] = metadata[key];
      }
    }
    const retry = result.retry_delay_ms;
    if (signals && retry !== undefined && retry > this.retry) this.retry = retry;
  }
}
