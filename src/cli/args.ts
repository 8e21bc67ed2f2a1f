/**
 * Command-line parsing for the CLI: each command declares its options (string or boolean, with
 * an optional one-letter alias) and how many positional arguments it takes; anything else is a
 * {@linkcode UsageError}, which the CLI reports with the command's usage and exit code 2.
 *
 * Accepted forms: `--name value`, `--name=value`, `-n value`, `--flag`, and `--` to end the
 * options. A string option given twice is an error (no silent "last one wins").
 *
 * @module
 */

/**
 * One option of a command.
 */
export interface OptionSpec {
  /** `string` options take a value; `boolean` options do not. */
  readonly type: "string" | "boolean";
  /** One-letter alias (`p` for `-p`). */
  readonly short?: string;
}

/**
 * What a command accepts.
 */
export interface CommandSpec {
  /** The command name, used in error messages. */
  readonly name: string;
  /** Options by long name (without the leading `--`). */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** How many positional arguments are allowed, and how usage names them. */
  readonly positionals: { readonly min: number; readonly max: number; readonly names?: string };
}

/**
 * The parsed command line: option values by long name, and the positional arguments.
 */
export interface ParsedArgs {
  /** Values of the options that were given (`true` for a boolean option). */
  readonly options: Readonly<Record<string, string | boolean>>;
  /** The positional arguments, in order. */
  readonly positionals: readonly string[];
}

/**
 * The command line is wrong (unknown command or option, missing value, bad value). The CLI
 * prints the message and the command's usage and exits with code 2.
 */
export class UsageError extends Error {
  /** The command whose usage applies, or null for the top level. */
  readonly command: string | null;
  /** Creates the error; `command` selects the usage printed with it. */
  constructor(message: string, command: string | null = null) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/**
 * True when `args` asks for help (`-h` or `--help` before any `--`).
 */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "-h" || arg === "--help") return true;
  }
  return false;
}

/**
 * Parses `args` against `spec`.
 *
 * @throws {UsageError} for an unknown option, a missing or unexpected value, a repeated string
 * option, or the wrong number of positional arguments.
 */
export function parseArgs(args: readonly string[], spec: CommandSpec): ParsedArgs {
  const options: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const shorts = new Map<string, string>();
  for (const [name, option] of Object.entries(spec.options)) {
    if (option.short) shorts.set(option.short, name);
  }
  const fail = (message: string): never => {
    throw new UsageError(message, spec.name);
  };
  let i = 0;
  while (i < args.length) {
    const arg = args[i++];
    if (arg === "--") {
      positionals.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      const long = shorts.get(arg.slice(1));
      if (arg.length !== 2 || long === undefined) fail(`unknown option ${arg}`);
      name = long!;
    }
    const option = Object.hasOwn(spec.options, name) ? spec.options[name] : undefined;
    const display = arg.startsWith("--") ? `--${name}` : arg;
    if (!option) fail(`unknown option ${display}`);
    if (option!.type === "boolean") {
      if (inline !== undefined) fail(`option ${display} takes no value`);
      options[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i >= args.length || args[i].startsWith("--")) fail(`option ${display} needs a value`);
      value = args[i++];
    }
    if (Object.hasOwn(options, name)) fail(`option --${name} was given more than once`);
    options[name] = value!;
  }
  const { min, max, names } = spec.positionals;
  if (positionals.length > max) {
    fail(
      max === 0
        ? `unexpected argument '${positionals[0]}'`
        : `too many arguments: expected ${names ?? max}, got '${positionals.join(" ")}'`,
    );
  }
  if (positionals.length < min) fail(`missing argument ${names ?? ""}`.trimEnd());
  return { options, positionals };
}
