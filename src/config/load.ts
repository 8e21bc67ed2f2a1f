/**
 * Loading a config file: read as UTF-8, substitute `{{ env.NAME }}`, parse YAML, validate.
 *
 * Deliberate differences from the reference (spec §2.6, Q21):
 * - Substituted values are inserted verbatim — no HTML escaping (`&` stays `&`).
 * - Only variable substitution is supported, not Jinja: `{{ env.NAME }}`, `{{ env['NAME'] }}`
 *   and `{{ env.NAME | default('value') }}` (whitespace tolerant). Any other `{{ ... }}` is an
 *   error naming its line. An unset (or unreadable, without `--allow-env`) variable becomes
 *   the empty string, or the `default(...)` value.
 * - A missing file is an error naming the file (the reference silently loads no plugins).
 *
 * YAML is parsed as YAML 1.1 with duplicate keys allowed (last wins), like PyYAML's
 * `safe_load`, so files written for the reference read the same (`verify: no` is false); see
 * `yaml.ts`, which also keeps the YAML library from needing env permission.
 *
 * @module
 */
import { YAMLParseError } from "yaml";
import { ConfigError } from "../errors.ts";
import { readEnv } from "./env.ts";
import { type Config, parseConfig } from "./schema.ts";
import { parseYaml } from "./yaml.ts";

const TEMPLATE = /\{\{(.*?)\}\}/gs;
const ENV_EXPRESSION =
  /^\s*env\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(['"])([^'"]+)\2\s*\])\s*(?:\|\s*default\s*\(\s*(['"])(.*?)\4\s*\)\s*)?$/s;

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * One `{{ env.NAME }}` reference of a config text.
 */
export interface EnvReference {
  /** The variable. */
  name: string;
  /** Whether it has a `| default('...')`. */
  hasDefault: boolean;
  /** Its 1-based line. */
  line: number;
}

/**
 * Every well-formed `{{ env.NAME }}` reference of `text`, in order (for `cpex check`, which
 * names the unset ones: issue 12).
 */
export function envReferences(text: string): EnvReference[] {
  const out: EnvReference[] = [];
  for (const match of text.matchAll(TEMPLATE)) {
    const m = ENV_EXPRESSION.exec(match[1]);
    if (!m) continue;
    out.push({
      name: m[1] ?? m[3],
      hasDefault: m[5] !== undefined,
      line: lineOf(text, match.index),
    });
  }
  return out;
}

/**
 * Replaces every `{{ env.NAME }}` in `text` with the variable's value (empty when unset).
 *
 * @param text The raw file text.
 * @param file Names the file in errors.
 * @param env Looks variables up (default: the process environment, permission-aware).
 * @throws {ConfigError} for a `{{ ... }}` expression other than an env lookup.
 */
export function substituteEnv(
  text: string,
  file: string,
  env: (name: string) => string | undefined = readEnv,
): string {
  return text.replace(TEMPLATE, (match, expr: string, offset: number) => {
    const m = ENV_EXPRESSION.exec(expr);
    if (!m) {
      throw new ConfigError(file, [{
        path: "",
        message: `line ${lineOf(text, offset)}: unsupported template expression ${match}; ` +
          `only {{ env.NAME }} (optionally | default('value')) is supported`,
      }]);
    }
    const name = m[1] ?? m[3];
    return env(name) ?? m[5] ?? "";
  });
}

/**
 * Parses config text (after env substitution) and validates it.
 *
 * @param text YAML (or JSON) text.
 * @param file Names the source in errors.
 * @throws {ConfigError} on YAML syntax errors (with line and column) or invalid content.
 */
export function parseConfigText(text: string, file = "<text>"): Config {
  const substituted = substituteEnv(text, file);
  let document: unknown;
  try {
    document = parseYaml(substituted);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
      const reason = err.message.split("\n", 1)[0].replace(/ at line \d+, column \d+:?$/, "");
      throw new ConfigError(
        file,
        [{ path: "", message: `YAML syntax error at ${where}${reason}` }],
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  return parseConfig(document ?? {}, file);
}

function label(path: string | URL): string {
  return path instanceof URL
    ? (path.protocol === "file:" ? decodeURIComponent(path.pathname) : path.href)
    : path;
}

function readError(file: string, err: unknown): never {
  if (err instanceof Deno.errors.NotFound) {
    throw new ConfigError(file, [{ path: "", message: "file not found" }], { cause: err });
  }
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    throw new ConfigError(file, [{
      path: "",
      message: `cannot read the file (run with --allow-read=${file}): ${(err as Error).message}`,
    }], { cause: err });
  }
  if (err instanceof Deno.errors.IsADirectory) {
    throw new ConfigError(file, [{ path: "", message: "is a directory, not a file" }], {
      cause: err,
    });
  }
  if (err instanceof TypeError && /utf-?8|decode/i.test(err.message)) {
    throw new ConfigError(file, [{ path: "", message: "not valid UTF-8" }], { cause: err });
  }
  throw err;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads, substitutes, parses and validates a config file.
 *
 * @param path File path or `file:` URL.
 * @throws {ConfigError} naming the file: missing or unreadable file, YAML syntax error (line and
 * column), or invalid content (each issue with its path, e.g. `plugins[2].mode`).
 *
 * @example
 * ```ts
 * import { loadConfig } from "@cpex/core";
 * const config = await loadConfig("plugins/config.yaml");
 * for (const p of config.plugins) console.log(p.name, p.mode);
 * ```
 */
export async function loadConfig(path: string | URL): Promise<Config> {
  const file = label(path);
  let text: string;
  try {
    text = decoder.decode(await Deno.readFile(path));
  } catch (err) {
    readError(file, err);
  }
  return parseConfigText(text, file);
}
