/**
 * `testPlugin`: run one hook of one plugin through a real {@linkcode PluginManager}, without a
 * config file, and hand back what a test asserts on.
 *
 * @module
 */
import type { PluginContextTable } from "../context.ts";
import type { PayloadOf, ResultPayloadOf } from "../hooks/map.ts";
import { PluginManager, type PluginManagerOptions } from "../manager/manager.ts";
import type { HookResult } from "../manager/result.ts";
import type { InvokeOptions } from "../manager/executor.ts";
import type { Plugin } from "../plugin.ts";
import type { ExecutionRecord, GlobalContext } from "../types.ts";

/**
 * A {@linkcode GlobalContext} for a test: `request_id` is `"test-request"` unless given.
 *
 * @param fields The context fields to set (user, tenant_id, server_id, state, ...).
 * @returns A new context.
 *
 * @example
 * ```ts
 * import { testContext } from "@cpex/core/testing";
 * const context = testContext({ user: "alice", tenant_id: "acme" });
 * console.log(context.request_id, context.user); // "test-request" "alice"
 * ```
 */
export function testContext(fields: Partial<GlobalContext> = {}): GlobalContext {
  return { request_id: "test-request", ...fields };
}

/**
 * Options of {@linkcode testPlugin}.
 *
 * @example
 * ```ts
 * import type { TestPluginOptions } from "@cpex/core/testing";
 * const o: TestPluginOptions = { context: { user: "alice" }, manager: { timeout: 1 } };
 * ```
 */
export interface TestPluginOptions extends InvokeOptions {
  /** Fields of the request's global context (see {@linkcode testContext}). */
  context?: Partial<GlobalContext>;
  /** Options of the manager the plugin runs in (timeout, hookRegistry, hookPolicies, ...). */
  manager?: PluginManagerOptions;
}

/**
 * What {@linkcode testPlugin} returns.
 *
 * @typeParam H The hook name.
 *
 * @example
 * ```ts
 * import type { PluginTestRun } from "@cpex/core/testing";
 * const blocked = (run: PluginTestRun<"tool_pre_invoke">) => !run.result.continue_processing;
 * ```
 */
export interface PluginTestRun<H extends string> {
  /** The aggregated result, as the gateway sees it. */
  result: HookResult<ResultPayloadOf<H>>;
  /**
   * The plugin's execution record (status, applied, payload_modified, duration), or null when
   * it did not run (its conditions did not match, or it runs in the background).
   */
  record: ExecutionRecord | null;
  /** The global context after the call (state the plugin wrote is merged into it). */
  context: GlobalContext;
  /**
   * The plugin contexts to pass to the matching post hook as `localContexts` (in the same
   * {@linkcode PluginHarness}: contexts are keyed by the registration).
   */
  contexts: PluginContextTable | null;
}

/**
 * One plugin registered in a real {@linkcode PluginManager} of its own, for tests that run
 * several hooks against the same instance (a pre hook, then its post hook with the contexts
 * the pre hook returned). {@linkcode testPlugin} is the one-call form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Plugin, type PluginContext } from "@cpex/core";
 * import { PluginHarness } from "@cpex/core/testing";
 *
 * class Timer extends Plugin {
 *   tool_pre_invoke(_payload: unknown, context: PluginContext) {
 *     context.state.started = true;
 *     return {};
 *   }
 *   tool_post_invoke(_payload: unknown, context: PluginContext) {
 *     return { metadata: { timed: context.state.started === true } };
 *   }
 * }
 *
 * await using harness = await PluginHarness.start(
 *   new Timer({ name: "timer", kind: "inline", hooks: ["tool_pre_invoke", "tool_post_invoke"] }),
 * );
 * const pre = await harness.run("tool_pre_invoke", { name: "search", args: {} });
 * const post = await harness.run("tool_post_invoke", { name: "search", result: "ok" }, {
 *   context: pre.context,
 *   localContexts: pre.contexts,
 * });
 * assert.deepEqual(post.result.metadata, { timed: true });
 * ```
 */
export class PluginHarness {
  readonly #manager: PluginManager;
  readonly #plugin: Plugin;

