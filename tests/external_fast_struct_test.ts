/**
 * The direct payload encoder (`src/external/proto/fast_struct.ts`, issue 13) must produce the
 * very bytes of the generic path (`toStruct` + protobufjs) for every payload it takes, and hand
 * everything else back to the generic path (which also raises the errors). Checked on
 * hand-picked edge cases and on a few thousand random JSON values, through
 * `encodeInvokeRequest`, the request encoder both the Unix and gRPC clients use.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext } from "../mod.ts";
import protobuf from "protobufjs";
import { Buffer } from "node:buffer";
import {
  decodeMessage,
  encodeMessage,
  type InvokeHookRequest,
} from "../src/external/proto/codec.ts";
import { PLUGIN_SERVICE_PROTO } from "../src/external/proto/proto_source.ts";
import { fromStruct, StructConversionError } from "../src/external/proto/struct.ts";
import { encodeStructFast } from "../src/external/proto/fast_struct.ts";
import { encodeInvokeRequest, invokeRequest } from "../src/external/proto/proto_call.ts";
import type { RemoteCall } from "../src/external/remote_plugin.ts";

function call(payload: unknown, context = new PluginContext({ request_id: "r-1" })): RemoteCall {
  return { hookName: "tool_pre_invoke", pluginName: "allow", payload, context, traceContext: null };
}

/** Both encoders on `payload`; the generic one's error when it throws. */
function both(payload: unknown): { fast: Uint8Array | Error; generic: Uint8Array | Error } {
  const run = (f: () => Uint8Array) => {
    try {
      return f();
    } catch (e) {
      return e as Error;
    }
  };
  return {
    fast: run(() => encodeInvokeRequest(call(payload))),
    generic: run(() => encodeMessage("InvokeHookRequest", invokeRequest(call(payload)))),
  };
}

function assertSame(payload: unknown, label = JSON.stringify(payload)): void {
  const { fast, generic } = both(payload);
  if (generic instanceof Error) {
    assert.ok(fast instanceof Error, `${label}: the generic path throws, the fast one did not`);
    assert.equal(fast.message, generic.message);
  } else {
    assert.ok(fast instanceof Uint8Array, `${label}: ${fast}`);
    assert.deepEqual(fast, generic, label);
  }
}

Deno.test("edge values encode to the generic path's bytes", () => {
  const cases: unknown[] = [
    {},
    { name: "" },
    { n: 0, neg: -0, big: 1e300, small: 5e-324, int: 2 ** 53, frac: -1.5 },
    { t: true, f: false, nil: null, skipped: undefined },
    { list: [], nested: [[], [1, [2, [3]]], {}], holes: [1, undefined, 3] },
    { "": "empty key", "ключ": "значение", "emoji-free ✓": "€ and ü", long: "x".repeat(300) },
    { deep: { a: { b: { c: { d: { e: { f: "g" } } } } } } },
    // ASCII strings of every length class the decoder treats apart (<= 16, <= 256, longer).
    {
      ascii: String.fromCharCode(...Array.from({ length: 128 }, (_, i) => i)),
      mid: "m".repeat(17),
      edge: "e".repeat(256),
      past: "p".repeat(257),
    },
    Object.assign(Object.create(null), { noProto: 1 }),
    JSON.parse('{"__proto__": {"x": 1}, "y": [true]}'),
    { many: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i])) },
    { big: "y".repeat(20_000) },
  ];
  for (const c of cases) assertSame(c);
});

Deno.test("shapes the fast path leaves to the generic path give the same bytes or errors", () => {
  const deep: Record<string, unknown> = {};
  let at = deep;
  for (let i = 0; i < 40; i++) at = (at.x = {}) as Record<string, unknown>;
  const cases: [string, unknown][] = [
    ["a Date (toJSON)", { when: new Date(0) }],
    ["a bigint", { n: 10n }],
    ["NaN (error)", { n: NaN }],
    ["Infinity in a list (error)", { l: [1, Infinity] }],
    ["a function (skipped)", { f: () => 1, keep: 1 }],
    ["a function in a list (null)", { l: [() => 1] }],
    ["a surrogate pair", { s: "smile \u{1F600}" }],
    ["a lone surrogate", { s: "lone \ud800 x" }],
    ["40 levels", deep],
    ["bytes (error)", { b: new Uint8Array(2) }],
    ["a Map (error)", { m: new Map() }],
  ];
  for (const [label, c] of cases) assertSame(c, label);
  assert.equal(encodeStructFast({ when: new Date(0) }), null);
  assert.equal(encodeStructFast({ s: "\u{1F600}" }), null);
});

