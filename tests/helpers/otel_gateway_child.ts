/**
 * A gateway for the OpenTelemetry export test (issue 15): a PluginManager with in-process guard
 * plugins, run with Deno's built-in OpenTelemetry (`OTEL_DENO=true`), that makes a known mix of
 * allowed, blocked, failing and timing-out calls, prints `done`, and exits when its stdin closes.
 * It stays up meanwhile because Deno reads observable instruments (the counters) only at its
 * periodic collections, not in the flush at exit; spans are flushed at exit.
 *
 * @module
 */
import {
  type HookCallOptions,
  OtelObservability,
  Plugin,
  PluginManager,
  type PluginResult,
  type ToolPreInvokePayload,
  withTraceId,
} from "../../mod.ts";

const HOOK = "tool_pre_invoke";

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

const manager = new PluginManager(null, { observability: new OtelObservability() });
await manager.initialize();
await manager.registerPlugin(
  new Guard({ name: "guard", kind: "inline", hooks: [HOOK], priority: 1 }),
);
await manager.registerPlugin(
  new Flaky({ name: "flaky", kind: "inline", hooks: [HOOK], priority: 2, on_error: "ignore" }),
);
await manager.registerPlugin(
  new Slow({
    name: "slow",
    kind: "inline",
    hooks: [HOOK],
    priority: 3,
    on_error: "ignore",
    timeout: 0.05,
  }),
);
// 3 allowed, 1 blocked, 1 failing (absorbed), 1 timing out (absorbed).
await withTraceId("gateway-trace", async () => {
  for (const name of ["read", "read", "read", "delete", "flaky", "slow"]) {
    await manager.invokeHook(HOOK, { name, args: {} }, { request_id: `r-${name}` });
  }
});
await manager.shutdown();
console.log("done");
for await (const _ of Deno.stdin.readable) {
  // Wait for the test to close stdin.
}
