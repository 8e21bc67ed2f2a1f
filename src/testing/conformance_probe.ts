/**
 * The conformance probe: a plugin whose behaviour is driven by the payload, so that the
 * conformance runner ({@linkcode runConformance}) can check a plugin server's wire contract
 * (violations, errors, context round trip, unicode and numbers, concurrency) without knowing
 * the server's own plugins. Any CPEX plugin server (ours, the Python reference, a third
 * party's) that hosts a plugin named `ConformanceProbe` with this behaviour gets the full
 * check set; servers without it still get the checks that need no special plugin.
 *
 * The contract (the same in `tests/interop/plugins/conformance_probe.py` for the reference):
 *
 * - Hooks: it may declare any of the twelve built-in hooks; the runner drives those its
 *   config lists. Config: `mode: sequential`, `on_error: fail`.
 * - `tool_pre_invoke` reads `payload.args.op`:
 *   - `"echo"` (or absent): `modified_payload` = the payload (`name`, `args`) unchanged,
 *     `metadata: { probe: "echo" }`.
 *   - `"block"`: `continue_processing: false` and a violation with `reason`, `description`,
 *     `code`, `details` (default `{}`), `mcp_error_code` and `http_status_code` (default null)
 *     taken from `args`.
 *   - `"raise"`: raises a structured `PluginError` with `args.message`, `args.code`,
 *     `args.details` and `args.mcp_error_code` (when a number).
 *   - `"raise_plain"`: raises a plain exception whose message contains `args.message`.
 *   - `"context"`: answers `metadata.seen` = `{ state, metadata, global_state, request_id,
 *     server_id, tenant_id, user }` as received, then sets `probe = args.value` in its local
 *     state, its local metadata and the global state (keeping every other key).
 *   - `"sleep"`: waits `args.ms` milliseconds, then echoes.
 * - Every other hook answers `metadata: { probe: <hook name>, seen: <the payload> }` and
 *   allows.
 *
 * @module
 */
import { Plugin } from "../plugin.ts";
import type { PluginContext } from "../context.ts";
import { PluginError } from "../errors.ts";
import type { PluginConfigInput, PluginResult } from "../types.ts";
import { BUILTIN_HOOK_NAMES } from "../hooks/builtins.ts";

/** The name the runner looks for by default. */
export const CONFORMANCE_PROBE_NAME = "ConformanceProbe";

/**
 * The hooks the probe answers (every built-in hook family).
 *
 * @example
 * ```ts
 * import { CONFORMANCE_PROBE_HOOKS } from "@cpex/core/testing";
 * console.log(CONFORMANCE_PROBE_HOOKS.includes("tool_pre_invoke")); // true
 * ```
 */
export const CONFORMANCE_PROBE_HOOKS: readonly string[] = BUILTIN_HOOK_NAMES;

type Args = Record<string, unknown>;

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

