/**
 * The gateway-side proxy of a sandboxed plugin (`isolation: worker | process`): the manager
 * runs it like any plugin; each hook call goes to the plugin's sandbox pool with the payload,
 * the plugin's context and its extension view, and comes back with the result and the context
 * as the plugin left it.
 *
 * @module
 */
import type { PluginContext } from "../context.ts";
import { type HookCallOptions, Plugin } from "../plugin.ts";
import type { PluginConfig, PluginResult } from "../types.ts";
import type { PluginModuleRef } from "./entry.ts";
import { SandboxPool } from "./pool.ts";
import { startProcess } from "./process_carrier.ts";
import { findDenoConfig } from "./config_file.ts";
import { preflightSandbox } from "./preflight.ts";
import { DEFAULT_MAX_STUCK } from "./schema.ts";
import { startWorker } from "./worker_carrier.ts";

/**
 * A plugin whose module runs in Workers or child processes with only the permissions of its
 * `permissions:` block.
 */
export class SandboxedPlugin extends Plugin {
  readonly #pool: SandboxPool;

  /** Creates the proxy for the module plugin `ref` (resolved by the loader). */
  constructor(config: PluginConfig, ref: PluginModuleRef) {
    super(config);
    const c = this.config;
    const isolation = c.isolation === "process" ? "process" : "worker";
    const permissions = c.permissions ?? {};
    const configFile = isolation === "process"
      ? findDenoConfig(ref.specifier, new URL(import.meta.url))
      : null;
    this.#pool = new SandboxPool({
      name: c.name,
      isolation,
      config: c,
      size: c.workers ?? 1,
      maxStuck: isolation === "worker" ? c.max_stuck ?? DEFAULT_MAX_STUCK : undefined,
      start: isolation === "process"
        ? (events) => startProcess(ref, permissions, { memoryMb: c.memory_mb, configFile }, events)
        : (events) => startWorker(c.name, ref, permissions, events),
    });
  }

  /** Live sandboxes of this plugin. */
  get liveSandboxes(): number {
    return this.#pool.live;
  }

  /** Worker threads of this plugin leaked stuck in synchronous code (`max_stuck`). */
  get stuckSandboxes(): number {
    return this.#pool.stuck;
  }

  /** Starts the sandboxes; each loads the module and runs the plugin's `initialize()`. */
  override async initialize(): Promise<void> {
    preflightSandbox(this.config);
    await this.#pool.start();
  }

  /** Runs the hook in a sandbox and copies the plugin's context changes back. */
  override async handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    const deadline = options.deadline ?? Infinity;
    const g = context.global_context;
    const done = await this.#pool.call(
      {
        t: "call",
        hook: hookName,
        payload,
        state: context.state,
        metadata: context.metadata,
        global_context: g,
        extensions: options.extensions,
        timeout_ms: Number.isFinite(deadline) ? deadline - performance.now() : null,
      },
      options.signal,
      deadline,
    );
    context.state = done.state;
    context.metadata = done.metadata;
    if (done.global_state) g.state = done.global_state;
    if (done.global_metadata) g.metadata = done.global_metadata;
    return done.result;
  }

  /** Runs the plugin's `shutdown()` in each sandbox and ends them. */
  override async shutdown(): Promise<void> {
    await this.#pool.close();
  }
}
