/**
 * Error types raised by the manager, the config loader and the plugins.
 *
 * @module
 */
import type { ExecutionRecord, PluginErrorModel, PluginViolation } from "./types.ts";

/** JSON-RPC "internal error", the default `mcp_error_code` of a plugin error. */
export const INTERNAL_ERROR_CODE: number = -32603;

/**
 * The `code` of the `PluginError` a call fails with, at once and without a network send,
 * when no replica of its plugin may take it (every breaker open or every replica unhealthy).
 *
 * @example
 * ```ts
 * import { CIRCUIT_OPEN, PluginError } from "@cpex/core";
 * const isOpen = (e: unknown) => e instanceof PluginError && e.error.code === CIRCUIT_OPEN;
 * console.log(isOpen(new Error("x"))); // false
 * ```
 */
export const CIRCUIT_OPEN = "CIRCUIT_OPEN" as const;

/**
 * The `code` of the `PluginError` an `isolation: worker` plugin's calls fail with, at once,
 * once it has leaked `max_stuck` Worker threads stuck in synchronous code (Deno 2.9 cannot
 * stop such a thread, so no more workers are started for it; `isolation: process` can).
 *
 * @example
 * ```ts
 * import { PluginError, SANDBOX_STUCK } from "@cpex/core";
 * const isStuck = (e: unknown) => e instanceof PluginError && e.error.code === SANDBOX_STUCK;
 * console.log(isStuck(new Error("x"))); // false
 * ```
 */
export const SANDBOX_STUCK = "SANDBOX_STUCK" as const;

/**
 * A plugin failed (threw, timed out, returned junk) and its `on_error` is `fail`; or a lookup
 * of a plugin or hook failed. `error` holds the structured description.
 *
 * @example
 * ```ts
 * import { PluginError } from "@cpex/core";
 * try {
 *   throw new PluginError({ message: "boom", plugin_name: "p" });
 * } catch (e) {
 *   if (e instanceof PluginError) console.log(e.error.plugin_name); // "p"
 * }
 * ```
 */
export class PluginError extends Error {
  /** The structured error. */
  readonly error: PluginErrorModel;

  /** Wraps a {@linkcode PluginErrorModel}; the message is the model's message. */
  constructor(error: PluginErrorModel, options?: ErrorOptions) {
    super(error.message, options);
    this.name = "PluginError";
    this.error = {
      code: "",
      details: {},
      mcp_error_code: INTERNAL_ERROR_CODE,
      ...error,
    };
  }
}

/**
 * A SEQUENTIAL or CONCURRENT plugin blocked the request and the caller asked for
 * `violationsAsExceptions`. `executions` holds the records of the plugins run so far.
 *
 * @example
 * ```ts
 * import { PluginViolationError } from "@cpex/core";
 * const e = new PluginViolationError("blocked", { reason: "r", description: "d", code: "c" });
 * console.log(e.violation?.code); // "c"
 * ```
 */
export class PluginViolationError extends Error {
  /** The violation, or null when the plugin blocked without one. */
  readonly violation: PluginViolation | null;
  /** Records of every plugin run before and including the blocking one (null if not raised by the manager). */
  executions: ExecutionRecord[] | null;

  /** Creates the error. */
  constructor(
    message: string,
    violation: PluginViolation | null = null,
    executions: ExecutionRecord[] | null = null,
  ) {
    super(message);
    this.name = "PluginViolationError";
    this.violation = violation;
    this.executions = executions;
  }
}

/**
 * The payload given to `invokeHook` is larger than the manager's limit.
 *
 * @example
 * ```ts
 * import { PayloadSizeError } from "@cpex/core";
 * const e = new PayloadSizeError("Payload size 2000000 exceeds limit of 1000000 bytes");
 * console.log(e instanceof RangeError); // true
 * ```
 */
export class PayloadSizeError extends RangeError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PayloadSizeError";
  }
}

/**
 * One problem found in a config: where (`plugins[2].mode`) and what.
 *
 * @example
 * ```ts
 * import type { ConfigIssue } from "@cpex/core";
 * const issue: ConfigIssue = { path: "plugins[0].mode", message: "expected one of ..." };
 * ```
 */
export interface ConfigIssue {
  /** Path inside the document, like `plugins[2].mode`; empty for the document itself. */
  path: string;
  /** What is wrong and what is allowed. */
  message: string;
}

/**
 * A config file (or object) is invalid. The message names the file, every path and what is
 * allowed there.
 *
 * @example
 * ```ts
 * import { ConfigError } from "@cpex/core";
 * const e = new ConfigError("plugins.yaml", [{ path: "plugins[0].mode", message: "bad" }]);
 * console.log(e.message); // "Invalid config plugins.yaml: plugins[0].mode: bad"
 * ```
 */
export class ConfigError extends Error {
  /** The file, or a label such as `<object>`. */
  readonly file: string;
  /** Every problem found. */
  readonly issues: ConfigIssue[];

  /** Creates the error from the file label and its issues. */
  constructor(file: string, issues: ConfigIssue[], options?: ErrorOptions) {
    const detail = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
    super(`Invalid config ${file}: ${detail}`, options);
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }
}

/**
 * A plugin did not finish within its timeout. Used inside the executor; callers see it only as
 * the cause of a {@linkcode PluginError} or as a `timeout` execution record.
 *
 * @example
 * ```ts
 * import { PluginTimeoutError } from "@cpex/core";
 * const e = new PluginTimeoutError("slow", 0.5);
 * console.log(e.message); // "Plugin slow exceeded 0.5s timeout"
 * ```
 */
export class PluginTimeoutError extends Error {
  /** The timeout in seconds. */
  readonly timeout: number;
  /** Creates the error for plugin `pluginName` and its timeout in seconds. */
  constructor(pluginName: string, timeout: number) {
    super(`Plugin ${pluginName} exceeded ${timeout}s timeout`);
    this.name = "TimeoutError";
    this.timeout = timeout;
  }
}

/**
 * Renders an error the way the reference does (Python `repr`): `TypeError('bad value')`.
 * Non-errors render as `Error('<value>')`.
 */
export function errorRepr(err: unknown): string {
  if (err instanceof PluginTimeoutError) return "TimeoutError()";
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  if (message === "") return `${name}()`;
  const quote = message.includes("'") && !message.includes('"') ? '"' : "'";
  const escaped = quote === "'" ? message.replaceAll("\\", "\\\\").replaceAll("'", "\\'") : message;
  return `${name}(${quote}${escaped}${quote})`;
}
