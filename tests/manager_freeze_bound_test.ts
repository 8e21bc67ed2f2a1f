import assert from "node:assert/strict";
import { deepFreeze, freezeBounded } from "../src/manager/freeze.ts";
import { payloadSizeError } from "../src/manager/payload_size.ts";

/** The exact size the reference counts (C3), from the error message at limit 0. */
function exactSize(hook: string, payload: Record<string, unknown>): number {
  const message = payloadSizeError(hook, payload, 0);
  return message === null ? 0 : Number(/size (\d+) exceeds/.exec(message)![1]);
}

const awkward: unknown[] = [
  "plain",
  'it\'s "quoted" \\ back',
  "\x00\x01\x7f\t\n\r",
  "\u0085\u00ad\u2028\u200b\ue000\ufeff",
  "\ud800 lone surrogate \udfff",
  "😀🤖 astral \u{e0001}",
  -1.7976931348623157e308,
  5e-324,
  -123456789012345678901,
  0.1,
  true,
  false,
  null,
  [],
  {},
  [undefined, null, [[]], [{}]],
  { "k'ey": 'v"', "\u2028": ["\x00"] },
];

Deno.test("the freeze walk's size bound is never below the exact count (C3)", () => {
  // Long strings, so the containers' slack cannot hide a string bound that is too low.
  const values = [
    ...awkward,
    ...awkward.filter((v) => typeof v === "string").map((v) => v.repeat(40)),
  ];
  for (const hook of ["tool_pre_invoke", "prompt_post_fetch"]) {
    for (const value of values) {
      for (const payload of [{ args: { a: value, b: [value, { c: value }] } }, { result: value }]) {
        const bound = freezeBounded(structuredClone(payload));
        const exact = exactSize(hook, structuredClone(payload));
        assert(bound >= exact, `${hook} ${JSON.stringify(payload)}: ${bound} < ${exact}`);
      }
    }
  }
});

Deno.test("the freeze walk freezes every plain object and array, also under a frozen one", () => {
  const inner = { list: [{ x: 1 }] };
  const payload = Object.freeze({ name: "t", args: { inner } });
  freezeBounded(payload);
  assert(Object.isFrozen(payload.args));
  assert(Object.isFrozen(inner));
  assert(Object.isFrozen(inner.list));
  assert(Object.isFrozen(inner.list[0]));
});

Deno.test("the freeze walk gives no bound for what it cannot bound", () => {
  assert.equal(freezeBounded({ args: { when: new Date(0) } }), Infinity);
  assert.equal(freezeBounded({ args: { n: 1n } }), Infinity);
  let deep: unknown = {};
  for (let i = 0; i < 300; i++) deep = { deep };
  assert.equal(freezeBounded({ args: deep }), Infinity);
});

Deno.test("the freeze walk gives up on objects shared through many paths, in bounded time", () => {
  // Each level references the next twice: 2^60 paths, 61 objects. A cycle through two
  // references is the same case (the walk stops at the depth bound only after 2^256 paths).
  let shared: Record<string, unknown> = { leaf: "x" };
  const levels = [shared];
  for (let i = 0; i < 60; i++) {
    shared = { left: shared, right: shared };
    levels.push(shared);
  }
  const cyclic: Record<string, unknown> = { name: "t" };
  cyclic.a = cyclic;
  cyclic.b = cyclic;
  // Before the container budget these walks did not finish.
  assert.equal(freezeBounded(shared), Infinity);
  assert.equal(freezeBounded(cyclic), Infinity);
  // The callers' general walk then freezes every object once.
  deepFreeze(shared);
  deepFreeze(cyclic);
  assert.ok(levels.every((o) => Object.isFrozen(o)) && Object.isFrozen(cyclic));
});
