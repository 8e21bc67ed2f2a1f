/**
 * The TypeScript plugins our MCP plugin server hosts for the Python reference gateway in the
 * MCP interop suite (`tests/interop/mcp_server_interop_test.ts`): served in-process over
 * Streamable HTTP, and by `mcp_interop_child.ts` over STDIO. The same behaviours as the raw
 * Unix interop plugins (allow, modify, block, raise, structured error, context state, echo,
 * slow), plus remote `config` sections for the config-merge checks.
 *
 * @module
 */
import {
  Plugin,
  type PluginContext,
  PluginError,
  type PluginResult,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
} from "../../mod.ts";

/** Allows, says so in the result metadata and reports its (remote) config section. */
export class InteropAllow extends Plugin {
  /** Allows. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    const args = payload.args ?? {};
    const types = Object.fromEntries(
      Object.entries(args).map(([k, v]) => [k, Array.isArray(v) ? "array" : typeof v]),
    );
    return { metadata: { allowed_by: "deno", arg_types: types, config: this.config.config } };
  }
}

/** Upper-cases `args.q` and adds an argument. */
export class InteropModify extends Plugin {
  /** Returns the modified payload. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return {
      modified_payload: {
        ...payload,
        args: { ...payload.args, q: String(payload.args?.q).toUpperCase(), added: true },
      },
      metadata: { modified_by: "deno" },
    };
  }
}

/** Blocks with a full violation. */
export class InteropBlock extends Plugin {
  /** Blocks. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    return {
      continue_processing: false,
      violation: {
        reason: "Denied word",
        description: `argument q of ${payload.name} contains a denied word`,
        code: "DENY_WORD",
        details: { word: String(payload.args?.q), positions: [0, 4], nested: { strict: true } },
        mcp_error_code: -32001,
        http_status_code: 403,
      },
    };
  }
}

/** Always throws. */
export class InteropRaise extends Plugin {
  /** Throws `Error("boom from deno")`. */
  tool_pre_invoke(): PluginResult {
    throw new Error("boom from deno");
  }
}

/** Throws a structured PluginError. */
export class InteropRaiseStructured extends Plugin {
  /** Throws a PluginError with code, details and mcp_error_code. */
  tool_pre_invoke(): PluginResult {
    throw new PluginError({
      message: "quota exhausted",
      plugin_name: "RaiseStructured",
      code: "QUOTA",
      details: { limit: 5 },
      mcp_error_code: -32002,
    });
  }
}

/** Writes local and global state in pre, reads its local state back in post. */
export class InteropStateful extends Plugin {
  /** Writes state and reports what it saw. */
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    context.setState("seen_q", payload.args?.q);
    context.setState("calls", 1);
    context.metadata.phase = "pre";
    (context.global_context.state ??= {}).stateful_seen = true;
    const gc = context.global_context;
    return {
      metadata: {
        saw_global_state: { ...gc.state },
        saw_request_id: gc.request_id,
        saw_server_id: gc.server_id ?? null,
        saw_tenant_id: gc.tenant_id ?? null,
        saw_user: gc.user ?? null,
      },
    };
  }

  /** Reports the local state it finds, increments the call count. */
  tool_post_invoke(_payload: ToolPostInvokePayload, context: PluginContext): PluginResult {
    const before = { ...context.state };
    context.setState("calls", Number(context.getState("calls", 0)) + 1);
    context.metadata.phase = "post";
    return { metadata: { local_state_before_post: before } };
  }
}

/** Echoes what it received in the result metadata. */
export class InteropEcho extends Plugin {
  /** Echoes args, user and request id. */
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    const gc = context.global_context;
    return { metadata: { args: payload.args, user: gc.user ?? null, request_id: gc.request_id } };
  }
}

/** Takes 400 ms, then allows. */
export class InteropSlow extends Plugin {
  /** Sleeps, then allows. */
  async tool_pre_invoke(): Promise<PluginResult> {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return { metadata: { [this.name]: "done" } };
  }
}

/**
 * The plugin set, configured as the plugin server hosts it (the "remote" configs).
 *
 * @example
 * ```ts
 * import { interopPlugins } from "./mcp_interop_plugins.ts";
 * console.log(interopPlugins().length); // 11
 * ```
 */
export function interopPlugins(): Plugin[] {
  const sequential = { kind: "inline", mode: "sequential", on_error: "fail" } as const;
  const pre = ["tool_pre_invoke"];
  return [
    new InteropAllow({
      ...sequential,
      name: "Allow",
      hooks: pre,
      priority: 10,
      description: "remote description",
      tags: ["remote"],
      config: { secret: "remote-value", limits: { max: 3 } },
    }),
    new InteropModify({ ...sequential, name: "Modify", hooks: pre }),
    new InteropBlock({ ...sequential, name: "Block", hooks: pre }),
    new InteropRaise({ ...sequential, name: "Raise", hooks: pre }),
    new InteropRaiseStructured({ ...sequential, name: "RaiseStructured", hooks: pre }),
    // Server-side transform mode: the server itself suppresses the violation.
    new InteropBlock({ ...sequential, name: "BlockSoft", hooks: pre, mode: "transform" }),
    new InteropEcho({ ...sequential, name: "Echo", hooks: pre }),
    ...[1, 2, 3].map((i) => new InteropSlow({ ...sequential, name: `Slow${i}`, hooks: pre })),
    new InteropStateful({
      ...sequential,
      name: "Stateful",
      hooks: ["tool_pre_invoke", "tool_post_invoke"],
    }),
  ];
}
