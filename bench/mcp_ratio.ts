/**
 * MCP Streamable HTTP transport benchmark: hook round trips per second with 1 and 16 calls in
 * flight, all measured side by side in one run, as ratios (issue 5 item 8: at least 70% of a
 * raw MCP SDK echo tool, and at least 6x the Python reference):
 *
 * - `raw MCP SDK echo` (the baseline): an SDK `Client` + `StreamableHTTPClientTransport` in this
 *   process calls the tool `echo` of an SDK `McpServer` in a child Deno process
 *   (`mcp_raw_child.ts`: `Deno.serve` + the web-standard transport, stateful, JSON responses —
 *   the baselines' `mcp_stateful_json/2proc` row). The arguments are exactly what our gateway
 *   sends to `invoke_hook`; the tool answers the same JSON shape as ours (one text item,
 *   `{plugin_name, result: {continue_processing, modified_payload}}`) and the client parses
 *   it and checks the echo.
 * - `ours`: a `PluginManager` in this process with one `kind: external` plugin
 *   (`mcp: {proto: STREAMABLEHTTP}`), i.e. `McpExternalPlugin`, calling an
 *   `ExternalPluginServer` in a child Deno process (`mcp_server_child.ts`, started with exactly
 *   `--allow-net=127.0.0.1:PORT`) that hosts a no-op allow plugin.
 * - `python`: the same gateway against the reference's MCP runtime
 *   (`python -m cpex.framework.external.mcp.server.runtime`, cpex 0.1.4 from `.venv`,
 *   `PLUGINS_TRANSPORT=http`) hosting the equivalent plugin (`unix_allow_plugin.py` configured by
 *   `mcp_python_plugins.yaml`); skipped when `.venv` is missing.
 * - `python stack`: the reference's own gateway (`python_gateway.py`, its `PluginManager`)
 *   against the same Python server, in its own process, driven round by round like the other
 *   cases (`stack_driver.ts`); the Python target is judged against this row (issue 13).
 *
 * Every call sends `{name: "search", args: {query: "hello world", limit: 10}}` with a global
 * context carrying a request id. "16 in flight" means 16 concurrent callers sharing one MCP
 * session (the SDK client multiplexes by JSON-RPC id; `fetch` opens connections as needed).
 * Each case gets a warm-up window, then the cases take turns in timed rounds (interleaved, so
 * drifting machine load hits all of them alike); the median round is reported (`harness.ts`).
 * Ports are picked free at start; children are stopped at the end, also on errors and Ctrl-C,
 * and also stop by themselves when their stdin closes (`children.ts`).
 *
 * Before/after in one run: `CPEX_BENCH_BEFORE=/path/to/other/checkout` (e.g. an unpacked
 * `git archive` of the base commit beside its own or a linked `node_modules`) adds a case
 * `before`: that tree's gateway (its `bench/harness.ts`, imported here) against that tree's
 * `mcp_server_child.ts`, measured interleaved with the others (needs `--allow-env` for the
 * variable and `--allow-read` for the other tree).
 *
 * Run: `deno task bench:mcp` (optional arguments: round length in ms, default 800, and rounds,
 * default 5). Flags: `--allow-net=127.0.0.1,localhost` (the servers' ports are picked at run
 * time) and `--allow-run` for the children and for `cat` (CPU accounting).
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BENCH_DIR, ChildSet, freePort, PYTHON_SKIPPED, runGuarded } from "./children.ts";
import {
  type Call,
  checkEcho,
  gatewayTarget,
  GLOBAL_CONTEXT,
  measure,
  PAYLOAD,
  printReport,
  printTargets,
  runOptions,
  sharedCallers,
  type Target,
} from "./harness.ts";
import { drivenTarget, pythonGateway } from "./stack_driver.ts";

const TARGET_VS_RAW = 0.9; // issue 13
const TARGET_VS_PYTHON = 8;
const RAW = "raw MCP SDK echo";
const OURS = "ours (manager -> mcp http -> deno server)";
const PY = "python reference server";
const PY_STACK = "python stack (its gateway -> its server)";
const BEFORE = "before (CPEX_BENCH_BEFORE tree, same stack)";

/** Another checkout to measure side by side (before/after), when the variable is set. */
const BEFORE_DIR: string | undefined = (() => {
  const variable = "CPEX_BENCH_BEFORE";
  const allowed = Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  return allowed ? Deno.env.get(variable) || undefined : undefined;
})();

