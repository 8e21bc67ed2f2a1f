/**
 * Exact numbers through the MCP plugin server (issue 11 item 7). `JSON.parse` turns `2.0` into
 * `2`, `-0.0` into `0` and `9007199254740993` into `9007199254740992`; the reference (pydantic's
 * JSON parser and serializer) keeps Python's int/float distinction and arbitrary-precision ints,
 * so a Python gateway got back exactly what it sent. Plugins here still see plain JS numbers;
 * this module remembers the source text of every number of an `invoke_hook` call's arguments
 * whose JS rendering would differ from the reference's (V8's `JSON.parse` source text access),
 * and when the reply holds the same value at the same place (`result.modified_payload` for the
 * `payload`, `context` for the `context`), inside an object or list the plugin copied from its
 * input, or (integers past 2^53) anywhere, writes the reference's text back (`JSON.rawJSON`).
 *
 * Most bodies hold no such number: one pass that skips strings decides, and they parse and
 * serialize exactly as before.
 *
 * @module
 */
import { INVOKE_HOOK } from "./tool_names.ts";

/** A number leaf: its value after `JSON.parse` and the text the reference would write. */
interface Leaf {
  readonly value: number;
  readonly text: string;
}

/** The sparse mirror of a JSON value: only the paths leading to numbers worth keeping. */
type Node = Leaf | Map<string, Node>;

/**
 * Whether JSON `text` holds a number token that JS would write differently from the reference
 * (see {@linkcode referenceNumberText}): `2.0`, `1e5`, `0.000001`, 16+ digit integers... A plain
 * fraction that JS writes back as read (`0.5`, `-12.75`) does not count, so a body of ordinary
 * numbers costs one fast pass. Strings are skipped with `indexOf` (their contents never count).
 */
function mayHoldOddNumbers(text: string): boolean {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // '"': jump to the closing quote (one preceded by an even run of '\')
      let end = i;
      do {
        end = text.indexOf('"', end + 1);
        if (end === -1) return false;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      } while (true);
      i = end;
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) { // a number token starts
      let j = i + 1;
      let fraction = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) fraction = true;
        else if (d < 0x30 || d > 0x39) break;
        j++;
      }
      if (fraction ? oddFraction(text.slice(i, j)) : j - i >= 16) return true;
      i = j - 1;
    }
  }
  return false;
}

/**
 * Whether a number token with a fraction or exponent is written differently by the reference.
 * The common case is decided without formatting: a token JS writes back unchanged, with a dot
 * and a magnitude of at least 1e-4, is written the same by Python (same shortest digits, fixed
 * notation for exponents -4 to 15; a double with a fraction is below 2^53).
 */
function oddFraction(token: string): boolean {
  const value = Number(token);
  if (String(value) === token && token.includes(".") && Math.abs(value) >= 1e-4) return false;
  return Number.isNaN(value) || referenceNumberText(token, value) !== null;
}

/** `JSON.rawJSON` (V8; not yet in TypeScript's lib): a number written with the given text. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * Calls remembered at most, and kept numbers over all of them: a call whose handler never runs
 * (its params failed validation) is forgotten oldest first, so memory stays bounded.
 */
const MAX_REMEMBERED = 1024;
const MAX_KEPT_NUMBERS = 1 << 20;

/**
 * How pydantic (the reference's MCP server) writes a Python float: the shortest round-trip
 * digits, fixed notation with at least one decimal for exponents -5 to 15, else `d.ddde+N` /
 * `d.ddde-N`.
 */
export function pythonFloatText(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (x === 0) return sign + "0.0";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  if (e < -5 || e >= 16) {
    const rest = digits.length > 1 ? "." + digits.slice(1) : "";
    return `${sign}${digits[0]}${rest}e${e < 0 ? "-" : "+"}${Math.abs(e)}`;
  }
  if (e < 0) return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, "0");
  return `${sign}${whole}.${digits.slice(e + 1) || "0"}`;
}

/**
 * The text the reference writes for a number that arrived as `source` (a JSON number token),
 * or null when `JSON.stringify(value)` already writes it. Integers stay Python ints of
 * arbitrary precision; anything with a fraction or exponent is a Python float.
 */
