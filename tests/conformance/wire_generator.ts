/**
 * Seeded random cases of the wire-level twin (`wire_twin_test.ts`): payloads of unicode
 * strings (BMP, astral, escapes; never a lone surrogate, which no transport can carry), deep
 * nesting, big and odd numbers (`2.0`, `-0.0`, integers past 2^53 and 2^64, `1e-7`, `1.5e300`,
 * subnormals), nulls, empty containers and long strings, addressed to one wire plugin each,
 * sometimes followed by a post call sharing the contexts.
 *
 * The spec is written as JSON text in which every number keeps the text it was generated with
 * (`JSON.rawJSON`), so the Python gateway reads `2.0` as a float and big integers exactly; `NaN`
 * is written as the bare token Python's `json` accepts.
 *
 * @module
 */

/** The wire plugins' payload names (each plugin acts only on its own). */
export const BEHAVIOURS = ["echo", "modify", "block", "state", "headers"] as const;

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** Stands for NaN in the spec (JSON has no NaN; Python's `json` reads the bare token). */
const NAN_MARK = '"__NaN__"';

/**
 * A small fast seeded PRNG (mulberry32): the same seed gives the same cases everywhere.
 *
 * @example
 * ```ts
 * import { Random } from "./wire_generator.ts";
 * console.log(new Random(1).int(10) === new Random(1).int(10)); // true
 * ```
 */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Number texts that JS, protobuf doubles or Python treat specially. */
const ODD_NUMBERS = [
  "0",
  "-0",
  "2.0",
  "-0.0",
  "0.0",
  "1.10",
  "1e3",
  "1E3",
  "2.5E-3",
  "1e-7",
  "0.000001",
  "0.1",
  "1e16",
  "1e22",
  "1.5e300",
  "-1.5e-300",
  "5e-324",
  "1.7976931348623157e308",
  "9007199254740991",
  "9007199254740993",
  "-9007199254740993",
  "12345678901234567890",
  "18446744073709551616",
  "-123456789012345678901234567890",
  "123456789.0",
  "100",
  "-42",
  "3.141592653589793",
];

/**
 * Python reads these as inf / -inf (and the spec's NaN marker as nan): refused by both servers
 * on the protobuf transports, null from the reference gateway's MCP client. Rare, because a
 * case holding one ends in an error there.
 */
const NON_FINITE = ["1e400", "-1e400", NAN_MARK];

const PIECES = [
  "a",
  "Z",
  " ",
  "é",
  "ß",
  "✓",
  "中文",
  "\u{1f600}",
  "\u{1d11e}",
  "\u{10ffff}",
  "\n",
  "\t",
  '"',
  "\\",
  "/",
  "\u0000",
  "\u001f",
  "\u007f",
  "\u2028",
  "\ufeff",
  "\ufffd",
  "2.0",
  "null",
];

/** A number text: an odd one, a small int, or a random double in its shortest form. */
function numberText(r: Random): string {
  const roll = r.next();
  if (roll < 0.005) return r.pick(NON_FINITE);
  if (roll < 0.45) return r.pick(ODD_NUMBERS);
  if (roll < 0.7) return String(r.int(2000) - 1000);
  if (roll < 0.85) return String((r.next() - 0.5) * 10 ** (r.int(40) - 20));
  // An integer-valued float written with a fraction, as Python writes it.
  return `${r.int(100000) - 50000}.0`;
}

function stringValue(r: Random, long = false): string {
  if (long) return r.pick(PIECES).repeat(1000 + r.int(20000));
  const n = r.int(12);
  let s = "";
  for (let i = 0; i < n; i++) {
    s += r.chance(0.5) ? r.pick(PIECES) : String.fromCharCode(97 + r.int(26));
  }
  return s;
}

function key(r: Random): string {
  const roll = r.next();
  if (roll < 0.08) return "";
  if (roll < 0.16) return String(r.int(20)); // integer-like: JS orders these first
  if (roll < 0.3) return stringValue(r) || "k";
  return `k${r.int(50)}`;
}

/** A random JSON value (numbers as raw texts), at most `depth` containers deep. */
function value(r: Random, depth: number): unknown {
  const roll = r.next();
  if (depth > 0 && roll < 0.3) return object(r, depth - 1);
  if (depth > 0 && roll < 0.45) {
    const n = r.chance(0.15) ? 0 : r.int(6);
    return Array.from({ length: n }, () => value(r, depth - 1));
  }
  if (roll < 0.7) return rawJSON(numberText(r));
  if (roll < 0.88) return stringValue(r, r.chance(0.03));
  if (roll < 0.94) return r.chance(0.5);
  return null;
}

function object(r: Random, depth: number): Record<string, unknown> {
  const n = r.chance(0.15) ? 0 : r.int(6);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) out[key(r)] = value(r, depth);
  return out;
}

