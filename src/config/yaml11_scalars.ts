/**
 * YAML 1.1 plain-scalar resolution exactly as the reference reads its config (PyYAML's
 * `SafeLoader`, issue 11 item 1). npm:yaml's own `yaml-1.1` schema differs in ways that change
 * what a config means: it reads `y`/`n` as booleans, `1e3` as a number (PyYAML requires a dot
 * and a signed exponent), `08` as 8 (a string for PyYAML), and has no sexagesimal floats with
 * PyYAML's arithmetic. These tags replace its null, bool, int, float and timestamp tags.
 *
 * Known limits (README, compatibility): integers beyond 2^53 become the nearest double (PyYAML
 * keeps them exact); timestamps become `Date`s (date-only values at UTC midnight, naive times
 * read as UTC, microseconds truncated to milliseconds) where PyYAML builds `date`/`datetime`.
 *
 * @module
 */
import type { ScalarTag, Tags } from "yaml";

type OnError = (message: string) => void;

const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const INT =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const TIMESTAMP =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const TIMESTAMP_PARTS =
  /^([0-9]{4})-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$/;
const TRUE_WORDS = new Set(["yes", "true", "on"]);
const BOOL_WORDS = new Set(["yes", "no", "true", "false", "on", "off"]);

function splitSign(text: string): [sign: 1 | -1, rest: string] {
  const c = text[0];
  if (c === "-") return [-1, text.slice(1)];
  if (c === "+") return [1, text.slice(1)];
  return [1, text];
}

const DIGITS: Record<number, RegExp> = {
  2: /^[01]+$/,
  8: /^[0-7]+$/,
  10: /^[0-9]+$/,
  16: /^[0-9a-fA-F]+$/,
};

function bigInt(digits: string, radix: 2 | 8 | 10 | 16): bigint | null {
  if (!DIGITS[radix].test(digits)) return null;
  const prefix = radix === 2 ? "0b" : radix === 8 ? "0o" : radix === 16 ? "0x" : "";
  return BigInt(prefix + digits);
}

/** PyYAML's `construct_yaml_int`, exact as a BigInt; null where Python's `int()` raises. */
function resolveInt(text: string): bigint | null {
  const [sign, value] = splitSign(text.replaceAll("_", ""));
  let n: bigint | null;
  if (value === "0") n = 0n;
  else if (value.startsWith("0b")) n = bigInt(value.slice(2), 2);
  else if (value.startsWith("0x")) n = bigInt(value.slice(2), 16);
  else if (value[0] === "0") n = bigInt(value, 8);
  else if (value.includes(":")) {
    n = 0n;
    let base = 1n;
    for (const part of value.split(":").reverse()) {
      const d = bigInt(part, 10);
      if (d === null) return null;
      n += d * base;
      base *= 60n;
    }
  } else n = bigInt(value, 10);
  return n === null ? null : sign === -1 ? -n : n;
}

const PY_FLOAT = /^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?$|^(?:inf|infinity|nan)$/;

function pyFloat(text: string): number | null {
  const [sign, value] = splitSign(text);
  if (!PY_FLOAT.test(value)) return null;
  const n = value === "inf" || value === "infinity" ? Infinity : Number(value);
  return sign * n;
}

/** PyYAML's `construct_yaml_float` (same operations in the same order, so the same double). */
function resolveFloat(text: string): number | null {
  const [sign, value] = splitSign(text.replaceAll("_", "").toLowerCase());
  if (value === ".inf") return sign * Infinity;
  if (value === ".nan") return NaN;
  if (value.includes(":")) {
    let n = 0;
    let base = 1;
    for (const part of value.split(":").reverse()) {
      const d = pyFloat(part);
      if (d === null) return null;
      n += d * base;
      base *= 60;
    }
    return sign * n;
  }
  const n = pyFloat(value);
  return n === null ? null : sign * n;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(2000, month, 0)).getUTCDate() -
    (month === 2 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 1 : 0);
}