const run = runOptions("mcp_ratio.ts", 800);

/** The raw baseline: an SDK client calling the SDK echo tool with invoke_hook's arguments. */
async function rawTarget(label: string, url: string, serverPid: number): Promise<Target> {
  const client = new Client({ name: "bench", version: "0.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  await client.listTools();
  const args = {
    hook_type: "tool_pre_invoke",
    plugin_name: "allow",
    payload: PAYLOAD,
    context: { state: {}, global_context: GLOBAL_CONTEXT, metadata: {} },
  };
  const call: Call = async () => {
    const result = await client.callTool({ name: "echo", arguments: args }) as CallToolResult;
    const first = result.content[0];
    const data = JSON.parse(first.type === "text" ? first.text : "null");
    checkEcho(label, data?.result, result);
  };
  await call();
  return {
    label,
    serverPid,
    callers: sharedCallers(call),
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Main

const children = new ChildSet();
const targets: Target[] = [];
await runGuarded(children, targets, async () => {
  const ports = { raw: freePort(), ours: freePort(), python: freePort() };
  const startedAt = performance.now();
  const [raw, ours, python] = await Promise.all([
    children.deno(
      "raw MCP server",
      "mcp_raw_child.ts",
      [`--allow-net=127.0.0.1:${ports.raw}`],
      [String(ports.raw)],
    ),
    children.deno(
      "deno plugin server",
      "mcp_server_child.ts",
      [`--allow-net=127.0.0.1:${ports.ours}`],
      [String(ports.ours)],
    ),
    children.python("python plugin server", "cpex.framework.external.mcp.server.runtime", {
      PLUGINS_TRANSPORT: "http",
      PLUGINS_SERVER_HOST: "127.0.0.1",
      PLUGINS_SERVER_PORT: String(ports.python),
      PLUGINS_CONFIG_PATH: `${BENCH_DIR}mcp_python_plugins.yaml`,
      PLUGINS_LOG_LEVEL: "WARNING",
    }, { healthPort: ports.python }),
  ]);
  const startupMs = performance.now() - startedAt;

  // `localhost`: the SSRF rule (ours and the reference's) rejects loopback IP literals.
  const url = (port: number) => `http://localhost:${port}/mcp`;
  const mcp = (port: number) => ({ mcp: { proto: "STREAMABLEHTTP", url: url(port) } });
  targets.push(
    await rawTarget(RAW, url(ports.raw), raw.process.pid),
    await gatewayTarget(OURS, mcp(ports.ours), ours.process.pid),
  );
  if (BEFORE_DIR) {
    const port = freePort();
    const server = await children.spawn("before: deno plugin server", Deno.execPath(), {
      args: [
        "run",
        `--config=${BEFORE_DIR}/deno.json`,
        `--allow-net=127.0.0.1:${port}`,
        `${BEFORE_DIR}/bench/mcp_server_child.ts`,
        String(port),
      ],
    });
    const harness = await import(`file://${BEFORE_DIR}/bench/harness.ts`) as {
      gatewayTarget: typeof gatewayTarget;
    };
    targets.push(await harness.gatewayTarget(BEFORE, mcp(port), server.process.pid));
  }
  if (python) {
    targets.push(await gatewayTarget(PY, mcp(ports.python), python.process.pid));
    // The reference's own gateway against its own server.
    const gateway = await pythonGateway(children, "python gateway", [
      { name: "allow", kind: "external", ...mcp(ports.python) },
    ]);
    if (gateway) targets.push(drivenTarget(PY_STACK, gateway, python.process.pid));
  }

  const cases = await measure(targets, run);
  printReport(cases, {
    run,
    startupMs,
    baseline: RAW,
    reference: PY,
    referenceStack: PY_STACK,
    digits: 0,
    ratios: `vs raw = / ${RAW} at the same in-flight.`,
    client: "gateway or raw SDK client",
    note: python ? undefined : PYTHON_SKIPPED,
  });
  printTargets(cases, {
    title: `Targets (issue 13): ours >= ${TARGET_VS_RAW * 100}% of the raw MCP SDK echo, ` +
      `>= ${TARGET_VS_PYTHON}x the python reference`,
    ours: OURS,
    baseline: RAW,
    reference: PY,
    referenceStack: PY_STACK,
    minVsRaw: TARGET_VS_RAW,
    minVsPython: TARGET_VS_PYTHON,
    pythonDigits: 1,
  });
});
