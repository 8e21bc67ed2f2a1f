/**
 * The wire-level twin of the differential suite (issue 11): seeded random payloads sent by the
 * reference's gateway (cpex 0.1.4 `PluginManager`, `wire_gateway.py`) through OUR plugin server
 * and through the REFERENCE's plugin server, on each transport (Unix socket, gRPC over TCP, MCP
 * Streamable HTTP, MCP STDIO), with the same plugins on both sides (`wire_plugins.ts` and its
 * Python twin `wire_plugins.py`: echo, modify, block, state, headers). What the gateway saw is
 * compared field by field (result fields, violation, metadata, http_headers, local contexts,
 * global state) as canonical Python JSON, so `2` and `2.0` differ; keys are sorted (README,
 * Compatibility, "Key order").
 *
 * Every difference is divergent unless an explicit mask below names the README entry it
 * cites. `CPEX_CONFORMANCE_N` (cases per transport, default 60) and `CPEX_CONFORMANCE_SEED`
 * (default 11) scale and vary the run.
 *
 * Run: `deno test --allow-read --allow-write=/tmp --allow-env --allow-run --allow-net
 * tests/conformance/wire_twin_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer } from "../../server.ts";
import type { McpHttpServerHandle } from "../../src/external/mcp/http_server.ts";
import { freePort, startPythonGrpcServer } from "../interop/grpc_helpers.ts";
import { startPythonMcpHttpServer } from "../interop/mcp_helpers.ts";
import {
  PYTHON,
  ROOT,
  runPythonJson,
  startPythonUnixServer,
  uniqueSocketPath,
} from "../interop/unix_helpers.ts";
import { generateCases, specText, type WireCase } from "./wire_generator.ts";
import { wirePlugins } from "./wire_plugins.ts";
import { CONFORMANCE_DIR, WIRE_PY_CONFIG, WIRE_PY_ENV, WIRE_STDIO_CHILD } from "./wire_raw_mcp.ts";

const GATEWAY = `${CONFORMANCE_DIR}wire_gateway.py`;
const COUNT = Number(Deno.env.get("CPEX_CONFORMANCE_N") ?? 60);
const SEED = Number(Deno.env.get("CPEX_CONFORMANCE_SEED") ?? 11);

type Fields = Record<string, string>;
interface GatewayOut {
  plugin_count: number;
  cases: Fields[][];
}

/** A gateway transport: its YAML key and, per side, the block and how to stop the server. */
interface Side {
  block: Record<string, unknown>;
  stop(): Promise<void>;
}
interface Transport {
  name: string;
  key: string;
  ours(): Promise<Side>;
  reference(): Promise<Side>;
}

async function ourServer(
  serve: (server: ExternalPluginServer) => Promise<Record<string, unknown>>,
): Promise<Side> {
  const server = new ExternalPluginServer({ plugins: wirePlugins() });
  try {
    return { block: await serve(server), stop: () => server.close() };
  } catch (error) {
    await server.close();
    throw error;
  }
}

