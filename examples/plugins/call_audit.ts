/**
 * An example AUDIT plugin that follows one tool call from its pre hook to its post hook.
 *
 * The pre hook remembers when the call started in the plugin's private context state; the post
 * hook reads it back and reports the tool's round trip in the result metadata. This works when
 * the gateway passes the context table returned by the pre hook to the post hook
 * (`localContexts`), which is how a request's plugins keep per-request state.
 *
 * ```yaml
 * - name: CallAudit
 *   kind: ./plugins/call_audit.ts#CallAudit
 *   hooks: [tool_pre_invoke, tool_post_invoke]
 *   mode: audit
 * ```
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

/**
 * Records the start of a tool call in its context (`tool_pre_invoke`) and reports
 * `{ audit: { tool, user, round_trip_us } }` in `tool_post_invoke`, or `round_trip_us: null`
 * when the post hook got a fresh context (the pre hook's table was not passed back).
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { CallAudit } from "./call_audit.ts";
 *
 * const manager = new PluginManager();
 * await manager.registerPlugin(
 *   new CallAudit({ name: "audit", kind: "example", mode: "audit", hooks: ["tool_pre_invoke", "tool_post_invoke"] }),
 * );
 * const ctx = { request_id: "r1", user: "alice" };
 * const [, contexts] = await manager.invokeHook("tool_pre_invoke", { name: "crm", args: {} }, ctx);
 * const [post] = await manager.invokeHook("tool_post_invoke", { name: "crm", result: "ok" }, ctx, {
 *   localContexts: contexts ?? undefined,
 * });
 * console.log(post.metadata?.audit); // { tool: "crm", user: "alice", round_trip_us: 42 }
 * await manager.shutdown();
 * ```
 */
export class CallAudit extends Plugin {
  /** Remembers the tool and the start time in this request's private state. */
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    context.setState("started_at", performance.now());
    context.setState("tool", payload.name);
    return {};
  }

  /** Reports the round trip measured from the pre hook. */
  tool_post_invoke(payload: ToolPostInvokePayload, context: PluginContext): PluginResult {
    const startedAt = context.getState<number>("started_at");
    const sameTool = context.getState<string>("tool") === payload.name;
    const roundTrip = startedAt !== undefined && sameTool
      ? Math.round((performance.now() - startedAt) * 1000)
      : null;
    return {
      metadata: {
        audit: { tool: payload.name, user: context.userEmail, round_trip_us: roundTrip },
      },
    };
  }
}
