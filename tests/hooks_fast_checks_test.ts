/**
 * The precompiled payload checks (issue 13) never accept what zod rejects: for every payload
 * here, `acceptsFast` true implies `safeParse` succeeds; and the ordinary payloads do take the
 * fast path (else the check would be dead weight).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ToolPostInvokePayloadSchema, ToolPreInvokePayloadSchema } from "../mod.ts";
import { acceptsFast } from "../src/hooks/fast_checks.ts";
import type { Schema } from "../src/hooks/schema.ts";

class Args {
  query = "x";
}

const symbolArgs = { q: 1, [Symbol("s")]: 2 };
const hiddenSymbolArgs = { q: 1 };
Object.defineProperty(hiddenSymbolArgs, Symbol("h"), { value: 1, enumerable: false });
const nullProto = Object.assign(Object.create(null), { q: 1 });
const ctorFn = { q: 1, constructor: function Fake() {} };
const ctorString = { q: 1, constructor: "x" };

/** Payloads of every shape the checks must get right; `true` marks those meant to be fast. */
const PRE: Array<[unknown, boolean]> = [
  [{ name: "search", args: { query: "deno", limit: 5, nested: { a: [1, 2] } } }, true],
  [{ name: "search" }, true],
  [{ name: "search", args: null }, true],
  [{ name: "search", args: {}, headers: null }, true],
  [{ name: "search", args: nullProto }, true],
  [{ name: "search", args: ctorString }, true],
  [{ name: "search", extra: 1 }, true],
  [{ name: "search", args: {}, headers: { "x-a": "b" } }, false],
  [{ name: "search", args: {}, headers: { "x-a": 1 } }, false],
  [{ name: "search", args: symbolArgs }, false],
  [{ name: "search", args: hiddenSymbolArgs }, false],
  [{ name: "search", args: ctorFn }, false],
  [{ name: "search", args: new Args() }, false],
  [{ name: "search", args: [1] }, false],
  [{ name: "search", args: "rm -rf /" }, false],
  [{ name: 42, args: {} }, false],
  [{ args: {} }, false],
  [[{ name: "search" }], false],
  ["search", false],
  [null, false],
  [undefined, false],
];

const POST: Array<[unknown, boolean]> = [
  [{ name: "search", result: { hits: 3 } }, true],
  [{ name: "search", result: null }, true],
  [{ name: "search", result: 0 }, true],
  [{ name: "search", result: undefined }, false],
  [{ name: "search" }, false],
  [{ name: 1, result: 1 }, false],
  [[], false],
  [null, false],
];

function check(schema: Schema<unknown>, cases: Array<[unknown, boolean]>): void {
  for (const [payload, fast] of cases) {
    const label = Deno.inspect(payload);
    const accepted = acceptsFast(schema, payload);
    if (accepted) assert.ok(schema.safeParse(payload).success, `fast path accepted ${label}`);
    assert.equal(accepted, fast, `fast path for ${label}`);
  }
}

Deno.test("the tool_pre_invoke check accepts only what zod accepts", () => {
  check(ToolPreInvokePayloadSchema as Schema<unknown>, PRE);
});

Deno.test("the tool_post_invoke check accepts only what zod accepts", () => {
  check(ToolPostInvokePayloadSchema as Schema<unknown>, POST);
});

Deno.test("a schema without a precompiled check always defers to zod", () => {
  const schema = { safeParse: () => ({ success: true }) } as unknown as Schema<unknown>;
  assert.equal(acceptsFast(schema, { name: "x" }), false);
});
