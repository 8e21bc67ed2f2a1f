/**
 * The aggregated result of one hook call.
 *
 * @module
 */
import type {
  ExecutionRecord,
  Extensions,
  PluginErrorModel,
  PluginResult,
  PluginViolation,
} from "../types.ts";

/**
 * What `invokeHook` returns: the chain's decision, the final payload, merged metadata, the
 * execution records, and the fire-and-forget tasks still running.
 *
 * @example
 * ```ts
 * import { HookResult } from "@cpex/core";
 * const r = new HookResult();
 * console.log(r.continue_processing, r.modified_payload); // true null
 * console.log(await r.waitForBackgroundTasks()); // []
 * ```
 */
export class HookResult<T = unknown> implements PluginResult<T> {
  /** False when a SEQUENTIAL or CONCURRENT plugin blocked the request. */
  continue_processing = true;
  /** The final payload when some plugin's modification was accepted, else null. */
  modified_payload: T | null = null;
  /** The last accepted extensions, else null. */
  modified_extensions: Extensions | null = null;
  /** The blocking plugin's violation, if any. */
  violation: PluginViolation | null = null;
  /** Metadata of every plugin that ran (later writers win). */
  metadata: Record<string, unknown> = {};
  /** HTTP headers requested by plugins (later writers win), or null. */
  http_headers: Record<string, string> | null = null;
  /** The largest retry delay any plugin asked for. */
  retry_delay_ms = 0;
  /** One record per plugin that ran or was spawned. */
  executions: ExecutionRecord[] = [];
  /** Fire-and-forget tasks; each resolves to an error model, or undefined on success. */
  background_tasks: Promise<PluginErrorModel | undefined>[] = [];

  /** Awaits every background task and returns the errors they reported. */
  async waitForBackgroundTasks(): Promise<PluginErrorModel[]> {
    const errors: PluginErrorModel[] = [];
    for (const outcome of await Promise.all(this.background_tasks)) {
      if (outcome) errors.push(outcome);
    }
    return errors;
  }

  /** The wire shape (without background tasks). */
  toJSON(): Record<string, unknown> {
    return {
      continue_processing: this.continue_processing,
      modified_payload: this.modified_payload,
      modified_extensions: this.modified_extensions,
      violation: this.violation,
      metadata: this.metadata,
      http_headers: this.http_headers,
      retry_delay_ms: this.retry_delay_ms,
      executions: this.executions,
    };
  }
}

const suppressedBlocks = new WeakSet<HookResult>();

/**
 * Marks `result` as one whose TRANSFORM or AUDIT plugin asked to block (suppressed): a plugin
 * server then answers with `metadata: null`, as the reference does (issue 11 item 8).
 *
 * @example
 * ```ts
 * import { HookResult, isBlockSuppressed, markBlockSuppressed } from "./result.ts";
 * const r = markBlockSuppressed(new HookResult());
 * console.log(isBlockSuppressed(r)); // true
 * ```
 */
export function markBlockSuppressed<T extends HookResult>(result: T): T {
  suppressedBlocks.add(result);
  return result;
}

/**
 * True when {@linkcode markBlockSuppressed} marked `result`.
 *
 * @example
 * ```ts
 * import { HookResult, isBlockSuppressed } from "./result.ts";
 * console.log(isBlockSuppressed(new HookResult())); // false
 * ```
 */
export function isBlockSuppressed(result: HookResult): boolean {
  return suppressedBlocks.has(result);
}
