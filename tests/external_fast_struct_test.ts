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
import { encodeMessage } from "../src/external/proto/codec.ts";
import { encodeStructFast } from "../src/external/proto/fast_struct.ts";
import { encodeInvokeRequest, invokeRequest } from "../src/external/proto/proto_call.ts";
import type { RemoteCall } from "../src/external/remote_plugin.ts";

function call(payload: unknown, context = new PluginContext({ request_id: "r-1" })): RemoteCall {
  return { hookName: "tool_pre_invoke", pluginName: "allow", payload, context };
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
