/**
 * Issue 11 item 1: our config loader reads every plain scalar as the reference's loader does
 * (PyYAML `safe_load`, YAML 1.1). A corpus of about a thousand scalars — booleans, nulls,
 * integers in every base with signs, underscores and sexagesimal parts, floats with exponents,
 * `.inf`/`.nan` and sexagesimal parts, timestamps valid and invalid, odd strings, and the
 * quoted form of each — goes through PyYAML itself and through `parseYaml`; the answers must
 * agree one by one (same type, same value, or both refuse the document). Not covered: a tab
 * inside a plain scalar, which PyYAML's scanner refuses and we read (README, compatibility).
 *
 * Run: `deno test --allow-read --allow-run tests/interop/conformance_yaml_test.ts` (needs
 * `.venv`, see `tests/interop/setup_venv.sh`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseYaml } from "../../src/config/yaml.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { askReference } from "./reference_probe.ts";

interface Typed {
  t: string;
  v?: unknown;
}

function caseForms(word: string): string[] {
  const alternating = [...word].map((c, i) => i % 2 ? c.toUpperCase() : c).join("");
  return [
    ...new Set([word, word[0].toUpperCase() + word.slice(1), word.toUpperCase(), alternating]),
  ];
}

const WORDS = ["yes", "no", "true", "false", "on", "off", "y", "n", "t", "f", "null", "none"];
const INTS = [
  "0",
  "00",
  "07",
  "08",
  "09",
  "010",
  "0777",
  "0_7",
  "0_",
  "01_2",
  "0b0",
  "0b101",
  "0b",
  "0b_",
  "0b2",
  "0B1",
  "0x0",
  "0x1F",
  "0x1f",
  "0xFF_FF",
  "0x",
  "0x_",
  "0xg",
  "0X1F",
  "0o17",
  "0O17",
  "0o",
  "1",
  "12",
  "1_000",
  "1__0",
  "1_",
  "_1",
  "123456789012345678901234567890",
  "9007199254740993",
  "1:30",
  "1:30:45",
  "1:60",
  "1:5",
  "01:30",
  "0:30",
  "1:3_0",
  "1_0:30",
  "190:20:30",
  "1:30:",
];
const FLOATS = [
  "1.0",
  "1.",
  "0.",
  "0.0",
  ".5",
  "._5",
  ".5_",
  "1e3",
  "1E3",
  "1.0e3",
  "1.0e+3",
  "1.0E-3",
  "1.e+3",
  "1e+3",
  "1_0.5",
  "1.5_5",
  "1.5e+400",
  "1.7976931348623157e+308",
  "5e-324",
  "5.0e-324",
  "4.9e-324",
  "0.1",
  "123456789.123456789",
  ".inf",
  ".Inf",
  ".INF",
  ".iNf",
  "inf",
  "Infinity",
  ".nan",
  ".NaN",
  ".NAN",
  ".Nan",
  "nan",
  "NaN",
  "190:20:30.15",
  "1:30.5",
  "1:30.",
  "1:60.5",
  "0:0.5",
  "1.5e3",
  "2.5e-3",
  "1.0e+03",
  "1.0e+",
  "1_000.000_1",
];
const TIMESTAMPS = [
  "2001-12-14",
  "2001-12-14t21:59:43.10-05:00",
  "2001-12-14 21:59:43.10 -5",
  "2001-12-15T02:59:43.1Z",
  "2001-12-14T21:59:43",
  "2001-12-14T21:59:43.",
  "2002-1-1 1:00:00",
  "2002-1-1",
  "2020-13-01",
  "2020-02-30",
  "2020-02-29",
  "2019-02-29",
  "2000-02-29",
  "1900-02-29",
  "0000-01-01",
  "0001-01-01",
  "2001-12-14 21:59:43.1234567",
  "2001-12-14T21:59:43+05:30",
  "2001-12-14T21:59:43 +23:59",
  "2001-12-14T21:59:43+24",
  "2001-12-14T24:00:00",
  "2001-12-14T23:60:00",
  "2001-12-14T23:59:60",
  "2001-12-14T21:59:43Z",
  "2001-12-14T21:59:43.999999999Z",
  "99-12-14",
  "2001-12-14T1:2:3",
];
const OTHERS = [
  "=",
  "abc",
  "a b",
  ".",
  "..",
  "1.2.3",
  "0x1.8",
  "1,000",
  "$1",
  "12:30:45.5",
  "1:2",
  "-.5",
  "+.5",
  "+",
  "-1-",
  "~",
  "~~",
  "",
  "Null",
  "NULL",
  "nULL",
  "0.5.",
  "1e",
  "e3",
  "0x-1",
  "-0",
  "+0",
  "-0.0",
  "+0.0",
  "-0b0",
  "yes please",
  "on-call",
  "2e-5",
  "1.0e-5",
];

function corpus(): string[] {
  const plain = [
    ...WORDS.flatMap(caseForms),
    ...["", "+", "-"].flatMap((sign) => [...INTS, ...FLOATS].map((body) => sign + body)),
    ...TIMESTAMPS,
    ...OTHERS,
  ];
  const unique = [...new Set(plain)];
  const quoted = unique.flatMap((s) => [`"${s}"`, `'${s}'`]);
  return [...unique, ...quoted];
}

function ours(doc: string): Typed {
  let value: unknown;
  try {
    value = (parseYaml(doc) as { v: unknown }).v;
  } catch {
    return { t: "error" };
  }
  if (value === null) return { t: "null" };
  if (typeof value === "boolean") return { t: "bool", v: value };
  if (typeof value === "string") return { t: "str", v: value };
  if (typeof value === "number") return { t: "number", v: value };
  if (value instanceof Date) return { t: "timestamp", v: value.toISOString() };
  return { t: typeof value, v: String(value) };
}

function agrees(reference: Typed, mine: Typed): boolean {
  if (reference.t === "int") {
    return mine.t === "number" && mine.v === Number(BigInt(reference.v as string));
  }
  if (reference.t === "float") {
    if (mine.t !== "number") return false;
    const text = reference.v as string;
    const expected = text === "nan"
      ? NaN
      : text === "inf"
      ? Infinity
      : text === "-inf"
      ? -Infinity
      : Number(text);
    return Object.is(mine.v, expected);
  }
  return reference.t === mine.t && reference.v === mine.v;
}

Deno.test("every plain and quoted scalar of the corpus loads as PyYAML's safe_load reads it", async () => {
  const scalars = corpus();
  assert.ok(scalars.length > 900, `corpus has ${scalars.length} scalars`);
  const docs = scalars.map((s) => `v: ${s}\n`);
  const reference = await askReference("yaml", JSON.stringify(docs)) as Typed[];
  const divergent: string[] = [];
  for (let i = 0; i < docs.length; i++) {
    const mine = ours(docs[i]);
    if (!agrees(reference[i], mine)) {
      divergent.push(
        `${JSON.stringify(scalars[i])}: reference ${JSON.stringify(reference[i])}, ours ${
          JSON.stringify(mine, (_k, v) => Number.isNaN(v) ? "NaN" : v)
        }`,
      );
    }
  }
  assert.deepEqual(divergent, []);
  // The corpus covers each kind of answer.
  const kinds = new Set(reference.map((r) => r.t));
  for (const kind of ["str", "int", "float", "bool", "null", "timestamp", "error"]) {
    assert.ok(kinds.has(kind), `no ${kind} in the corpus`);
  }
});

Deno.test("conditions with y and n tool names load as strings, as in the reference", () => {
  const config = parseConfigText(
    "plugins:\n  - name: p\n    kind: x.Y\n    hooks: [tool_pre_invoke]\n" +
      "    conditions: [{tools: [y, n, 08, 1e3]}]\n",
  );
  const tools = config.plugins[0].conditions[0].tools;
  assert.deepEqual([...tools ?? []].sort(), ["08", "1e3", "n", "y"]);
});
