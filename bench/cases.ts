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
import { freshPayload, payloadText, SIZES } from "./payloads.ts";

/** A plugin that allows everything and does nothing. */
export class NoOp extends Plugin {
  /** Allows the call. */
  // deno-lint-ignore require-await
  async tool_pre_invoke(_payload: ToolPreInvokePayload): Promise<PluginResult> {
    return {};
  }
}

/** A plugin that allows everything and returns metadata (no fast path for an empty result). */
export class Tagger extends Plugin {
  /** Allows the call with a metadata entry. */
  // deno-lint-ignore require-await
  async tool_pre_invoke(_payload: ToolPreInvokePayload): Promise<PluginResult> {
    return { metadata: { checked_by: this.name } };
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

/** Builds a manager with `count` no-op (or metadata-returning) plugins in `mode`. */
async function managerWith(
  count: number,
  mode: PluginMode,
  hookPolicies?: Record<string, HookPayloadPolicy>,
  hookRegistry?: HookRegistry,
  plugin: typeof NoOp | typeof Tagger = NoOp,
): Promise<PluginManager> {
  const manager = new PluginManager(undefined, { hookPolicies, hookRegistry });
  await manager.initialize();
  for (let i = 0; i < count; i++) {
    await manager.registerPlugin(
      new plugin({ name: `noop-${i}`, kind: "bench", mode, hooks: ["tool_pre_invoke"] }),
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

/**
 * An in-process case of the honest table (issue 13): every call parses a fresh payload from
 * `size`'s JSON text (as a gateway does) and sends it; `baseline` names the raw case it is
 * compared with, `target` the largest ratio it may reach.
 */
export interface RatioCase extends BenchCase {
  /** Payload size label (a key of `SIZES`). */
  size: string;
  /** Name of the case this one is divided by. */
  vs?: string;
  /** Largest allowed ratio to `vs` (a row of the targets). */
  target?: number;
}

let requests = 0;

/**
 * A new global context with a new request id, as a gateway makes per request: the context table
 * is keyed by request id, and a key V8 has seen before is much cheaper than a new one (a constant
 * id flattered the manager cases by about 6 µs per call with five plugins).
 */
function freshGlobal(): GlobalContext {
  return { request_id: `req-${++requests}`, server_id: "bench" };
}

/**
 * Five chained `await fn(payload, ctx)` calls on a payload parsed fresh from `text`, with a
 * fresh global context (the same per-call work a gateway does before it calls plugins).
 */
function rawFresh(size: string): RatioCase {
  const text = payloadText(SIZES[size]);
  // deno-lint-ignore require-await
  const fns = Array.from({ length: 5 }, () => async (_p: unknown, _c: unknown) => ({}));
  return {
    name: `raw: 5 chained async calls, fresh ${size}`,
    size,
    baseline: true,
    run: async () => {
      const payload = freshPayload(text);
      const global = freshGlobal();
      for (const fn of fns) await fn(payload, global);
    },
    close: () => Promise.resolve(),
  };
}

function managerFresh(
  name: string,
  size: string,
  manager: PluginManager,
  target?: number,
): RatioCase {
  const text = payloadText(SIZES[size]);
  return {
    name: `${name}, fresh ${size}`,
    size,
    vs: `raw: 5 chained async calls, fresh ${size}`,
    target,
    run: () => manager.invokeHook("tool_pre_invoke", freshPayload(text), freshGlobal()),
    close: () => manager.shutdown(),
  };
}

/**
 * The in-process rows of `deno task bench:all`: per payload size the raw baseline and five
 * no-op plugins (with the targets), plus metadata-returning and CONCURRENT variants.
 */
export async function ratioCases(): Promise<RatioCase[]> {
  const seq = () => managerWith(5, "sequential");
  const targets: Record<string, number> = { "100 B": 6, "1 KB": 2, "10 KB": 1.5 };
  const cases: RatioCase[] = [];
  for (const size of Object.keys(SIZES)) {
    cases.push(rawFresh(size));
    cases.push(managerFresh("5 sequential no-op", size, await seq(), targets[size]));
    cases.push(
      managerFresh(
        "5 sequential metadata",
        size,
        await managerWith(5, "sequential", undefined, undefined, Tagger),
      ),
    );
  }
  cases.push(managerFresh("1 sequential no-op", "100 B", await managerWith(1, "sequential")));
  cases.push(managerFresh("5 concurrent no-op", "1 KB", await managerWith(5, "concurrent")));
  return cases;
}
