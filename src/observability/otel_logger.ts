/**
 * A {@linkcode ManagerLogger} that emits through the OpenTelemetry logs API as well as to stderr
 * (issue 15 item 4).
 *
 * @module
 */
import { type LoggerProvider, logs, SeverityNumber } from "@opentelemetry/api-logs";
import type { ManagerLogger } from "../manager/manager.ts";

/**
 * An OpenTelemetry `LoggerProvider` (`@opentelemetry/api-logs`), as any logs SDK's is; typed
 * structurally so the public API does not expose the OpenTelemetry types.
 *
 * @example
 * ```ts
 * import type { OtelLoggerProvider } from "@cpex/core";
 * import { logs } from "@opentelemetry/api-logs";
 * const p: OtelLoggerProvider = logs.getLoggerProvider();
 * ```
 */
export interface OtelLoggerProvider {
  /** Returns a logger (an OpenTelemetry `Logger`). */
  getLogger(name: string, version?: string, options?: object): unknown;
}

/**
 * Options of {@linkcode otelLogger}.
 *
 * @example
 * ```ts
 * import type { OtelLoggerOptions } from "@cpex/core";
 * const o: OtelLoggerOptions = { stderr: false };
 * ```
 */
export interface OtelLoggerOptions {
  /** Also write to stderr with `console.warn` (true). */
  stderr?: boolean;
  /** Where records go (default: the global logger provider, read at each record). */
  loggerProvider?: OtelLoggerProvider;
}

/**
 * A logger whose warnings become OpenTelemetry log records (logger `@cpex/core`, severity WARN)
 * and, unless `stderr: false`, are also written to stderr. Switch it on with the manager's
 * `logger` option. The global logger provider is the one an OpenTelemetry logs SDK registers;
 * Deno's built-in OpenTelemetry (`OTEL_DENO=true`) does not register one but exports console
 * output as log records already, so there the stderr copy is what reaches the collector.
 *
 * @example
 * ```ts
 * import { otelLogger, PluginManager } from "@cpex/core";
 * const manager = new PluginManager(null, { logger: otelLogger() });
 * await manager.initialize();
 * await manager.shutdown();
 * ```
 */
export function otelLogger(options: OtelLoggerOptions = {}): ManagerLogger {
  const stderr = options.stderr ?? true;
  const provider = options.loggerProvider as LoggerProvider | undefined;
  return {
    warn(message: string): void {
      try {
        (provider ?? logs.getLoggerProvider()).getLogger("@cpex/core").emit({
          severityNumber: SeverityNumber.WARN,
          severityText: "WARN",
          body: message,
        });
      } catch {
        // A failing logs SDK never breaks the manager.
      }
      if (stderr) console.warn(message);
    },
  };
}
