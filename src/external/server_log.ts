/**
 * The plugin server's logger (issue 12): levels (`debug`, `info`, `warn`, `error`; option, else
 * PLUGINS_LOG_LEVEL, else `info`) and two formats, text lines or JSON lines, on stderr (stdout
 * belongs to the `READY` line and to the MCP stdio protocol). Fields name the plugin, hook and
 * request id; payloads are never logged, and error messages are logged only at `debug`.
 *
 * @module
 */
import { readEnv } from "../config/env.ts";

/**
 * A log level, least to most severe.
 *
 * @example
 * ```ts
 * import type { LogLevel } from "@cpex/core/server";
 * const level: LogLevel = "warn";
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The levels in order of severity. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * Text lines (`cpex serve: message key=value`) or JSON lines.
 *
 * @example
 * ```ts
 * import type { LogFormat } from "@cpex/core/server";
 * const format: LogFormat = "json";
 * ```
 */
export type LogFormat = "text" | "json";

/** Structured fields of a log line (never payload contents). */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * What the plugin server logs through; also usable as the manager's `logger`.
 *
 * @example
 * ```ts
 * import { createServerLogger } from "@cpex/core/server";
 * const log = createServerLogger({ level: "debug", format: "json" });
 * log.debug("plugin call", { plugin: "p", hook: "tool_pre_invoke", request_id: "r1" });
 * ```
 */
export interface ServerLogger {
  /** The lowest level written. */
  readonly level: LogLevel;
  /** Details for diagnosis (each call, error messages). */
  debug(message: string, fields?: LogFields): void;
  /** Progress (plugins loaded, listening, stopped). */
  info(message: string, fields?: LogFields): void;
  /** A non-fatal problem. */
  warn(message: string, fields?: LogFields): void;
  /** A failure (a plugin call that failed). */
  error(message: string, fields?: LogFields): void;
}

/**
 * Options of {@linkcode createServerLogger}.
 *
 * @example
 * ```ts
 * import type { ServerLoggerOptions } from "@cpex/core/server";
 * const o: ServerLoggerOptions = { level: "warn", format: "text", prefix: "my-server" };
 * ```
 */
export interface ServerLoggerOptions {
  /** The lowest level written (default PLUGINS_LOG_LEVEL, else `info`). */
  level?: LogLevel;
  /** `text` (default) or `json`. */
  format?: LogFormat;
  /** The prefix of text lines (default `cpex serve`). */
  prefix?: string;
  /** Where lines go (default stderr); each call gets one line with its newline. */
  write?: (line: string) => void;
}

/**
 * The level to use: `given`, else PLUGINS_LOG_LEVEL (read only where `--allow-env` grants it),
 * else `info`. Throws a `RangeError` naming the accepted levels for anything else.
 *
 * @example
 * ```ts
 * import { resolveLogLevel } from "@cpex/core/server";
 * console.log(resolveLogLevel("debug")); // "debug"
 * ```
 */
export function resolveLogLevel(given?: string): LogLevel {
  const raw = given ?? readEnv("PLUGINS_LOG_LEVEL")?.trim().toLowerCase() ?? "info";
  const level = raw === "warning" ? "warn" : raw;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new RangeError(
      `log level '${raw}' is not one of ${LOG_LEVELS.join(", ")}` +
        (given === undefined ? " (from PLUGINS_LOG_LEVEL)" : ""),
    );
  }
  return level as LogLevel;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

function textValue(value: string | number | boolean | null): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * A logger writing lines at or above its level.
 *
 * @example
 * ```ts
 * import { createServerLogger } from "@cpex/core/server";
 * const lines: string[] = [];
 * const log = createServerLogger({ level: "info", write: (l) => lines.push(l) });
 * log.error("plugin call failed", { plugin: "p", hook: "tool_pre_invoke", request_id: "r1" });
 * console.log(lines[0]); // cpex serve: plugin call failed plugin=p hook=tool_pre_invoke request_id=r1
 * ```
 */
export function createServerLogger(options: ServerLoggerOptions = {}): ServerLogger {
  const level = options.level ?? resolveLogLevel();
  const min = LOG_LEVELS.indexOf(level);
  const write = options.write ?? writeStderr;
  const prefix = options.prefix ?? "cpex serve";
  const json = options.format === "json";
  const log = (at: LogLevel) => (message: string, fields: LogFields = {}): void => {
    if (LOG_LEVELS.indexOf(at) < min) return;
    const set = Object.entries(fields).filter(([, v]) => v !== undefined) as [
      string,
      string | number | boolean | null,
    ][];
    if (json) {
      write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: at,
          msg: message,
          ...Object.fromEntries(set),
        }) + "\n",
      );
    } else {
      const rest = set.map(([k, v]) => ` ${k}=${textValue(v)}`).join("");
      write(`${prefix}: ${message}${rest}\n`);
    }
  };
  return {
    level,
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
}
