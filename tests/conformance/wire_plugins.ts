/**
 * The TypeScript plugins OUR plugin servers host in the wire-level conformance tests
 * (`wire_*_test.ts`); `wire_plugins.py` holds their Python twins for the reference's servers.
 * Each acts only on a payload named after it in lower case (`echo`, `modify`, `block`,
 * `state`, `headers`; prompt and resource payloads by `prompt_id` / `uri`), so one gateway with all of them configured exercises one behaviour per
 * call; on other payloads it allows and returns nothing.
 *
 * @module
 */
import {
  Plugin,
  type PluginConfigInput,
  type PluginContext,
  type PluginResult,
  type PromptPrehookPayload,
  type ResourcePostFetchPayload,
  type ResourcePreFetchPayload,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
} from "../../mod.ts";

/** Returns the payload unchanged as `modified_payload` and its args (or result) as metadata. */
export class WireEcho extends Plugin {
  /** Echoes the payload. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    if (payload.name !== "echo") return {};
    return { modified_payload: payload, metadata: { args: payload.args ?? null } };
  }

  /** Echoes the payload. */
  tool_post_invoke(payload: ToolPostInvokePayload): PluginResult {
    if (payload.name !== "echo") return {};
    return { modified_payload: payload, metadata: { result: payload.result ?? null } };
  }

  /** Echoes the payload. */
  prompt_pre_fetch(payload: PromptPrehookPayload): PluginResult {
    if (payload.prompt_id !== "echo") return {};
    return { modified_payload: payload, metadata: { args: payload.args ?? null } };
  }

  /** Echoes the payload. */
  resource_pre_fetch(payload: ResourcePreFetchPayload): PluginResult {
    if (payload.uri !== "echo") return {};
    return { modified_payload: payload, metadata: { metadata: payload.metadata ?? null } };
  }

  /** Echoes the payload. */
  resource_post_fetch(payload: ResourcePostFetchPayload): PluginResult {
    if (payload.uri !== "echo") return {};
    return { modified_payload: payload, metadata: { content: payload.content ?? null } };
  }
}

/** Adds `args.touched` (the other arguments pass through unchanged). */
export class WireModify extends Plugin {
  /** Modifies one field. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    if (payload.name !== "modify") return {};
    return { modified_payload: { ...payload, args: { ...payload.args, touched: true } } };
  }
}

/** Blocks with a full violation whose details carry the args. */
export class WireBlock extends Plugin {
  /** Blocks. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    if (payload.name !== "block") return {};
    return {
      continue_processing: false,
      violation: {
        reason: "Blocked",
        description: "the wire twin blocks this call",
        code: "WIRE_BLOCK",
        details: { args: payload.args ?? {}, count: Object.keys(payload.args ?? {}).length },
        mcp_error_code: -32001,
        http_status_code: 429,
        http_headers: { "Retry-After": "7" },
      },
      http_headers: { "X-Blocked": "yes" },
      retry_delay_ms: 250,
    };
  }
}

/** Copies the args into its local state and the global state, and notes it in metadata. */
export class WireState extends Plugin {
  /** Writes state. */
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    if (payload.name !== "state") return {};
    context.setState("args", payload.args);
    context.metadata.seen = Object.keys(payload.args ?? {}).length;
    const global = context.global_context.state ??= {};
    global.wire_args = payload.args;
    return { metadata: { global_keys: Object.keys(global).sort() } };
  }
}

/** Allows with `http_headers` (rate-limit style) and a metadata note. */
export class WireHeaders extends Plugin {
  /** Allows with headers. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    if (payload.name !== "headers") return {};
    return {
      http_headers: { "X-RateLimit-Remaining": "3", "X-Wire": "twin" },
      metadata: { headers: true },
    };
  }
}

/** The hooks of the echo plugin (every payload family the twin sends). */
export const ECHO_HOOKS: string[] = [
  "tool_pre_invoke",
  "tool_post_invoke",
  "prompt_pre_fetch",
  "resource_pre_fetch",
  "resource_post_fetch",
];

/** Names of the served plugins, in order (the gateway configures every one). */
export const WIRE_PLUGIN_NAMES: readonly string[] = ["Echo", "Modify", "Block", "State", "Headers"];

/**
 * The plugin set (fresh instances), configured as `wire_plugins.yaml` configures the twins.
 *
 * @example
 * ```ts
 * import { wirePlugins } from "./wire_plugins.ts";
 * console.log(wirePlugins().map((p) => p.name)); // WIRE_PLUGIN_NAMES
 * ```
 */
export function wirePlugins(): Plugin[] {
  const base = { kind: "inline", mode: "sequential" } as const;
  const pre = ["tool_pre_invoke"];
  const config = (name: string, hooks = pre): PluginConfigInput => ({ ...base, name, hooks });
  return [
    new WireEcho(config("Echo", ECHO_HOOKS)),
    new WireModify(config("Modify")),
    new WireBlock(config("Block")),
    new WireState(config("State")),
    new WireHeaders(config("Headers")),
  ];
}