Deno.test("a getter answering differently on each read still encodes what was read once", () => {
  let reads = 0;
  const payload = {
    get flip(): unknown {
      return reads++ % 2 === 0 ? "a short one" : { now: ["a", "longer", "value", 1, 2, 3] };
    },
  };
  const fast = encodeInvokeRequest(call(payload));
  // The generic path reads once: whatever it read must be one of the two shapes, whole.
  reads = 0;
  const first = encodeMessage("InvokeHookRequest", invokeRequest(call(payload)));
  reads = 1;
  const second = encodeMessage("InvokeHookRequest", invokeRequest(call(payload)));
  assert.ok(
    fast.length === first.length && fast.every((b, i) => b === first[i]) ||
      fast.length === second.length && fast.every((b, i) => b === second[i]),
    "the fast path wrote a mix of two reads",
  );
});

Deno.test("random JSON payloads encode to the generic path's bytes", () => {
  let seed = 13;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const text = () =>
    Array.from({ length: Math.floor(rnd() * 12) }, () => pick(["a", "Z", " ", "é", "✓", "\n", '"']))
      .join("");
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.3) {
      return pick<() => unknown>([
        () => text(),
        () => Math.floor(rnd() * 1e6) - 5e5,
        () => rnd() * 1e3,
        () => rnd() < 0.5,
        () => null,
      ])();
    }
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(rnd() * 6) }, () => [text(), value(depth + 1)]),
    );
  };
  for (let i = 0; i < 3000; i++) {
    const payload = { name: text(), args: value(0) };
    assertSame(payload);
  }
});

Deno.test("a payload frozen throughout is encoded once; a mutable one every time", () => {
  const frozen = Object.freeze({ name: "t", args: Object.freeze({ q: "x" }) });
  assert.equal(encodeStructFast(frozen), encodeStructFast(frozen), "remembered");
  const shallow = Object.freeze({ name: "t", args: { q: "x" } });
  const before = encodeStructFast(shallow)!;
  shallow.args.q = "changed";
  const after = encodeStructFast(shallow)!;
  assert.notDeepEqual(after, before, "a mutable nested object is not remembered");
  assertSame(shallow);
});

Deno.test("the context and names are encoded as the generic path does", () => {
  const context = new PluginContext(
    { request_id: "r-2", user: "alice", state: { s: 1 } },
    { local: ["x"] },
    { m: true },
  );
  const c = call({ name: "t", args: {} }, context);
  assert.deepEqual(
    encodeInvokeRequest(c),
    encodeMessage("InvokeHookRequest", invokeRequest(c)),
  );
});

// --- decoding ------------------------------------------------------------------------------------

/** An independent protobufjs schema (no direct Struct decoding): the reference behaviour. */
function genericRequestType(): protobuf.Type {
  const root = new protobuf.Root();
  protobuf.parse(PLUGIN_SERVICE_PROTO, root, { keepCase: true });
  root.addJSON(protobuf.common.get("google/protobuf/struct.proto")!.nested!);
  root.resolveAll();
  return root.lookupType("cpex.InvokeHookRequest");
}
const GENERIC_REQUEST = genericRequestType();

/** The codec's reader (strict string bounds, Node's UTF-8 decoder), without the Struct shortcut. */
class StrictReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw new RangeError(`index out of range`);
    this.pos = end;
    return (this.buf as Buffer).toString("utf8", start, end);
  }
}

/** What each decoder makes of request `bytes`: the payload as JSON, or the error thrown. */
function decodeBoth(bytes: Uint8Array): { fast: unknown; generic: unknown } {
  const run = (f: () => unknown) => {
    try {
      return f();
    } catch (e) {
      return { threw: e instanceof StructConversionError ? e.message : true };
    }
  };
  return {
    fast: run(() => fromStruct(decodeMessage("InvokeHookRequest", bytes).payload)),
    generic: run(() =>
      fromStruct(
        (GENERIC_REQUEST.decode(
          new StrictReader(Buffer.from(bytes)),
        ) as unknown as InvokeHookRequest)
          .payload,
      )
    ),
  };
}

function requestBytes(payload: unknown): Uint8Array {
  return encodeMessage("InvokeHookRequest", invokeRequest(call(payload)));
}

