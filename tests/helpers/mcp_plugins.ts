/**
 * Plugins hosted by the MCP test servers (in-process for HTTP, in a child for STDIO), each with
 * one deterministic behaviour: allow, modify, block, raise, keep context, and crash the
 * process.
 *
 * @module
 */
import {
  Plugin,
  type PluginContext,
  type PluginResult,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
} from "../../mod.ts";

/** Allows everything. */
export class AllowPlugin extends Plugin {
  /** Allows. */
  tool_pre_invoke(): PluginResult {
    return { metadata: { seen: true } };
  }
}

/** Upper-cases `args.text`. */
export class ModifyPlugin extends Plugin {
  /** Returns the payload with `args.text` upper-cased. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    const text = String(payload.args?.text ?? "");
    return {
      modified_payload: { ...payload, args: { ...payload.args, text: text.toUpperCase() } },
    };
  }
}

/** Blocks every call with code `BLOCKED_WORD`. */
export class BlockPlugin extends Plugin {
  /** Blocks. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    return {
      continue_processing: false,
      violation: {
        reason: "Blocked word",
        description: `Tool ${payload.name} is blocked`,
        code: "BLOCKED_WORD",
        details: { arg: "text" },
        http_status_code: 403,
      },
    };
  }
}

/** Throws `Error("Sadly! boom")`. */
export class RaisePlugin extends Plugin {
  /** Throws. */
  tool_pre_invoke(): PluginResult {
    throw new Error("Sadly! boom");
  }
}

/** Counts calls in its local state and marks the global state; post-invoke reports the count. */
export class ContextPlugin extends Plugin {
  /** Increments `state.count`, sets `metadata.pre` and `global_context.state.touched`. */
  tool_pre_invoke(_payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    context.state.count = Number(context.state.count ?? 0) + 1;
    context.metadata.pre = true;
    context.global_context.state = { ...context.global_context.state, touched: "yes" };
    return {};
  }

  /** Returns the result with the count seen in the local state. */
  tool_post_invoke(
    payload: ToolPostInvokePayload,
    context: PluginContext,
  ): PluginResult<ToolPostInvokePayload> {
    return { modified_payload: { ...payload, result: { count: context.state.count ?? null } } };
  }
}

/** Exits the whole process when `args.crash` is set (STDIO child-death tests). */
export class CrashPlugin extends Plugin {
  /** Exits with code 3 on `args.crash`, else allows. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    if (payload.args?.crash) Deno.exit(3);
    return { metadata: { pid: Deno.pid } };
  }
}

/**
 * The test plugin set, configured as a plugin server would host them.
 *
 * @example
 * ```ts
 * const plugins = testPlugins();
 * console.log(plugins.length); // 6
 * ```
 */
export function testPlugins(): Plugin[] {
  const base = { kind: "test", hooks: ["tool_pre_invoke"], mode: "sequential" as const };
  return [
    new AllowPlugin({ ...base, name: "Allow", priority: 10, config: { secret: "remote" } }),
    new ModifyPlugin({ ...base, name: "Modify" }),
    new BlockPlugin({ ...base, name: "Block" }),
    new RaisePlugin({ ...base, name: "Raise" }),
    new ContextPlugin({ ...base, name: "Context", hooks: ["tool_pre_invoke", "tool_post_invoke"] }),
    new CrashPlugin({ ...base, name: "Crash" }),
  ];
}

/** Waits `args.ms` milliseconds (default 60 s), then allows (timeout and cancel tests). */
export class SlowPlugin extends Plugin {
  static readonly #sleeping = new Set<() => void>();

  /** Ends every sleep now (tests call it before they finish: no timer outlives them). */
  static wakeAll(): void {
    for (const wake of SlowPlugin.#sleeping) wake();
  }

  /** Sleeps, then allows. */
  async tool_pre_invoke(payload: ToolPreInvokePayload): Promise<PluginResult> {
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        SlowPlugin.#sleeping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Number(payload.args?.ms ?? 60_000));
      SlowPlugin.#sleeping.add(wake);
    });
    return {};
  }
}

/**
 * The test plugin set plus `Slow` (kept apart so the set's size stays what other tests expect).
 *
 * @example
 * ```ts
 * const plugins = testPluginsWithSlow();
 * console.log(plugins.length); // 7
 * ```
 */
export function testPluginsWithSlow(): Plugin[] {
  const slow = new SlowPlugin({
    name: "Slow",
    kind: "test",
    hooks: ["tool_pre_invoke"],
    mode: "sequential",
  });
  return [...testPlugins(), slow];
}