const TRANSPORTS: Transport[] = [
  {
    name: "unix",
    key: "unix_socket",
    ours: () =>
      ourServer(async (server) => {
        const path = uniqueSocketPath("wt");
        await server.serve({ transport: "unix", path, printReady: false, handleSignals: false });
        return { path, timeout: 30, reconnect_attempts: 1 };
      }),
    async reference() {
      const server = await startPythonUnixServer(WIRE_PY_CONFIG, uniqueSocketPath("wr"), {
        env: WIRE_PY_ENV,
      });
      return {
        block: { path: server.socketPath, timeout: 30, reconnect_attempts: 1 },
        stop: () => server.stop(),
      };
    },
  },
  {
    name: "grpc",
    key: "grpc",
    ours: () =>
      ourServer(async (server) => {
        const handle = await server.serve({
          transport: "grpc",
          host: "127.0.0.1",
          port: 0,
          printReady: false,
          handleSignals: false,
        });
        return { target: `localhost:${handle.address.split(":").pop()}` };
      }),
    async reference() {
      const port = freePort();
      const server = await startPythonGrpcServer(WIRE_PY_CONFIG, { port }, { env: WIRE_PY_ENV });
      return { block: { target: `localhost:${port}` }, stop: () => server.kill() };
    },
  },
  {
    name: "mcp-http",
    key: "mcp",
    ours: () =>
      ourServer(async (server) => {
        const handle = await server.serve({
          transport: "http",
          host: "127.0.0.1",
          port: 0,
          printReady: false,
          handleSignals: false,
        }) as McpHttpServerHandle;
        const port = handle.address.split(":").pop();
        return { proto: "STREAMABLEHTTP", url: `http://localhost:${port}/mcp` };
      }),
    async reference() {
      const server = await startPythonMcpHttpServer(WIRE_PY_CONFIG, { env: WIRE_PY_ENV });
      return { block: { proto: "STREAMABLEHTTP", url: server.url }, stop: () => server.stop() };
    },
  },
  {
    name: "mcp-stdio",
    key: "mcp",
    ours: () =>
      Promise.resolve({
        block: {
          proto: "STDIO",
          cmd: [Deno.execPath(), "run", "--no-prompt", WIRE_STDIO_CHILD],
          cwd: ROOT.pathname,
        },
        stop: () => Promise.resolve(),
      }),
    reference: () =>
      Promise.resolve({
        block: {
          proto: "STDIO",
          cmd: [PYTHON, "-m", "cpex.framework.external.mcp.server.runtime"],
          cwd: CONFORMANCE_DIR,
          env: {
            ...WIRE_PY_ENV,
            PYTHONDONTWRITEBYTECODE: "1",
            PLUGINS_TRANSPORT: "stdio",
            PLUGINS_CONFIG_PATH: WIRE_PY_CONFIG,
            PLUGINS_LOG_LEVEL: "ERROR",
          },
        },
        stop: () => Promise.resolve(),
      }),
  },
];

/**
 * A deliberate difference: when `applies` holds for a field that differs, the field is counted
 * under the mask's name instead of as divergent. Each cites the README entry it documents.
 */
interface Mask {
  name: string;
  applies(
    transport: string,
    field: string,
    ours: string,
    reference: string,
    call: { ours: Fields; reference: Fields },
  ): boolean;
}

/** What the wire plugins send (canonical Python JSON), see `wire_plugins.ts`. */
const BLOCK_HEADERS = '{"X-Blocked": "yes"}';
const RATE_HEADERS = '{"X-RateLimit-Remaining": "3", "X-Wire": "twin"}';

/** Number tokens of a JSON text (outside strings) and the text with them cut out. */
function numberTokens(text: string): { skeleton: string; numbers: string[] } {
  const numbers: string[] = [];
  let skeleton = "";
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      skeleton += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) {
        skeleton += c;
        i++;
        continue;
      }
      numbers.push(m[0]);
      skeleton += "#";
      i += m[0].length;
    } else {
      skeleton += c;
      i++;
    }
  }
  return { skeleton, numbers };
}

/** Fields where a passed-through number must keep its exact text (item 7): never masked. */
const EXACT_FIELDS = new Set([
  "modified_payload",
  "direct_modified_payload",
  "local_contexts",
  "global_state",
  "global_metadata",
  "direct_context",
]);