/** A chain of single-key objects `depth` deep around a value. */
function deep(r: Random, depth: number): unknown {
  let v: unknown = value(r, 0);
  for (let i = 0; i < depth; i++) v = r.chance(0.5) ? { [key(r) || "d"]: v } : [v];
  return v;
}

/**
 * One call of a case.
 *
 * @example
 * ```ts
 * import type { WireCall } from "./wire_generator.ts";
 * const call: WireCall = {
 *   hook: "tool_pre_invoke",
 *   plugin: "Echo",
 *   payload: { name: "echo", args: {} },
 * };
 * ```
 */
export interface WireCall {
  /** The hook. */
  hook: string;
  /** The plugin that acts on it (the others allow and return nothing). */
  plugin: string;
  /** Its payload (`name` picks the acting plugin). */
  payload: Record<string, unknown>;
}

/**
 * A case: calls sharing one global context (and passing local contexts on).
 *
 * @example
 * ```ts
 * import type { WireCase } from "./wire_generator.ts";
 * const c: WireCase = { calls: [], global_state: {}, global_metadata: {}, user: null };
 * ```
 */
export interface WireCase {
  /** The calls, in order. */
  calls: WireCall[];
  /** The gateway's global state before the first call. */
  global_state: Record<string, unknown>;
  /** The gateway's global metadata. */
  global_metadata: Record<string, unknown>;
  /** The user (a string or a structured user). */
  user: unknown;
}

/**
 * `count` cases from `seed`.
 *
 * @example
 * ```ts
 * import { generateCases } from "./wire_generator.ts";
 * console.log(generateCases(1, 3).length); // 3
 * ```
 */
export function generateCases(seed: number, count: number): WireCase[] {
  const r = new Random(seed);
  return Array.from({ length: count }, (_, i) => {
    const behaviour = BEHAVIOURS[i % BEHAVIOURS.length];
    const args = object(r, 1 + r.int(4));
    if (r.chance(0.2)) args[key(r) || "deep"] = deep(r, 5 + r.int(25));
    // Around the protobuf nesting limit (100 levels) of both servers' decoders.
    if (r.chance(0.04)) args.deeper = deep(r, 85 + r.int(30));
    if (r.chance(0.3)) args.n = rawJSON(r.pick(ODD_NUMBERS));
    const plugin = behaviour[0].toUpperCase() + behaviour.slice(1);
    const calls: WireCall[] = [
      { hook: "tool_pre_invoke", plugin, payload: { name: behaviour, args } },
    ];
    const next = r.next();
    if (next < 0.25) {
      calls.push({
        hook: "tool_post_invoke",
        plugin: "Echo",
        payload: { name: "echo", result: value(r, 3) },
      });
    } else if (next < 0.35) {
      // Prompt arguments are strings (dict[str, str] in the reference).
      const promptArgs = Object.fromEntries(
        Array.from({ length: r.int(5) }, () => [key(r), stringValue(r, r.chance(0.05))]),
      );
      calls.push({
        hook: "prompt_pre_fetch",
        plugin: "Echo",
        payload: { prompt_id: "echo", args: promptArgs },
      });
    } else if (next < 0.45) {
      calls.push({
        hook: "resource_pre_fetch",
        plugin: "Echo",
        payload: { uri: "echo", metadata: object(r, 2) },
      });
    } else if (next < 0.55) {
      calls.push({
        hook: "resource_post_fetch",
        plugin: "Echo",
        payload: { uri: "echo", content: value(r, 3) },
      });
    }
    return {
      calls,
      global_state: r.chance(0.5) ? object(r, 2) : {},
      global_metadata: r.chance(0.3) ? object(r, 1) : {},
      user: r.pick([null, "alice", stringValue(r), { id: "u1", roles: ["a"], n: rawJSON("2.0") }]),
    };
  });
}

/**
 * The spec file text the Python gateway reads (numbers keep their texts).
 *
 * @example
 * ```ts
 * import { generateCases, specText } from "./wire_generator.ts";
 * console.log(specText("mcp", { url: "x" }, generateCases(1, 1)).startsWith("{")); // true
 * ```
 */
export function specText(transport: string, block: unknown, cases: WireCase[]): string {
  return JSON.stringify({ transport, block, cases }).replaceAll(NAN_MARK, "NaN");
}