/** A request whose payload field holds exactly `struct` (raw Struct bytes). */
function withStruct(struct: number[]): Uint8Array {
  return Uint8Array.from([0x0a, 1, 0x68, 0x12, 1, 0x70, 0x1a, struct.length, ...struct]);
}

Deno.test("decoded payloads equal the generic decoder's, for edge values and random JSON", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const text = () =>
    Array.from({ length: Math.floor(rnd() * 20) }, () => 'aZ é✓\n"\\😀'.charAt(rnd() * 11))
      .join("");
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.3) {
      return [text(), Math.floor(rnd() * 1e6) - 5e5, rnd() * 1e3, rnd() < 0.5, null, -0][
        Math.floor(rnd() * 6)
      ];
    }
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(rnd() * 6) }, () => [text(), value(depth + 1)]),
    );
  };
  const payloads: unknown[] = [
    {},
    { s: "", long: "x".repeat(100), utf: "ключ ✓ 😀", n: [0, -0, 1.5, 1e300, 5e-324] },
    { "1": "numeric key first", b: "then", "0": "zero" },
    JSON.parse('{"__proto__": {"x": 1}}'),
  ];
  for (let i = 0; i < 2000; i++) payloads.push({ name: text(), args: value(0) });
  for (const p of payloads) {
    const { fast, generic } = decodeBoth(requestBytes(p));
    assert.deepEqual(fast, generic, JSON.stringify(p));
    // Lone surrogates (charAt splits the emoji) do not survive UTF-8; the rest round-trips.
    const lossy = /\\ud[89a-f]/.test(JSON.stringify(p));
    if (!lossy && !Object.hasOwn(p as object, "__proto__")) assert.deepEqual(fast, p);
  }
});

Deno.test("non-canonical and malformed Struct bytes decode as the generic decoder does", () => {
  const key = [0x0a, 1, 0x6b]; // key "k"
  const entry = (value: number[]) => [0x0a, 3 + 2 + value.length, ...key, 0x12, value.length];
  const cases: [string, number[]][] = [
    ["an empty Value", [...entry([])]],
    ["a Value with two members", [...entry([0x20, 1, 0x1a, 1, 0x61]), 0x20, 1, 0x1a, 1, 0x61]],
    ["NaN", [...entry([0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f]), 0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f]],
    ["a bool of 2", [...entry([0x20, 2]), 0x20, 2]],
    ["null_value 1", [...entry([0x08, 1]), 0x08, 1]],
    ["an unknown Struct field", [0x10, 1]],
    ["value before key", [0x0a, 7, 0x12, 2, 0x20, 1, 0x0a, 1, 0x6b]],
    ["an entry without key", [0x0a, 4, 0x12, 2, 0x20, 1]],
    ["an entry without value", [0x0a, 3, 0x0a, 1, 0x6b]],
    ["a duplicate key", [...entry([0x20, 1]), 0x20, 1, ...entry([0x20, 0]), 0x20, 0]],
    ["a truncated string", [...entry([0x1a, 9, 0x61]), 0x1a, 9, 0x61]],
    ["invalid UTF-8", [...entry([0x1a, 2, 0xc3, 0x28]), 0x1a, 2, 0xc3, 0x28]],
  ];
  for (const [label, struct] of cases) {
    const { fast, generic } = decodeBoth(withStruct(struct));
    assert.deepEqual(fast, generic, label);
  }
});

Deno.test("randomly damaged requests decode (or fail) as with the generic decoder", () => {
  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const base = requestBytes({
    name: "t",
    args: { q: "hello", n: [1, 2.5, true, null, { deep: ["x", { y: "z" }] }], e: "é" },
  });
  for (let i = 0; i < 3000; i++) {
    const bytes = base.slice();
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
      bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    }
    const { fast, generic } = decodeBoth(bytes);
    assert.deepEqual(fast, generic, `bytes ${Array.from(bytes).join(",")}`);
  }
});

Deno.test("a decoded Struct handed out twice is copied, and re-encodes to the same bytes", () => {
  const bytes = requestBytes({ name: "t", args: { list: [1, { a: "b" }] } });
  const request = decodeMessage("InvokeHookRequest", bytes);
  const first = fromStruct(request.payload);
  const second = fromStruct(request.payload);
  assert.deepEqual(first, second);
  assert.notEqual(first, second);
  assert.notEqual(first.args, second.args);
  assert.deepEqual(encodeMessage("InvokeHookRequest", request), bytes);
});