/** PyYAML's `construct_yaml_timestamp` as a `Date`; null where Python's datetime raises. */
function resolveTimestamp(text: string): Date | null {
  const m = TIMESTAMP_PARTS.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (m[4] === undefined) return date;
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (hour > 23 || minute > 59 || second > 59) return null;
  const micros = Number((m[7] ?? "").slice(0, 6).padEnd(6, "0"));
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    offsetMinutes = Number(m[10]) * 60 + Number(m[11] ?? 0);
    if (offsetMinutes >= 24 * 60) return null; // timezone() needs |offset| < 24 h
    if (m[9] === "-") offsetMinutes = -offsetMinutes;
  }
  date.setUTCHours(hour, minute - offsetMinutes, second, Math.floor(micros / 1000));
  return date;
}

function failed(onError: OnError, what: string, text: string): string {
  onError(`invalid ${what} ${JSON.stringify(text)} (the reference's YAML loader rejects it)`);
  return text;
}

function unconstructible(tag: string): ScalarTag {
  return {
    tag,
    default: true,
    test: /^=$/,
    resolve: (text: string, onError: OnError): string => {
      onError(`could not determine a constructor for the tag '${tag}' (plain ${text})`);
      return text;
    },
  };
}

/**
 * The scalar tags PyYAML's SafeLoader resolves plain scalars to (null, bool, int, float,
 * timestamp, and the unconstructible `=` value tag), in PyYAML's order.
 *
 * @example
 * ```ts
 * import { parse } from "yaml";
 * import { PYYAML_SCALAR_TAGS } from "./yaml11_scalars.ts";
 * parse("[y, 08, 1e3, 1:30, 1.5e+3]", {
 *   version: "1.1",
 *   customTags: [...PYYAML_SCALAR_TAGS],
 * }); // ["y", "08", "1e3", 90, 1500]
 * ```
 */
export const PYYAML_SCALAR_TAGS: readonly ScalarTag[] = Object.freeze([
  {
    tag: "tag:yaml.org,2002:bool",
    default: true,
    test: BOOL,
    resolve: (text: string, onError: OnError): boolean | string => {
      const word = text.toLowerCase();
      return BOOL_WORDS.has(word) ? TRUE_WORDS.has(word) : failed(onError, "bool", text);
    },
  },
  {
    tag: "tag:yaml.org,2002:float",
    default: true,
    test: FLOAT,
    resolve: (text: string, onError: OnError): number | string =>
      resolveFloat(text) ?? failed(onError, "float", text),
  },
  {
    tag: "tag:yaml.org,2002:int",
    default: true,
    test: INT,
    resolve: (text: string, onError: OnError): number | string => {
      const n = resolveInt(text);
      return n === null ? failed(onError, "int", text) : Number(n);
    },
  },
  {
    tag: "tag:yaml.org,2002:null",
    default: true,
    test: NULL,
    resolve: (): null => null,
  },
  {
    tag: "tag:yaml.org,2002:timestamp",
    default: true,
    test: TIMESTAMP,
    resolve: (text: string, onError: OnError): Date | string =>
      resolveTimestamp(text) ?? failed(onError, "timestamp", text),
  },
  unconstructible("tag:yaml.org,2002:value"),
]);

const REPLACED = new Set([
  "tag:yaml.org,2002:null",
  "tag:yaml.org,2002:bool",
  "tag:yaml.org,2002:int",
  "tag:yaml.org,2002:float",
  "tag:yaml.org,2002:timestamp",
]);

/**
 * npm:yaml's `customTags` hook: keeps its collection, string, binary, set, omap, pairs and
 * merge-key tags and puts PyYAML's scalar resolution in place of its own.
 *
 * @example
 * ```ts
 * import { parse } from "yaml";
 * import { withPyYamlScalars } from "./yaml11_scalars.ts";
 * parse("a: n", { version: "1.1", customTags: withPyYamlScalars }); // { a: "n" }
 * ```
 */
export function withPyYamlScalars(tags: Tags): Tags {
  const kept = tags.filter((t) => typeof t === "string" || !REPLACED.has(t.tag));
  return [...kept, ...PYYAML_SCALAR_TAGS];
}