export function referenceNumberText(source: string, value: number): string | null {
  if (!/[.eE]/.test(source)) {
    if (source.length < 16) return null; // exact as a double, same digits
    const text = /^-0+$/.test(source) ? "0" : source;
    return JSON.stringify(value) === text ? null : text;
  }
  // Out of the double range the reference's parser gives ±inf; JSON has no token for it, but
  // `1e400` reads back as the same infinite float in Python (and in JS).
  if (!Number.isFinite(value)) return value > 0 ? "1e400" : "-1e400";
  const text = pythonFloatText(value);
  return JSON.stringify(value) === text ? null : text;
}

/** What one parse found: the sparse tree of the document and the marked containers. */
interface Found {
  /** The document's node (null: no number worth keeping). */
  readonly root: Node | null;
  /** Every container holding (at any depth) a number worth keeping, with its node. */
  readonly marks: WeakMap<object, Map<string, Node>>;
  /** The first of those containers (bounded, held weakly), to recognise shallow copies. */
  readonly marked: WeakRef<object>[];
  /** How many numbers were kept. */
  readonly kept: number;
  /** Integers past 2^53 by their double value, with their text (null: two texts collide). */
  readonly bigInts: Map<number, string | null>;
}

/** Marked containers compared against the reply's unmarked ones at most (bounds the cost). */
const MAX_COPY_CANDIDATES = 64;

/**
 * Parses `text` like `JSON.parse` and also returns the numbers worth keeping (`root` null when
 * there is none). The slow path (a reviver) runs only when the text may hold one.
 */
function parseFinding(text: string): { value: unknown; found: Found | null } {
  if (!mayHoldOddNumbers(text)) return { value: JSON.parse(text), found: null };
  const marks = new WeakMap<object, Map<string, Node>>();
  const marked: WeakRef<object>[] = [];
  let kept = 0;
  const bigInts = new Map<number, string | null>();
  let last: Node | undefined;
  const value = JSON.parse(
    text,
    function (this: object, key: string, value: unknown, context?: { source?: string }) {
      let node: Node | undefined;
      if (typeof value === "number") {
        const source = context?.source;
        const keep = source === undefined ? null : referenceNumberText(source, value);
        if (keep !== null) {
          node = { value, text: keep };
          kept++;
          if (!/[.eE]/.test(keep)) {
            const seen = bigInts.get(value);
            bigInts.set(value, seen === undefined || seen === keep ? keep : null);
          }
        }
      } else if (value !== null && typeof value === "object") {
        node = marks.get(value);
      }
      if (node !== undefined) {
        let siblings = marks.get(this);
        if (!siblings) {
          marks.set(this, siblings = new Map());
          if (marked.length < MAX_COPY_CANDIDATES) marked.push(new WeakRef(this));
        }
        siblings.set(key, node);
      }
      last = node; // the last call is the root's
      return value;
    },
  );
  return { value, found: last === undefined ? null : { root: last, marks, marked, bigInts, kept } };
}

/**
 * Parses `text` like `JSON.parse` and tells whether it holds numbers whose JS rendering
 * differs from the reference's.
 */
export function parseWithNumberTexts(text: string): { value: unknown; exact: boolean } {
  const { value, found } = parseFinding(text);
  return { value, exact: found !== null };
}

function child(node: Node | undefined, ...keys: string[]): Node | undefined {
  for (const key of keys) node = node instanceof Map ? node.get(key) : undefined;
  return node;
}

/**
 * `value` with kept texts written in (`JSON.rawJSON`) wherever a number is the same as the one
 * read at that place: the place given by `node` (the reply's mirror of the arguments), or any
 * container that is the very object the parse produced or a shallow copy of it (a plugin that
 * put `payload.args` into its metadata, state or violation details; the server copies the
 * payload's top level); integers past 2^53 anywhere, by value. Copies only the containers along
 * changed paths.
 */