const MASKS: Mask[] = [
  {
    // README, Compatibility, "Blocking results on the wire" (item 9, Q3): our server sends a
    // blocking plugin's http_headers and retry_delay_ms; the reference's sends null and 0. Only
    // on a block (both sides), only these two fields, and only against the reference's null/0.
    // The manager's hook result (http_headers, retry_delay_ms) is compared unmasked.
    name: "blocking-result-extras",
    applies(_transport, field, ours, reference, call) {
      const blocked = (f: Fields) =>
        (f.direct_result ?? "").includes('"continue_processing": false');
      if (!blocked(call.ours) || !blocked(call.reference)) return false;
      // The exact shapes: the Block plugin's own headers and hint, against null and 0.
      return (field === "direct_http_headers" && ours === BLOCK_HEADERS && reference === "null") ||
        (field === "direct_retry_delay_ms" && ours === "250" && reference === "0");
    },
  },
  {
    // README, Compatibility, "Error messages": a payload failing its hook's schema, or a
    // protobuf payload holding NaN/±Infinity, fails on both servers with the same error fields;
    // only the message text is ours, not pydantic's or protobuf's.
    name: "error-message",
    applies(_transport, field, ours, reference) {
      if (field !== "error" && field !== "direct_error") return false;
      const a = JSON.parse(ours) as Record<string, unknown>;
      const b = JSON.parse(reference) as Record<string, unknown>;
      const same = JSON.stringify({ ...a, message: "" }) === JSON.stringify({ ...b, message: "" });
      const mine = String(a.message);
      const theirs = String(b.message);
      const validation = mine.startsWith("HookValidationError(") &&
        theirs.includes(" validation error for ");
      const nonFinite = /^received non-finite number (NaN|-?Infinity) at /.test(mine) &&
        /^Fail to serialize (NaN|Infinity) for Value\.number_value/.test(theirs);
      return same && (validation || nonFinite);
    },
  },
  {
    // README, Compatibility, "Blocking results on the wire" (item 9, Q3): our server sends a
    // blocking plugin's http_headers and retry_delay_ms; the reference's sends null and 0. Only
    // on a block (both sides), only these two fields, and only against the reference's null/0.
    // The manager's hook result (http_headers, retry_delay_ms) is compared unmasked.
    name: "blocking-result-extras",
    applies(_transport, field, _ours, reference, call) {
      const blocked = (f: Fields) =>
        (f.direct_result ?? "").includes('"continue_processing": false');
      if (!blocked(call.ours) || !blocked(call.reference)) return false;
      return (field === "direct_http_headers" && reference === "null") ||
        (field === "direct_retry_delay_ms" && reference === "0");
    },
  },
  {
    // README, Compatibility, "Validation messages": a payload failing its hook's schema fails
    // on both servers with the same error fields; only the message text is ours, not pydantic's.
    name: "validation-message",
    applies(_transport, field, ours, reference) {
      if (field !== "error") return false;
      const a = JSON.parse(ours) as Record<string, unknown>;
      const b = JSON.parse(reference) as Record<string, unknown>;
      return String(a.message).startsWith("HookValidationError(") &&
        String(b.message).includes(" validation error for ") &&
        JSON.stringify({ ...a, message: "" }) === JSON.stringify({ ...b, message: "" });
    },
  },
  {
    // README, Compatibility, "MCP numbers": a number a plugin copies on its own (not inside a
    // copied object or list, and not at its place in modified_payload or the context) leaves
    // our MCP server as JS writes it: an integral Python float (2.0, 1000.0, -0.0, 1e16) arrives
    // as the int of the same value. Only that: every other token must be identical, and an int
    // the reference wrote must be ours too (a big integer is never masked).
    name: "mcp-copied-integral-float",
    applies(transport, field, ours, reference) {
      // Never where the numbers must be exact: the payload and the contexts.
      if (!transport.startsWith("mcp") || EXACT_FIELDS.has(field)) return false;
      const a = numberTokens(ours);
      const b = numberTokens(reference);
      if (a.skeleton !== b.skeleton || a.numbers.length !== b.numbers.length) return false;
      return a.numbers.every((x, i) => {
        const y = b.numbers[i];
        return x === y || (/[.eE]/.test(y) && !/[.eE]/.test(x) && Number(x) === Number(y));
      });
    },
  },
];

