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
import { parseArgs as parseNodeArgs } from "node:util";

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
 * Parses `args` against `spec`. `node:util`'s `parseArgs` splits the command line into tokens
 * (issue 10: the platform's parser, not our own); the checks below keep the CLI's own rules and
 * messages: a one-letter alias stands alone (`-p 8000`, never `-p8000` or `-ab`), a value may
 * not start with `--`, and a string option may not be repeated.
 *
 * @throws {UsageError} for an unknown option, a missing or unexpected value, a repeated string
 * option, or the wrong number of positional arguments.
 */
export function parseArgs(args: readonly string[], spec: CommandSpec): ParsedArgs {
  const fail = (message: string): never => {
    throw new UsageError(message, spec.name);
  };
  const shorts = new Set<string>();
  const nodeOptions: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    nodeOptions[name] = { type: option.type, ...(option.short ? { short: option.short } : {}) };
    if (option.short) shorts.add(option.short);
  }
  const { tokens } = parseNodeArgs({
    args: [...args],
    options: nodeOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    if (token.kind !== "option") continue;
    const raw = args[token.index];
    const long = raw.startsWith("--");
    if (!long && (raw !== token.rawName || !shorts.has(raw.slice(1)))) {
      fail(`unknown option ${raw}`);
    }
    const option = Object.hasOwn(spec.options, token.name) ? spec.options[token.name] : undefined;
    const display = long ? raw.split("=", 1)[0] : raw;
    if (!option) fail(`unknown option ${display}`);
    if (option!.type === "boolean") {
      if (token.inlineValue) fail(`option ${display} takes no value`);
      options[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith("--"))) {
      fail(`option ${display} needs a value`);
    }
    if (Object.hasOwn(options, token.name)) fail(`option --${token.name} was given more than once`);
    options[token.name] = value!;
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