function withTexts(value: unknown, node: Node | undefined, found: Found): unknown {
  if (typeof value === "number") {
    if (node && !(node instanceof Map) && Object.is(value, node.value)) return rawJSON(node.text);
    // A big integer copied on its own elsewhere: matched by value (an equal double computed by
    // the plugin is all but impossible), so its digits are never corrupted.
    const big = found.bigInts.get(value);
    return big ? rawJSON(big) : value;
  }
  if (value === null || typeof value !== "object") return value;
  const here = found.marks.get(value) ?? (node instanceof Map ? node : undefined) ??
    copyOf(value, found);
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const out = withTexts(item, here?.get(String(i)), found);
      if (out !== item) (copy ??= value.slice())[i] = out;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    const out = withTexts(item, here?.get(key), found);
    if (out !== item) (copy ??= { ...record })[key] = out;
  }
  return copy ?? value;
}

/** The node of a marked container `value` is a shallow copy of (same keys, same values). */
function copyOf(value: object, found: Found): Map<string, Node> | undefined {
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  for (const ref of found.marked) {
    const candidate = ref.deref();
    if (candidate === undefined) continue;
    if (Array.isArray(candidate) !== Array.isArray(value)) continue;
    const other = candidate as Record<string, unknown>;
    const otherKeys = Object.keys(other);
    if (otherKeys.length !== keys.length) continue;
    if (keys.every((k) => Object.hasOwn(other, k) && Object.is(other[k], record[k]))) {
      return found.marks.get(candidate);
    }
  }
  return undefined;
}

/** A remembered call: the mirror of its reply, and what the parse found. */
interface Call {
  readonly reply: Node;
  readonly found: Found;
}

/**
 * The numbers of `invoke_hook` calls that `JSON.parse` would change, remembered per MCP session
 * and request id from the moment a message is read until its tool handler writes the reply.
 */
export class ExactNumbers {
  readonly #calls = new Map<string, Call>();
  #kept = 0;

  /**
   * Parses one JSON-RPC message (or batch) like `JSON.parse`, remembering the numbers of its
   * `invoke_hook` calls (`sessionId` tells apart equal request ids of different sessions).
   */
  parse(text: string, sessionId?: string | null): unknown {
    const { value, found } = parseFinding(text);
    if (found === null) return value;
    const batch = Array.isArray(value);
    (batch ? value : [value]).forEach((message, i) => {
      const args = child(found.root!, ...(batch ? [String(i)] : []), "params", "arguments");
      const m = message as { id?: unknown; method?: unknown; params?: { name?: unknown } };
      if (!args || m?.method !== "tools/call" || m.params?.name !== INVOKE_HOOK) return;
      if (typeof m.id !== "string" && typeof m.id !== "number") return;
      // Where the reply repeats the arguments: the payload as the result's modified_payload,
      // the context as the context.
      const reply = new Map<string, Node>();
      const payload = child(args, "payload");
      if (payload) reply.set("result", new Map([["modified_payload", payload]]));
      const context = child(args, "context");
      if (context) reply.set("context", context);
      const key = callKey(m.id, sessionId);
      this.#forget(key);
      this.#calls.set(key, { reply, found });
      this.#kept += found.kept;
      while (
        this.#calls.size > MAX_REMEMBERED ||
        (this.#kept > MAX_KEPT_NUMBERS && this.#calls.size > 1)
      ) this.#forget(this.#calls.keys().next().value!);
    });
    return value;
  }

  /**
   * The JSON text of the `invoke_hook` reply to request `id`: `JSON.stringify(reply)`, with the
   * remembered texts of the call's numbers wherever the reply holds the same value at the same
   * place (or inside the very objects that were read). Forgets the call.
   */
  replyText(reply: unknown, id: string | number, sessionId?: string | null): string {
    if (this.#calls.size === 0) return JSON.stringify(reply);
    const key = callKey(id, sessionId);
    const call = this.#calls.get(key);
    if (!call) return JSON.stringify(reply);
    this.#forget(key);
    return JSON.stringify(withTexts(reply, call.reply, call.found));
  }

  #forget(key: string): void {
    const call = this.#calls.get(key);
    if (!call) return;
    this.#calls.delete(key);
    this.#kept -= call.found.kept;
  }

  /** How many calls are remembered (for tests). */
  get size(): number {
    return this.#calls.size;
  }
}

function callKey(id: string | number, sessionId?: string | null): string {
  return `${sessionId ?? ""}\n${typeof id}:${id}`;
}
