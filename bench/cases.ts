/**
 * The in-process benchmark cases shared by `manager_bench.ts` (deno bench) and
 * `manager_ratio.ts` (a plain timing script): hook invocations through a real
 * {@linkcode PluginManager} with no-op plugins, and the raw baseline of the same number of
 * chained async calls without any manager.
 *
 * @module
 */
import {
  type GlobalContext,
  type HookPayloadPolicy,
  HookRegistry,
  Plugin,
  PluginManager,
  type PluginMode,
  type PluginResult,
  type ToolPreInvokePayload,
} from "../mod.ts";

/** A plugin that allows everything and does nothing. */
export class NoOp extends Plugin {
  /** Allows the call. */
  // deno-lint-ignore require-await
  async tool_pre_invoke(_payload: ToolPreInvokePayload): Promise<PluginResult> {
    return {};
  }
}

/** The payload every case sends. */
export const PAYLOAD: ToolPreInvokePayload = {
  name: "web_search",
  args: { query: "deno plugin frameworks", limit: 5 },
};

/** The global context every case sends. */
export const GLOBAL_CONTEXT: GlobalContext = { request_id: "bench", server_id: "bench" };

/** A runnable benchmark case: `run()` performs one invocation. */
export interface BenchCase {
  /** Short label. */
  name: string;
  /** True for the raw baseline the other cases are compared with. */
  baseline?: boolean;
  /** One invocation. */
  run: () => Promise<unknown>;
  /** Releases what the case holds (shuts its manager down). */
  close: () => Promise<void>;
}

/** Builds a manager with `count` no-op plugins in `mode`, and the policies given. */
async function managerWith(
  count: number,
  mode: PluginMode,
  hookPolicies?: Record<string, HookPayloadPolicy>,
  hookRegistry?: HookRegistry,
): Promise<PluginManager> {
  const manager = new PluginManager(undefined, { hookPolicies, hookRegistry });
  await manager.initialize();
  for (let i = 0; i < count; i++) {
    await manager.registerPlugin(
      new NoOp({ name: `noop-${i}`, kind: "bench", mode, hooks: ["tool_pre_invoke"] }),
    );
  }
  return manager;
}

function managerCase(name: string, manager: PluginManager): BenchCase {
  return {
    name,
    run: () => manager.invokeHook("tool_pre_invoke", PAYLOAD, GLOBAL_CONTEXT),
    close: () => manager.shutdown(),
  };
}

/**
 * Like {@linkcode managerCase} with a new payload object per call (a real gateway never sends
 * the same one twice), so nothing can be skipped for an already-checked, frozen object.
 */
function freshCase(name: string, manager: PluginManager): BenchCase {
  return {
    name,
    run: () =>
      manager.invokeHook("tool_pre_invoke", {
        name: "web_search",
        args: { query: "deno plugin frameworks", limit: 5 },
      }, GLOBAL_CONTEXT),
    close: () => manager.shutdown(),
  };
}

/** The raw baseline: five chained `await fn(payload, ctx)` calls, each returning `{}`. */
export function rawCase(): BenchCase {
  // deno-lint-ignore require-await
  const fns = Array.from({ length: 5 }, () => async (_p: unknown, _c: unknown) => ({}));
  return {
    name: "raw: 5 chained async calls",
    baseline: true,
    run: async () => {
      for (const fn of fns) await fn(PAYLOAD, GLOBAL_CONTEXT);
    },
    close: () => Promise.resolve(),
  };
}

/** All cases, baseline first. */
export async function buildCases(): Promise<BenchCase[]> {
  return [
    rawCase(),
    managerCase("1 sequential no-op", await managerWith(1, "sequential")),
    managerCase("5 sequential no-op", await managerWith(5, "sequential")),
    managerCase("5 concurrent no-op", await managerWith(5, "concurrent")),
    managerCase(
      "5 sequential + writable_fields policy",
      await managerWith(5, "sequential", {
        tool_pre_invoke: { writable_fields: new Set(["args"]) },
      }),
    ),
    // The cost of validating the input payload once per invokeHook (issue 12): the same
    // manager with the built-in registry (validated) and with an empty one (not validated).
    freshCase("5 sequential, fresh payload, validated", await managerWith(5, "sequential")),
    freshCase(
      "5 sequential, fresh payload, unvalidated",
      await managerWith(5, "sequential", undefined, new HookRegistry()),
    ),
  ];
}
