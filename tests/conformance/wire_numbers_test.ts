/**
 * Exact numbers through our MCP plugin server (issue 11 item 7), byte for byte against the
 * reference: the same raw `invoke_hook` request (numbers written as `2.0`, `-0.0`,
 * `9007199254740993`, `1E3`, `1.10`, ...) goes to our server and to the reference's MCP runtime,
 * over Streamable HTTP and over STDIO, and the answers' tool texts must be the same tokens
 * (whitespace aside: the reference indents). Plus the float formatting itself against pydantic
 * (what the reference writes with) on a seeded corpus.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer } from "../../server.ts";
import {
  ExactNumbers,
  parseWithNumberTexts,
  pythonFloatText,
  referenceNumberText,
} from "../../src/external/mcp/exact_numbers.ts";
import { startPythonMcpHttpServer } from "../interop/mcp_helpers.ts";
import { PYTHON, requireVenv } from "../interop/unix_helpers.ts";
import { Random } from "./wire_generator.ts";
import { wirePlugins } from "./wire_plugins.ts";
import {
  invokeHookText,
  minifyJson,
  openOurStdio,
  openRawHttp,
  openReferenceStdio,
  type RawMcpSession,
  WIRE_PY_CONFIG,
  WIRE_PY_ENV,
} from "./wire_raw_mcp.ts";

const sanitize = { sanitizeOps: true, sanitizeResources: true };

/** Numbers as a client may write them, nested in args dicts and lists. */
const ARGS = `{"two":2.0,"negzero":-0.0,"id":9007199254740993,"k":1e3,"big":1.5e300,"tenth":0.1,
"neg":-123456789012345678901234567890,"list":[1E3,1.10,2.5E-3,0.000001,1e16,100,-0,-7,1e400,
{"deep":[12345678901234567890,-9007199254740993,5e-324,123456789.0]}],"text":"2.0 stays text",
"nested":{"a":{"b":[[-0.0,2.0]]}}}`.replaceAll("\n", "");
/** A context whose state and metadata hold such numbers too (the reply repeats the context). */
const CONTEXT = `{"state":{"x":2.0,"y":9007199254740993},"global_context":{"request_id":"r1",
"state":{"z":-0.0,"w":[1e3]}},"metadata":{"m":1e22}}`.replaceAll("\n", "");

function call(plugin: string, name: string): string {
  return `{"hook_type":"tool_pre_invoke","plugin_name":"${plugin}",` +
    `"payload":{"name":"${name}","args":${ARGS}},"context":${CONTEXT}}`;
}

/** The minified tool text of an `invoke_hook` answer. */
function toolText(answer: string): string {
  const message = JSON.parse(answer) as { result?: { content?: { text: string }[] } };
  const text = message.result?.content?.[0]?.text;
  assert.equal(typeof text, "string", `no tool text in ${answer}`);
  return minifyJson(text!);
}

/**
 * The reference's tool text with its known, documented differences from ours undone:
 * - README "Transports": the reference writes an overflowing float as `Infinity` (not JSON);
 *   we write `1e400`, which Python (and any JSON parser) reads back as the same infinite float;
 * - the reference adds `"denial_metadata":null` to every result (its own proto field, absent
 *   from our result dump; the gateway reads absent and null alike).
 */
function referenceComparable(text: string): string {
  return text.replaceAll("Infinity", "1e400").replaceAll('"denial_metadata":null,', "");
}

/** Sends the same calls to our and the reference's session and compares the tool texts. */
async function assertSameTexts(ours: RawMcpSession, reference: RawMcpSession): Promise<void> {
  let id = 10;
  // Echo returns the payload unchanged (and copies args into metadata); Modify changes another
  // field; State copies args into local and global state.
  for (const [plugin, name] of [["Echo", "echo"], ["Modify", "modify"], ["State", "state"]]) {
    id++;
    const request = invokeHookText(id, call(plugin, name));
    const [mine, theirs] = await Promise.all([
      ours.request(id, request),
      reference.request(id, request),
    ]);
    assert.equal(toolText(mine), referenceComparable(toolText(theirs)), plugin);
  }
  // Block: the violation's details carry the args.
  id++;
  const request = invokeHookText(id, call("Block", "block"));
  const violation = (text: string) => JSON.stringify(text.match(/"violation":(\{.*?\}\}),/)?.[1]);
  const mine = toolText(await ours.request(id, request));
  const theirs = referenceComparable(toolText(await reference.request(id, request)));
  assert.ok(mine.includes('"two":2.0,"negzero":-0.0,"id":9007199254740993'), mine);
  assert.equal(violation(mine), violation(theirs));
}

Deno.test({
  name: "mcp http: numbers a plugin passes through leave our server as the reference writes them",
  ...sanitize,
  async fn() {
    const server = new ExternalPluginServer({ plugins: wirePlugins() });
    const handle = await server.serve({
      transport: "http",
      host: "127.0.0.1",
      port: 0,
      printReady: false,
      handleSignals: false,
    });
    const python = await startPythonMcpHttpServer(WIRE_PY_CONFIG, { env: WIRE_PY_ENV });
    let ours: RawMcpSession | null = null;
    let reference: RawMcpSession | null = null;
    try {
      ours = await openRawHttp(`http://${handle.address}/mcp`);
      reference = await openRawHttp(`http://127.0.0.1:${python.port}/mcp`);
      await assertSameTexts(ours, reference);
    } finally {
      await ours?.close();
      await reference?.close();
      await python.stop();
      await server.close();
    }
  },
});

