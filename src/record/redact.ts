/**
 * Redaction of hook recordings (issue 17 item 1): values at given payload paths are replaced,
 * and every string is scanned for patterns (built-in `email` and `card`, or any regular
 * expression), so a recording can be kept without the personal data it saw.
 *
 * @module
 */

/** What a redacted value or match becomes. */
export const REDACTED = "[REDACTED]";

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// 13 to 19 digits, optionally grouped by spaces or dashes; kept only when the Luhn check passes.
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;

/** True when the digits of `text` pass the Luhn check (card numbers do). */
export function luhnValid(text: string): boolean {
  let sum = 0;
  let double = false;
  let digits = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    digits++;
    let d = c;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits >= 13 && sum % 10 === 0;
}

/**
 * How to redact: payload paths (dot-separated, `*` matches any key or index, e.g.
 * `args.password` or `args.*.token`) and patterns (`email`, `card`, or a regular expression
 * source).
 *
 * @example
 * ```ts
 * import type { RedactOptions } from "@cpex/core";
 * const r: RedactOptions = { paths: ["args.password"], patterns: ["email", "card"] };
 * ```
 */
export interface RedactOptions {
  /** Paths in the payload (and global context, prefixed `global_context.`) to replace. */
  paths?: string[];
  /** `email`, `card`, or regular expressions; every match in every string is replaced. */
  patterns?: string[];
}

/** The built-in patterns applied when `patterns` is not given (safe by default). */
export const DEFAULT_PATTERNS: readonly string[] = Object.freeze(["email", "card"]);

type Replacer = (text: string) => string;

function compile(pattern: string): Replacer {
  if (pattern === "email") return (t) => t.replace(EMAIL, REDACTED);
  if (pattern === "card") {
    return (t) => t.replace(CARD, (m) => luhnValid(m) ? REDACTED : m);
  }
  const re = new RegExp(pattern, "g");
  return (t) => t.replace(re, REDACTED);
}

/**
 * A compiled redaction: `apply(value)` returns a redacted deep copy of plain JSON data.
 *
 * @example
 * ```ts
 * import { Redactor } from "@cpex/core";
 * const r = new Redactor({ paths: ["args.pin"] });
 * console.log(r.apply({ args: { pin: "1234", to: "a@b.example" } }, "")); // { args: { pin: "[REDACTED]", to: "[REDACTED]" } }
 * ```
 */
export class Redactor {
  readonly #paths: string[][];
  readonly #replacers: Replacer[];

  /** Compiles `options` (throws `SyntaxError` for a bad regular expression). */
  constructor(options: RedactOptions = {}) {
    this.#paths = (options.paths ?? []).map((p) => p.split("."));
    this.#replacers = (options.patterns ?? [...DEFAULT_PATTERNS]).map(compile);
  }

  /** True when nothing would be redacted. */
  get empty(): boolean {
    return this.#paths.length === 0 && this.#replacers.length === 0;
  }

  /**
   * A redacted copy of `value` (JSON data). `prefix` names the value's place in the record
   * (`""` for the payload, `global_context` for the context), matched against the paths.
   */
  apply(value: unknown, prefix: string): unknown {
    const start = prefix === "" ? [] : prefix.split(".");
    return this.#walk(value, start);
  }

  #walk(value: unknown, path: string[]): unknown {
    if (this.#paths.length && this.#pathMatches(path)) return REDACTED;
    if (typeof value === "string") {
      let out = value;
      for (const r of this.#replacers) out = r(out);
      return out;
    }
    if (Array.isArray(value)) return value.map((v, i) => this.#walk(v, [...path, String(i)]));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.#walk(v, [...path, k]);
      return out;
    }
    return value;
  }

  #pathMatches(path: string[]): boolean {
    outer: for (const p of this.#paths) {
      if (p.length !== path.length) continue;
      for (let i = 0; i < p.length; i++) {
        if (p[i] !== "*" && p[i] !== path[i]) continue outer;
      }
      return true;
    }
    return false;
  }
}
