/**
 * Issue 11 item 2 (C3): the payload size limit counts what the reference counts. Each case is
 * padded to exactly the limit and to one character past it, by our own count; the reference's
 * `_validate_payload_size` (run in `.venv` on the same payloads, sent as JSON) must accept the
 * first and reject the second with the same message. A count off by one character in any
 * rendering rule — code points of astral characters, Python's `repr` of nested strings with
 * quotes and escapes, `True`/`None`, floats like `1e-05`, `StructuredData` results — makes
 * the two sides disagree.
 *
 * Run: `deno test --allow-read --allow-run tests/interop/conformance_payload_size_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PayloadSizeError } from "../../mod.ts";
import { payloadSizeError } from "../../src/manager/payload_size.ts";
import { AllowPlugin, gctx, makeManager } from "../helpers/plugins.ts";
import { askReference } from "./reference_probe.ts";

const LIMIT = 1_000_000;

interface Case {
  name: string;
  hook: string;
  /** Builds the payload with `pad` characters of padding. */
  build(pad: number): Record<string, unknown>;
}

const ODD_STRINGS = [
  "it's",
  'say "hi"',
  `both ' and "`,
  "back\\slash",
  "tab\tnew\nline\rret",
  "\x00\x01\x1f\x7f",
  "é\u00a0\u00ad\u2028\u200b",
  "😀𝔘\u{e0001}",
  "\ud800 lone",
  "",
];
const ODD_VALUES: unknown[] = [
  true,
  false,
  null,
  0,
  -7,
  1.5,
  -0.25,
  0.00001,
  1e-7,
  123456.789,
  1e21,
  1.5e300,
  2 ** 60,
  12345678901234567000,
  { k: [1, { n: null }], "k'": {} },
  [],
  [[[]]],
];

function nested(depth: number, leaf: unknown): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value };
  return value;
}

function wide(n: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
}

const CASES: Case[] = [
  { name: "ascii string arg", hook: "tool_pre_invoke", build: (p) => args({ a: "x".repeat(p) }) },
  {
    name: "astral characters count once",
    hook: "tool_pre_invoke",
    build: (p) => args({ a: "😀".repeat(p), b: "𝔘" }),
  },
  {
    name: "several args of every type",
    hook: "tool_pre_invoke",
    build: (p) => args({ s: "x".repeat(p), t: true, n: null, f: 1.5, i: 42, l: [1, "a"], d: {} }),
  },
  {
    name: "nested dict with odd strings",
    hook: "tool_pre_invoke",
    build: (p) => args({ d: { strings: ODD_STRINGS, values: ODD_VALUES, pad: "x".repeat(p) } }),
  },
  {
    name: "odd dict keys",
    hook: "tool_pre_invoke",
    build: (p) => args({ d: { "it's": 1, 'q"': 2, "😀": 3, "\n": 4, pad: "y".repeat(p) } }),
  },
  {
    name: "prompt args",
    hook: "prompt_pre_fetch",
    build: (p) => ({ prompt_id: "p", args: { a: "é".repeat(p), b: "😀" } }),
  },
  {
    name: "string result",
    hook: "tool_post_invoke",
    build: (p) => ({ name: "t", result: "x😀".repeat(p >> 1) + "😀".repeat(p & 1) + "!" }),
  },
  {
    name: "dict result",
    hook: "tool_post_invoke",
    build: (p) => ({ name: "t", result: { content: [{ type: "text", text: "x".repeat(p) }] } }),
  },
  {
    name: "list result with odd values",
    hook: "tool_post_invoke",
    build: (p) => ({ name: "t", result: [...ODD_STRINGS, ...ODD_VALUES, "x".repeat(p)] }),
  },
  {
    name: "prompt result as StructuredData",
    hook: "prompt_post_fetch",
    build: (p) => ({
      prompt_id: "p",
      result: {
        messages: [{ role: "user", content: { type: "text", text: "x".repeat(p) } }],
        description: null,
        "odd key": ODD_VALUES,
        strings: ODD_STRINGS,
      },
    }),
  },
  {
    name: "prompt result nested past the coercion depth",
    hook: "prompt_post_fetch",
    build: (p) => ({ prompt_id: "p", result: { deep: nested(30, "x".repeat(p)) } }),
  },
  {
    name: "prompt result with a container past the coercion breadth",
    hook: "prompt_post_fetch",
    build: (p) => ({
      prompt_id: "p",
      result: {
        wide: wide(501),
        list: [...Array(501).keys()].map((i) => ({ i })),
        pad: "x".repeat(p),
      },
    }),
  },
  {
    name: "prompt result too wide to coerce",
    hook: "prompt_post_fetch",
    build: (p) => ({ prompt_id: "p", result: { ...wide(501), pad: "x".repeat(p) } }),
  },
];

function args(values: Record<string, unknown>): Record<string, unknown> {
  return { name: "tool", args: values };
}

/** Our count of `payload` (the size in the message of a check against limit -1). */
function ourSize(hook: string, payload: unknown): number {
  const message = payloadSizeError(hook, payload, -1);
  assert.ok(message, "payload has no countable size");
  return Number(/size (\d+) exceeds/.exec(message)![1]);
}

/** The padding that brings `c` to exactly `target` characters by our count. */
function padFor(c: Case, target: number): number {
  const base = ourSize(c.hook, c.build(0));
  // Padding grows the count one for one; a few corrections settle the rest.
  let pad = target - base;
  for (let i = 0; i < 4; i++) {
    const size = ourSize(c.hook, c.build(pad));
    if (size === target) return pad;
    pad += target - size;
  }
  throw new Error(`cannot pad ${c.name} to ${target}`);
}

Deno.test("the size check agrees with the reference at the limit and one past it", async () => {
  const items: Array<{ hook: string; payload: unknown }> = [];
  const expected: Array<string | null> = [];
  for (const c of CASES) {
    for (const target of [LIMIT, LIMIT + 1]) {
      const payload = c.build(padFor(c, target));
      items.push({ hook: c.hook, payload });
      expected.push(payloadSizeError(c.hook, payload, LIMIT));
    }
  }
  const reference = await askReference("size", JSON.stringify(items)) as Array<string | null>;
  const divergent: string[] = [];
  for (let i = 0; i < items.length; i++) {
    if (reference[i] !== expected[i]) {
      divergent.push(`${CASES[i >> 1].name}: reference ${reference[i]}, ours ${expected[i]}`);
    }
  }
  assert.deepEqual(divergent, []);
  assert.deepEqual(
    expected.map((e) => e === null),
    CASES.flatMap(() => [true, false]),
    "each case is accepted at the limit and rejected one past it",
  );
});

Deno.test("a result of 999,989 UTF-16 units that the reference rejects is rejected here", async () => {
  // The reference counts str() of the dict: 12 characters more than the text (C3).
  const payload = { name: "t", result: { text: "x".repeat(999_989) } };
  const [reference] = await askReference(
    "size",
    JSON.stringify([{ hook: "tool_post_invoke", payload }]),
  ) as string[];
  assert.equal(reference, "Result size 1000001 exceeds limit of 1000000 bytes");
  const manager = await makeManager([
    new AllowPlugin({ name: "p", kind: "allow", hooks: ["tool_post_invoke"] }),
  ]);
  try {
    await assert.rejects(
      manager.invokeHook("tool_post_invoke", payload, gctx()),
      (e: unknown) => e instanceof PayloadSizeError && e.message === reference,
    );
  } finally {
    await manager.shutdown();
  }
});
