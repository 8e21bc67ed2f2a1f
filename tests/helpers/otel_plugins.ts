/**
 * The guard plugins of the OpenTelemetry tests (issue 15): `guard` blocks the `delete` tool
 * (code DENY_DELETE), `flaky` fails on the `flaky` tool, `slow` never answers on the `slow` tool
 * until its 50 ms timeout; `flaky` and `slow` have `on_error: ignore` (fail-open).
 *
 * @module
 */
import {
  type HookCallOptions,
  Plugin,
  type PluginResult,
  type ToolPreInvokePayload,
} from "../../mod.ts";

/** The hook every plugin here handles. */
export const HOOK = "tool_pre_invoke";

/** The tools each test calls, in order: 3 allowed, 1 blocked, 1 failing, 1 timing out. */
export const CALLS: readonly string[] = ["read", "read", "read", "delete", "flaky", "slow"];

/** Blocks calls of the `delete` tool with code DENY_DELETE. */
class Guard extends Plugin {
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    return payload.name === "delete"
      ? {
        continue_processing: false,
        violation: { reason: "no deletes", description: "blocked", code: "DENY_DELETE" },
      }
      : {};
  }
}

/** Fails on the `flaky` tool. */
class Flaky extends Plugin {
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    if (payload.name === "flaky") throw new Error("backend down");
    return {};
  }
}

/** Never answers on the `slow` tool (until the manager's deadline aborts it). */
class Slow extends Plugin {
  tool_pre_invoke(
    payload: ToolPreInvokePayload,
    _c: unknown,
    o: HookCallOptions,
  ): Promise<PluginResult> {
    if (payload.name !== "slow") return Promise.resolve({});
    return new Promise((_, reject) =>
      o.signal.addEventListener("abort", () => reject(o.signal.reason))
    );
  }
}

/** Fresh instances of the three plugins. */
export function guardPlugins(): Plugin[] {
  return [
    new Guard({ name: "guard", kind: "inline", hooks: [HOOK], priority: 1 }),
    new Flaky({ name: "flaky", kind: "inline", hooks: [HOOK], priority: 2, on_error: "ignore" }),
    new Slow({
      name: "slow",
      kind: "inline",
      hooks: [HOOK],
      priority: 3,
      on_error: "ignore",
      timeout: 0.05,
    }),
  ];
}
