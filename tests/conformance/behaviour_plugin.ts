/**
 * Our side's scripted plugin of the manager differential suite: the twin of
 * `behaviour_plugin.py`. The scenario YAML names `kind: behaviour_plugin.BehaviourPlugin`; the
 * driver maps that kind to this class through the manager's `pluginKinds`, so one file drives
 * both managers. `config.script[i]` is the behaviour for the i-th call of the sequence (the
 * drivers put `_call: i` into the global context's metadata).
 *
 * @module
 */
import { Plugin, type PluginContext, type PluginResult } from "../../mod.ts";
import type { HookCallOptions } from "../../src/plugin.ts";

/** The suite's custom (unregistered) hook. */
export const CUSTOM_HOOK = "conformance_custom";

/** One scripted behaviour (see scenario_gen.ts). */
export interface Behaviour {
  act?: "allow" | "modify" | "block" | "throw" | "sleep";
  local?: Record<string, unknown>;
  global?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  gmeta?: Record<string, unknown>;
  retry?: number;
  headers?: Record<string, string>;
  violation?: Record<string, unknown>;
  modify?: boolean;
  tag?: string;
  granted?: boolean;
  seconds?: number;
}

/** What a plugin saw when called. */
export interface TraceEvent {
  plugin: string;
  hook: string;
  call: number;
  payload: unknown;
  local: unknown;
  global: unknown;
  ctx: PluginContext;
}

type Json = Record<string, unknown>;

function clone<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/** The hook-specific change of a `modify` behaviour (the same function as the reference side's). */
export function modify(
  hook: string,
  seen: Json,
  name: string,
  tag: string,
  granted: boolean,
): Json {
  let p: Json = clone(seen);
  const obj = (
    v: unknown,
  ): Json => (v && typeof v === "object" && !Array.isArray(v) ? v as Json : {});
  switch (hook) {
    case "tool_pre_invoke":
    case "prompt_pre_fetch":
      p.args = { ...obj(p.args), [name]: tag };
      break;
    case "tool_post_invoke":
      p.result = { ...obj(p.result), [name]: tag };
      break;
    case "prompt_post_fetch": {
      const result = obj(p.result);
      const messages = Array.isArray(result.messages) ? result.messages : [];
      p.result = { ...result, messages: [...messages, { role: "assistant", text: tag }] };
      break;
    }
    case "resource_pre_fetch":
      p.metadata = { ...obj(p.metadata), [name]: tag };
      break;
    case "resource_post_fetch":
      p.content = { ...obj(p.content), [name]: tag };
      break;
    case "agent_pre_invoke":
      p.parameters = { ...obj(p.parameters), [name]: tag };
      break;
    case "agent_post_invoke":
      p.tool_calls = [...(Array.isArray(p.tool_calls) ? p.tool_calls : []), { plugin: name, tag }];
      break;
    case "http_pre_request":
    case "http_post_request": {
      const headers = "path" in p ? obj(p.headers) : p;
      p = { ...headers, [`x-${name}`]: tag };
      break;
    }
    case "http_auth_resolve_user":
      p = { ...("headers" in p ? {} : p), [name]: tag };
      break;
    case "http_auth_check_permission":
      p = { granted, reason: tag };
      break;
    case CUSTOM_HOOK:
      p.data = { ...obj(p.data), [name]: tag };
      break;
  }
  return p;
}

/** Runs the scripted behaviour of its config for each call. */
export class BehaviourPlugin extends Plugin {
  /** Trace events (set by the driver). */
  sink: TraceEvent[] | null = null;

  override async handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    const cfg = (this.config.config ?? {}) as { script?: (Behaviour | null)[] };
    const call = Number(context.global_context.metadata?._call ?? 0);
    const b: Behaviour = cfg.script?.[call] ?? {};
    const seen = clone(payload) as Json;
    this.sink?.push({
      plugin: this.name,
      hook: hookName,
      call,
      payload: clone(seen),
      local: clone(context.state),
      global: clone(context.global_context.state ?? {}),
      ctx: context,
    });
    for (const [k, v] of Object.entries(b.local ?? {})) context.state[k] = v;
    const g = context.global_context;
    for (const [k, v] of Object.entries(b.global ?? {})) (g.state ??= {})[k] = v;
    for (const [k, v] of Object.entries(b.gmeta ?? {})) (g.metadata ??= {})[k] = v;
    const act = b.act ?? "allow";
    if (act === "throw") {
      const error = new Error(`boom ${this.name}`);
      error.name = "RuntimeError";
      throw error;
    }
    if (act === "sleep") await sleep((b.seconds ?? 30) * 1000, options.signal);
    const result: PluginResult = {};
    if (b.meta) result.metadata = { ...b.meta };
    if (b.retry) result.retry_delay_ms = b.retry;
    if (b.headers) result.http_headers = { ...b.headers };
    if (act === "modify" || b.modify) {
      result.modified_payload = modify(
        hookName,
        seen,
        this.name,
        b.tag ?? this.name,
        b.granted ?? true,
      );
    }
    if (b.violation) result.violation = { ...b.violation } as unknown as PluginResult["violation"];
    if (act === "block") result.continue_processing = false;
    return result;
  }
}

/** Sleeps `ms`, or until `signal` aborts (then rejects with its reason). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