/** Runs the gateway on `side` with `cases`. */
async function runGateway(
  transport: Transport,
  side: Side,
  cases: WireCase[],
): Promise<GatewayOut> {
  const spec = await Deno.makeTempFile({ prefix: "cpex-wire-spec-", suffix: ".json" });
  try {
    await Deno.writeTextFile(spec, specText(transport.key, side.block, cases));
    const out = await runPythonJson([GATEWAY, spec], {
      timeoutMs: 300_000,
      env: { PYTHONPATH: CONFORMANCE_DIR },
    }) as unknown as GatewayOut;
    return out;
  } finally {
    await Deno.remove(spec).catch(() => {});
  }
}

interface Tally {
  calls: number;
  fields: number;
  agree: number;
  masked: Record<string, number>;
  divergent: string[];
  /** Calls whose gateway result carried `http_headers` (from both servers alike). */
  headers: number;
}

function compare(transport: string, ours: GatewayOut, ref: GatewayOut, tally: Tally): void {
  assert.equal(ours.plugin_count, ref.plugin_count, "plugin count");
  assert.equal(ours.cases.length, ref.cases.length, "case count");
  ours.cases.forEach((calls, i) => {
    calls.forEach((mine, j) => {
      tally.calls++;
      const theirs = ref.cases[i][j];
      const keys = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
      for (const field of keys) {
        tally.fields++;
        const a = mine[field];
        const b = theirs[field];
        if (a === b) {
          tally.agree++;
          if (field.endsWith("http_headers") && a !== "null") tally.headers++;
          continue;
        }
        const mask = MASKS.find((m) =>
          m.applies(transport, field, a ?? "", b ?? "", { ours: mine, reference: theirs })
        );
        if (mask) tally.masked[mask.name] = (tally.masked[mask.name] ?? 0) + 1;
        else {
          tally.divergent.push(
            `${transport} case ${i} call ${j} ${field}:\n  ours: ${a?.slice(0, 600)}\n  ref:  ${
              b?.slice(0, 600)
            }`,
          );
        }
      }
    });
  });
}

for (const transport of TRANSPORTS) {
  Deno.test({
    name:
      `wire twin over ${transport.name}: the reference gateway sees the same from our server as from the reference server`,
    sanitizeOps: true,
    sanitizeResources: true,
    async fn() {
      const cases = generateCases(SEED, COUNT);
      const ours = await transport.ours();
      let reference: Side | null = null;
      try {
        reference = await transport.reference();
        const [a, b] = await Promise.all([
          runGateway(transport, ours, cases),
          runGateway(transport, reference, cases),
        ]);
        const tally: Tally = {
          calls: 0,
          fields: 0,
          agree: 0,
          masked: {},
          divergent: [],
          headers: 0,
        };
        compare(transport.name, a, b, tally);
        console.log(
          `wire twin ${transport.name} (seed ${SEED}): ${COUNT} cases, ${tally.calls} calls, ` +
            `${tally.fields} fields, ${tally.agree} agree, ` +
            `${Object.values(tally.masked).reduce((x, y) => x + y, 0)} deliberate (by mask ${
              JSON.stringify(tally.masked)
            }), ${tally.divergent.length} divergent; http_headers (result or client) seen in ` +
            `${tally.headers} calls`,
        );
        assert.equal(a.plugin_count, 5, "every wire plugin loaded");
        // Item 9, spelled out: an allowing plugin's http_headers reach the reference's client
        // from both servers alike, and its manager's hook result carries none from either.
        const allowed = a.cases.findIndex((calls, i) =>
          cases[i].calls[0].payload.name === "headers" && calls[0].direct_result !== undefined &&
          b.cases[i][0].direct_result !== undefined
        );
        if (COUNT >= 5) {
          assert.ok(allowed >= 0, "no headers case without an error");
          for (const side of [a, b]) {
            assert.equal(side.cases[allowed][0].direct_http_headers, RATE_HEADERS);
            assert.equal(side.cases[allowed][0].http_headers, "null");
          }
        }
        assert.deepEqual(
          tally.divergent.slice(0, Number(Deno.env.get("WIRE_SHOW") ?? 8)),
          [],
          `${tally.divergent.length} divergent`,
        );
      } finally {
        await reference?.stop();
        await ours.stop();
      }
    },
  });
}