Deno.test({
  name: "mcp stdio: numbers a plugin passes through leave our server as the reference writes them",
  ...sanitize,
  async fn() {
    const ours = await openOurStdio();
    try {
      const reference = await openReferenceStdio();
      try {
        await assertSameTexts(ours, reference);
      } finally {
        await reference.close();
      }
    } finally {
      await ours.close();
    }
  },
});

Deno.test({
  name: "python float text: the shortest digits in pydantic's layout, for a seeded corpus",
  ...sanitize,
  async fn() {
    await requireVenv();
    const r = new Random(7);
    const view = new DataView(new ArrayBuffer(8));
    const corpus: number[] = [0, -0, 2, 1e-5, 1e-6, 1e15, 1e16, 5e-324, 1.7976931348623157e308];
    while (corpus.length < 3000) {
      if (r.chance(0.5)) {
        view.setUint32(0, r.int(2 ** 32));
        view.setUint32(4, r.int(2 ** 32));
        const x = view.getFloat64(0);
        if (Number.isFinite(x)) corpus.push(x);
      } else corpus.push((r.next() - 0.5) * 10 ** (r.int(60) - 30));
    }
    const script = "import json,sys,pydantic_core\n" +
      "xs=json.loads(sys.stdin.read())\n" +
      "print(json.dumps([pydantic_core.to_json(float(x)).decode() for x in xs]))";
    const child = new Deno.Command(PYTHON, {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    // -0 must reach Python as -0.0: JSON.stringify(-0) is "0".
    await writer.write(
      new TextEncoder().encode(
        `[${corpus.map((x) => Object.is(x, -0) ? "-0.0" : JSON.stringify(x)).join(",")}]`,
      ),
    );
    await writer.close();
    const out = await child.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const expected = JSON.parse(new TextDecoder().decode(out.stdout)) as string[];
    corpus.forEach((x, i) => assert.equal(pythonFloatText(x), expected[i], String(x)));
  },
});

Deno.test({
  name: "number texts: only numbers JS would write differently are kept; plain bodies skip it",
  ...sanitize,
  fn() {
    assert.equal(referenceNumberText("2.0", 2), "2.0");
    assert.equal(referenceNumberText("-0.0", -0), "-0.0");
    assert.equal(referenceNumberText("1E3", 1000), "1000.0");
    assert.equal(referenceNumberText("1.10", 1.1), null);
    assert.equal(referenceNumberText("9007199254740993", 9007199254740992), "9007199254740993");
    assert.equal(referenceNumberText("9007199254740991", 9007199254740991), null);
    assert.equal(referenceNumberText("-0", -0), null); // a Python int: 0, as JS writes it
    assert.equal(referenceNumberText("1e400", Infinity), "1e400");
    // No float and no long integer anywhere: the plain JSON.parse path.
    assert.equal(parseWithNumberTexts('{"a":[1,-2,"x"],"b":{"c":null}}').exact, false);
    // Floats inside strings (escaped quotes too) do not count; the JSON-RPC "2.0" neither.
    assert.equal(parseWithNumberTexts('{"jsonrpc":"2.0","a":"v1.0 \\"2.0\\"","b":3}').exact, false);
    assert.equal(parseWithNumberTexts('{"a":[{"b":2.0}]}').exact, true);
    assert.equal(parseWithNumberTexts('{"a":"\\\\","b":-0.0}').exact, true);
    assert.equal(parseWithNumberTexts("[1e3]").exact, true);
    // Plain fractions both sides write alike stay on the fast path (issue 13)...
    assert.equal(parseWithNumberTexts('{"p":[0.5,-12.75,1.10,0.0001,3.14159]}').exact, false);
    // ...but not those either side would rewrite.
    for (const odd of ["1.0", "-0.0", "1e2", "2.5E3", "1e16", "1e400"]) {
      assert.equal(parseWithNumberTexts(`{"p":[0.5,${odd}]}`).exact, true, odd);
    }
  },
});

Deno.test({
  name: "exact numbers: copies and big integers are kept; unanswered calls are forgotten (bounded)",
  ...sanitize,
  fn() {
    const numbers = new ExactNumbers();
    const message = (id: number) =>
      invokeHookText(
        id,
        '{"hook_type":"tool_post_invoke","plugin_name":"p","payload":{"name":"t","result":' +
          '{"a":2.0,"big":9007199254740993}},"context":{"state":{}}}',
      );
    const parsed = numbers.parse(message(1), "s1") as {
      params: { arguments: { payload: { result: Record<string, unknown> } } };
    };
    const result = parsed.params.arguments.payload.result;
    // A shallow copy of the read object, a bare big integer copied alone, a computed 2.
    const reply = { result: { metadata: { copy: { ...result }, big: result.big, computed: 2 } } };
    assert.equal(
      numbers.replyText(reply, 1, "s1"),
      '{"result":{"metadata":{"copy":{"a":2.0,"big":9007199254740993},' +
        '"big":9007199254740993,"computed":2}}}',
    );
    assert.equal(numbers.size, 0, "a reply forgets its call");
    // Another session's call with the same id is not this one.
    numbers.parse(message(2), "s1");
    assert.equal(numbers.replyText({ n: 2 }, 2, "s2"), '{"n":2}');
    // A batch: each call is remembered under its own id.
    numbers.parse(`[${message(7)},${message(8)}]`, "s4");
    const echo = { result: { modified_payload: { name: "t", result: { a: 2, big: 1 } } } };
    for (const id of [7, 8]) {
      assert.equal(
        numbers.replyText(echo, id, "s4"),
        '{"result":{"modified_payload":{"name":"t","result":{"a":2.0,"big":1}}}}',
      );
    }
    for (let id = 0; id < 1100; id++) numbers.parse(message(id), "s3");
    assert.equal(numbers.size, 1024);
  },
});