  private constructor(manager: PluginManager, plugin: Plugin) {
    this.#manager = manager;
    this.#plugin = plugin;
  }

  /**
   * Creates a manager with `options`, initializes it and registers `plugin` (calling its
   * `initialize()`).
   *
   * @param plugin The plugin to test, constructed with its config.
   * @param options Options of the manager (timeout, hookRegistry, hookPolicies, ...).
   * @returns The running harness; close it (or declare it with `await using`).
   */
  static async start(plugin: Plugin, options: PluginManagerOptions = {}): Promise<PluginHarness> {
    const manager = new PluginManager(null, options);
    try {
      await manager.initialize();
      await manager.registerPlugin(plugin);
    } catch (error) {
      await manager.shutdown();
      throw error;
    }
    return new PluginHarness(manager, plugin);
  }

  /** The manager the plugin runs in. */
  get manager(): PluginManager {
    return this.#manager;
  }

  /**
   * Runs `hook` exactly as a gateway would (mode, on_error, conditions, payload policies,
   * timeout, result checks) and waits for background work (fire-and-forget) to finish.
   *
   * @param hook The hook to run, e.g. `tool_pre_invoke`.
   * @param payload The hook's payload (typed for built-in hooks).
   * @param options The request context and invoke options (`localContexts`, ...).
   * @returns The result, the plugin's execution record and the contexts after the call.
   */
  async run<H extends string>(
    hook: H,
    payload: PayloadOf<H>,
    options: Omit<TestPluginOptions, "manager"> = {},
  ): Promise<PluginTestRun<H>> {
    const { context: fields, ...invokeOptions } = options;
    const context = testContext(fields);
    const [result, contexts] = await this.#manager.invokeHook(
      hook,
      payload,
      context,
      invokeOptions,
    );
    await Promise.all(result.background_tasks);
    const name = this.#plugin.name;
    const record = result.executions.find((r) => r.plugin_name === name) ?? null;
    return { result, record, context, contexts };
  }

  /** Shuts the manager and the plugin down. Idempotent. */
  close(): Promise<void> {
    return this.#manager.shutdown();
  }

  /** Closes the harness at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Runs `hook` of `plugin` once through a fresh {@linkcode PluginManager}, exactly as a gateway
 * would (mode, on_error, conditions, payload policies, timeout, result checks), then shuts the
 * manager and the plugin down. The plugin's `initialize()` runs first; a failure to initialize
 * or an `on_error: fail` error rejects, as in a gateway.
 *
 * @param plugin The plugin to test, constructed with its config.
 * @param hook The hook to run, e.g. `tool_pre_invoke`.
 * @param payload The hook's payload (typed for built-in hooks).
 * @param options The request context, manager options and invoke options.
 * @returns The result, the plugin's execution record and the contexts after the call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Plugin, type ToolPreInvokePayload } from "@cpex/core";
 * import { testPlugin } from "@cpex/core/testing";
 *
 * class NoDelete extends Plugin {
 *   tool_pre_invoke(payload: ToolPreInvokePayload) {
 *     if (payload.name !== "delete_all") return {};
 *     return {
 *       continue_processing: false,
 *       violation: { reason: "forbidden", description: "no", code: "NO_DELETE" },
 *     };
 *   }
 * }
 *
 * const plugin = new NoDelete({ name: "no-delete", kind: "inline", hooks: ["tool_pre_invoke"] });
 * const run = await testPlugin(plugin, "tool_pre_invoke", { name: "delete_all", args: {} }, {
 *   context: { user: "alice" },
 * });
 * assert.equal(run.result.continue_processing, false);
 * assert.equal(run.result.violation?.code, "NO_DELETE");
 * assert.equal(run.record?.effective_allow, false);
 * ```
 */
export async function testPlugin<H extends string>(
  plugin: Plugin,
  hook: H,
  payload: PayloadOf<H>,
  options: TestPluginOptions = {},
): Promise<PluginTestRun<H>> {
  const { manager, ...runOptions } = options;
  const harness = await PluginHarness.start(plugin, manager);
  try {
    return await harness.run(hook, payload, runOptions);
  } finally {
    await harness.close();
  }
}
