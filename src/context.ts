/**
 * The per-plugin context handed to every hook call.
 *
 * @module
 */
import type { GlobalContext, UserContext } from "./types.ts";

/**
 * A plugin's own context within one request: private `state` and `metadata` that survive from
 * a pre hook to its post hook when the caller passes the returned context table back, plus this
 * plugin's copy of the request-wide {@linkcode GlobalContext}.
 *
 * @example
 * ```ts
 * import { PluginContext } from "@cpex/core";
 * const ctx = new PluginContext({ request_id: "r1", user: "alice" });
 * ctx.setState("seen", true);
 * console.log(ctx.getState("seen"), ctx.userEmail); // true "alice"
 * ```
 */
export class PluginContext {
  /** Private state of this plugin for this request. */
  state: Record<string, unknown>;
  /** Private metadata of this plugin for this request. */
  metadata: Record<string, unknown>;
  /** This plugin's copy of the request-wide context. */
  global_context: GlobalContext;

  /** Creates a context around `globalContext`, optionally with initial private state. */
  constructor(
    globalContext: GlobalContext,
    state: Record<string, unknown> = {},
    metadata: Record<string, unknown> = {},
  ) {
    this.global_context = globalContext;
    this.state = state;
    this.metadata = metadata;
  }

  /** Reads a private state value, or `defaultValue` when absent. */
  getState<T = unknown>(key: string, defaultValue?: T): T | undefined {
    return key in this.state ? this.state[key] as T : defaultValue;
  }

  /** Writes a private state value. */
  setState(key: string, value: unknown): void {
    this.state[key] = value;
  }

  /** Clears private state and metadata. */
  cleanup(): Promise<void> {
    this.state = {};
    this.metadata = {};
    return Promise.resolve();
  }

  /** True when private state, metadata and the global state are all empty. */
  isEmpty(): boolean {
    return isEmptyRecord(this.state) && isEmptyRecord(this.metadata) &&
      isEmptyRecord(this.global_context.state);
  }

  /** The structured user identity, if any. */
  get userContext(): UserContext | null {
    return this.global_context.user_context ?? null;
  }

  /** The user's email: from `user_context`, else a string `user`, else `user.email`. */
  get userEmail(): string | null {
    const g = this.global_context;
    if (g.user_context) return g.user_context.email ?? null;
    if (typeof g.user === "string") return g.user;
    if (g.user && typeof g.user === "object") {
      const email = (g.user as Record<string, unknown>).email;
      return typeof email === "string" ? email : null;
    }
    return null;
  }

  /** The user's groups, or an empty list. */
  get userGroups(): string[] {
    return this.global_context.user_context?.groups ?? [];
  }
}

function isEmptyRecord(r: Record<string, unknown> | undefined): boolean {
  if (!r) return true;
  for (const _ in r) return false;
  return true;
}

/**
 * The contexts of the plugins that ran in one hook call, keyed by
 * `global_context.request_id + plugin id`. Pass it back as `localContexts` to the post hook.
 *
 * @example
 * ```ts
 * import type { PluginContextTable } from "@cpex/core";
 * const table: PluginContextTable = {};
 * console.log(Object.keys(table).length); // 0
 * ```
 */
export type PluginContextTable = Record<string, PluginContext>;
