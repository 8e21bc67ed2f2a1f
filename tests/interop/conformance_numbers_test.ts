/**
 * Issue 11 item 6: integer and number config fields coerce values as the reference's pydantic
 * models do (`priority: true` is 1, `"5.0"` is 5, `"1_000"` is 1000, `5.5` is refused). Each
 * value goes through the reference's `PluginConfig.priority` (an int field) and
 * `UnixSocketClientConfig.timeout` (a float field) and through our `toInteger`/`toNumber`;
 * the answers must agree. The one deliberate difference: the reference takes `inf`/`nan` for a
 * float field, we refuse them (a timeout of NaN seconds is a config error, README).
 *
 * Run: `deno test --allow-read --allow-run tests/interop/conformance_numbers_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { toInteger, toNumber } from "../../src/config/scalars.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { askReference } from "./reference_probe.ts";

const VALUES: unknown[] = [
  true,
  false,
  0,
  5,
  -5,
  5.5,
  1e15,
  null,
  [1],
  {},
  ...[
    "5",
    " 5 ",
    "\t5\n",
    "+5",
    "-5",
    "-0",
    "05",
    "5.0",
    "5.00",
    "0.0",
    "5.",
    ".5",
    "+.5",
    "-5.",
    "5.5",
    "5.0e0",
    "1e3",
    " 1e3 ",
    "1E-3",
    "1e",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "1_0.5",
    "1.5_0",
    "1e1_0",
    "0x10",
    "0b1",
    "0o7",
    "",
    " ",
    "five",
    "١٢",
    "5.000000000000001",
    "true",
    "yes",
  ],
];
const NON_FINITE = ["inf", "-inf", "Infinity", "nan", "NaN"];

Deno.test("int and float fields coerce every value as the reference's pydantic models do", async () => {
  const reference = await askReference(
    "numbers",
    JSON.stringify([...VALUES, ...NON_FINITE]),
  ) as Array<{ int: number | null; float: number | null }>;
  const divergent: string[] = [];
  VALUES.forEach((value, i) => {
    const int = toInteger(value) ?? null;
    const float = toNumber(value) ?? null;
    if (int !== reference[i].int || float !== reference[i].float) {
      divergent.push(
        `${JSON.stringify(value)}: reference ${JSON.stringify(reference[i])}, ours ${
          JSON.stringify({ int, float })
        }`,
      );
    }
  });
  assert.deepEqual(divergent, []);
  // The deliberate difference: non-finite floats are refused here, taken by the reference.
  NON_FINITE.forEach((value, i) => {
    assert.equal(reference[VALUES.length + i].int, null);
    assert.notEqual(reference[VALUES.length + i].float, null, value);
    assert.equal(toNumber(value), undefined);
  });
});

Deno.test("priority: true loads as priority 1, as in the reference", () => {
  const config = parseConfigText(
    "plugins:\n  - name: p\n    kind: x.Y\n    hooks: [tool_pre_invoke]\n    priority: true\n",
  );
  assert.equal(config.plugins[0].priority, 1);
});
