/**
 * Where the CLI writes: an {@linkcode Output} with separate stdout and stderr sinks, so the
 * commands never touch `console` (the MCP STDIO server owns stdout) and tests can capture both.
 * Also renders errors for people: a {@linkcode ConfigError} becomes one line per issue with its
 * YAML path.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * The two text sinks of the CLI.
 *
 * @example
 * ```ts
 * import type { Output } from "@cpex/core/cli";
 * const lines: string[] = [];
 * const capture: Output = { stdout: (t) => lines.push(t), stderr: (t) => lines.push(t) };
 * ```
 */
export interface Output {
  /** Writes text to standard output (results, help). */
  stdout(text: string): void;
  /** Writes text to standard error (errors, diagnostics). */
  stderr(text: string): void;
}

const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/**
 * The process's own stdout and stderr (synchronous writes, so nothing is lost on exit).
 */
export const processOutput: Output = {
  stdout: (text) => writeAllSync(Deno.stdout, text),
  stderr: (text) => writeAllSync(Deno.stderr, text),
};

/**
 * Renders an error for the terminal: a {@linkcode ConfigError} as a header naming the file and
 * one indented `path: message` line per issue; other errors as `Name: message`.
 */
export function describeError(error: unknown): string {
  if (error instanceof ConfigError) {
    const lines = error.issues.map((i) => `  ${i.path ? `${i.path}: ` : ""}${i.message}`);
    return [`invalid config ${error.file}`, ...lines].join("\n");
  }
  if (error instanceof Error) {
    return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
  }
  return String(error);
}