function text(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

/**
 * The TypeScript conformance probe: host it in an `ExternalPluginServer` to have
 * `cpex conformance` run every check against that server.
 *
 * @example
 * ```ts
 * import { ExternalPluginServer } from "@cpex/core/server";
 * import { ConformanceProbe } from "@cpex/core/testing";
 *
 * const server = new ExternalPluginServer({ plugins: [new ConformanceProbe()] });
 * await server.initialize();
 * const reply = await server.invokeHook(
 *   "tool_pre_invoke",
 *   "ConformanceProbe",
 *   { name: "t", args: { op: "block", code: "NO", reason: "r", description: "d" } },
 *   { global_context: { request_id: "r1" } },
 * );
 * console.log(reply.result?.continue_processing); // false
 * await server.shutdown();
 * ```
 */
export class ConformanceProbe extends Plugin {
  /** Creates the probe; `config` overrides the defaults (name, every hook, sequential). */
  constructor(config: Partial<PluginConfigInput> = {}) {
    super({
      name: CONFORMANCE_PROBE_NAME,
      kind: "inline",
      hooks: [...CONFORMANCE_PROBE_HOOKS],
      mode: "sequential",
      on_error: "fail",
      ...config,
    } as PluginConfigInput);
  }

  /** Runs the operation named by `args.op` (see the module doc). */
  async tool_pre_invoke(payload: unknown, context: PluginContext): Promise<PluginResult> {
    const p = record(payload);
    const args: Args = record(p.args);
    switch (args.op) {
      case "block":
        return {
          continue_processing: false,
          violation: {
            reason: text(args.reason, "blocked"),
            description: text(args.description, ""),
            code: text(args.code, ""),
            details: record(args.details),
            mcp_error_code: typeof args.mcp_error_code === "number" ? args.mcp_error_code : null,
            http_status_code: typeof args.http_status_code === "number"
              ? args.http_status_code
              : null,
          },
        };
      case "raise":
        throw new PluginError({
          message: text(args.message, "probe error"),
          plugin_name: this.name,
          code: text(args.code, ""),
          details: record(args.details),
          ...(typeof args.mcp_error_code === "number"
            ? { mcp_error_code: args.mcp_error_code }
            : {}),
        });
      case "raise_plain":
        throw new Error(text(args.message, "probe failure"));
      case "context": {
        const g = context.global_context;
        const seen = {
          state: structuredClone(context.state),
          metadata: structuredClone(context.metadata),
          global_state: structuredClone(g.state ?? {}),
          request_id: g.request_id,
          server_id: g.server_id ?? null,
          tenant_id: g.tenant_id ?? null,
          user: g.user ?? null,
        };
        context.state.probe = args.value;
        context.metadata.probe = args.value;
        g.state = { ...(g.state ?? {}), probe: args.value };
        return { metadata: { seen } };
      }
      case "sleep":
        await new Promise((resolve) => setTimeout(resolve, Number(args.ms) || 0));
        return { modified_payload: { name: p.name, args }, metadata: { probe: "echo" } };
      default:
        return { modified_payload: { name: p.name, args }, metadata: { probe: "echo" } };
    }
  }

  /** Answers what it saw. */
  tool_post_invoke(payload: unknown): PluginResult {
    return seen("tool_post_invoke", payload);
  }
  /** Answers what it saw. */
  prompt_pre_fetch(payload: unknown): PluginResult {
    return seen("prompt_pre_fetch", payload);
  }
  /** Answers what it saw. */
  prompt_post_fetch(payload: unknown): PluginResult {
    return seen("prompt_post_fetch", payload);
  }
  /** Answers what it saw. */
  resource_pre_fetch(payload: unknown): PluginResult {
    return seen("resource_pre_fetch", payload);
  }
  /** Answers what it saw. */
  resource_post_fetch(payload: unknown): PluginResult {
    return seen("resource_post_fetch", payload);
  }
  /** Answers what it saw. */
  agent_pre_invoke(payload: unknown): PluginResult {
    return seen("agent_pre_invoke", payload);
  }
  /** Answers what it saw. */
  agent_post_invoke(payload: unknown): PluginResult {
    return seen("agent_post_invoke", payload);
  }
  /** Answers what it saw. */
  http_pre_request(payload: unknown): PluginResult {
    return seen("http_pre_request", payload);
  }
  /** Answers what it saw. */
  http_post_request(payload: unknown): PluginResult {
    return seen("http_post_request", payload);
  }
  /** Answers what it saw. */
  http_auth_resolve_user(payload: unknown): PluginResult {
    return seen("http_auth_resolve_user", payload);
  }
  /** Answers what it saw. */
  http_auth_check_permission(payload: unknown): PluginResult {
    return seen("http_auth_check_permission", payload);
  }
}

function seen(hook: string, payload: unknown): PluginResult {
  return { metadata: { probe: hook, seen: structuredClone(payload) } };
}
