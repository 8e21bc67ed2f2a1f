/**
 * The CLI dispatcher: picks the command, prints help and usage errors, maps failures to exit
 * codes (0 success, 1 failure, 2 usage error). Each command's module is imported only when that
 * command runs, so `check` and `init` never load the server or a transport.
 *
 * @module
 */
import { UsageError, wantsHelp } from "./args.ts";
import { helpPage, PROGRAM } from "./help.ts";
import { describeError, type Output, processOutput } from "./output.ts";
import { VERSION } from "./version.ts";

type Command = (args: readonly string[], output: Output) => Promise<number>;

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import("./serve.ts")).serveCommand,
  check: async () => (await import("./check.ts")).checkCommand,
  init: async () => (await import("./init.ts")).initCommand,
  replay: async () => (await import("./replay.ts")).replayCommand,
  conformance: async () => (await import("./conformance.ts")).conformanceCommand,
};

function usageError(output: Output, message: string, command: string | null): number {
  const page = helpPage(command) ?? helpPage(null)!;
  const more = command ? `${PROGRAM} ${command} --help` : `${PROGRAM} --help`;
  output.stderr(`error: ${message}\n\n${page.usage}\n\nRun '${more}' for more information.\n`);
  return 2;
}

/**
 * Runs the CLI with `args` (without the program name) and resolves with the exit code.
 *
 * @param args The command line, e.g. `["check", "plugins.yaml"]`.
 * @param output Where to write (default: the process's stdout and stderr).
 *
 * @example
 * ```ts
 * import { main } from "@cpex/core/cli";
 * const lines: string[] = [];
 * const code = await main(["--version"], {
 *   stdout: (t) => lines.push(t),
 *   stderr: (t) => lines.push(t),
 * });
 * console.log(code, lines); // 0 ["0.1.0\n"]
 * ```
 */
export async function main(
  args: readonly string[],
  output: Output = processOutput,
): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) return usageError(output, "missing command", null);
  if (first === "-h" || first === "--help") {
    output.stdout(helpPage(null)!.text);
    return 0;
  }
  if (first === "-V" || first === "--version") {
    output.stdout(`${VERSION}\n`);
    return 0;
  }
  if (first === "help") {
    if (rest.length > 1) return usageError(output, `unexpected argument '${rest[1]}'`, null);
    const page = helpPage(rest[0] ?? null);
    if (!page) return usageError(output, `unknown command '${rest[0]}'`, null);
    output.stdout(page.text);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!load) {
    const what = first.startsWith("-") ? `unknown option ${first}` : `unknown command '${first}'`;
    return usageError(output, what, null);
  }
  if (wantsHelp(rest)) {
    output.stdout(helpPage(first)!.text);
    return 0;
  }
  try {
    const command = await load();
    return await command(rest, output);
  } catch (error) {
    if (error instanceof UsageError) return usageError(output, error.message, error.command);
    output.stderr(`error: ${describeError(error)}\n`);
    return 1;
  }
}
