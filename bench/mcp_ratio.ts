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
 * - `ours`: a {@linkcode PluginManager} in this process with one `kind: external` plugin
 *   (`mcp: {proto: STREAMABLEHTTP}`), i.e. `McpExternalPlugin`, calling an
 *   `ExternalPluginServer` in a child Deno process (`mcp_server_child.ts`, started with exactly
 *   `--allow-net=127.0.0.1:PORT`) that hosts a no-op allow plugin.
 * - `python`: the same gateway against the reference's MCP runtime
 *   (`python -m cpex.framework.external.mcp.server.runtime`, cpex 0.1.4 from `.venv`,
 *   `PLUGINS_TRANSPORT=http`) hosting the equivalent plugin (`unix_allow_plugin.py` configured by
 *   `mcp_python_plugins.yaml`); skipped when `.venv` is missing.
 *
 * Every call sends `{name: "search", args: {query: "hello world", limit: 10}}` with a global
 * context carrying a request id. "16 in flight" means 16 concurrent callers sharing one MCP
 * session (the SDK client multiplexes by JSON-RPC id; `fetch` opens connections as needed).
 * Each case gets a warm-up window, then the cases take turns in timed rounds (interleaved, so
 * drifting machine load hits all of them alike); the median round is reported. Ports are
 * picked free at start; children are stopped at the end, also on errors and Ctrl-C, and also
 * stop by themselves when their stdin closes.
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
import {
  type GlobalContext,
  parseConfig,
  PluginManager,
  type ToolPreInvokePayload,
} from "../mod.ts";

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const ROOT_DIR = new URL("..", import.meta.url).pathname;
const PYTHON = `${ROOT_DIR}.venv/bin/python`;
const IN_FLIGHT = [1, 16] as const;
const READY_TIMEOUT_MS = 20_000;
const TARGET_VS_RAW = 0.7;
const TARGET_VS_PYTHON = 6;

const roundMs = Number(Deno.args[0] ?? 800);
const rounds = Number(Deno.args[1] ?? 5);
const warmupMs = Math.max(300, roundMs);
if (!(roundMs >= 50) || !Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: mcp_ratio.ts [round ms >= 50] [rounds >= 1]");
  Deno.exit(2);
}

/** The payload of every call. */
const PAYLOAD: ToolPreInvokePayload = {
  name: "search",
  args: { query: "hello world", limit: 10 },
};
/** The global context of every call. */
const GLOBAL_CONTEXT: GlobalContext = { request_id: "bench-req-0001" };

// ---------------------------------------------------------------------------------------------
// Child processes

interface Child {
  name: string;
  process: Deno.ChildProcess;
  log: () => string;
  done: Promise<void>;
}

const children: Child[] = [];
const decoder = new TextDecoder();

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Spawns a child and waits until it is ready: `READY` on its stdout, or (`healthPort`) until
 * `GET /health` answers 200. Keeps draining stdout and stderr.
 */
async function spawnReady(
  name: string,
  command: string,
  options: Deno.CommandOptions,
  healthPort?: number,
): Promise<Child> {
  const process = new Deno.Command(command, {
    ...options,
    stdin: "piped", // our children stop when it closes (the Python one ignores it)
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  let stdoutSeen = "";
  const stderrDone = (async () => {
    for await (const chunk of process.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  const stdoutDone = (async () => {
    for await (const chunk of process.stdout) {
      stdoutSeen += decoder.decode(chunk, { stream: true });
    }
  })();
  let exited = false;
  process.status.then(() => exited = true);
  const child: Child = {
    name,
    process,
    log: () => `--- stdout:\n${stdoutSeen}\n--- stderr:\n${log}`,
    done: Promise.all([stderrDone, stdoutDone]).then(() => {}),
  };
  children.push(child);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const http = healthPort ? Deno.createHttpClient({}) : null;
  try {
    while (true) {
      if (healthPort) {
        try {
          const res = await fetch(`http://127.0.0.1:${healthPort}/health`, {
            client: http!,
            signal: AbortSignal.timeout(1_000),
          });
          await res.body?.cancel();
          if (res.ok) break;
        } catch { /* not listening yet */ }
      } else if (stdoutSeen.includes("READY")) {
        break;
      }
      if (exited) throw new Error(`${name} exited before it was ready`);
      if (Date.now() > deadline) {
        throw new Error(`${name}: not ready within ${READY_TIMEOUT_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stopChild(child);
    throw new Error(`${(error as Error).message}\n${child.log()}`);
  } finally {
    http?.close();
  }
  return child;
}

async function stopChild(child: Child): Promise<void> {
  try {
    await child.process.stdin.close();
  } catch { /* already closed */ }
  try {
    child.process.kill("SIGTERM");
  } catch { /* already exited */ }
  const killer = setTimeout(() => {
    try {
      child.process.kill("SIGKILL");
    } catch { /* already exited */ }
  }, 3_000);
  try {
    await child.process.status;
  } finally {
    clearTimeout(killer);
  }
  await child.done.catch(() => {});
}

let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await Promise.all(children.splice(0).map((c) => stopChild(c).catch(() => {})));
}

// ---------------------------------------------------------------------------------------------
// Targets

type Call = () => Promise<void>;

interface Target {
  label: string;
  /** The server process, for CPU accounting. */
  serverPid?: number;
  /** The function each concurrent caller runs. */
  call: Call;
  close(): Promise<void>;
}

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
    if (
      data?.result?.continue_processing !== true ||
      data.result.modified_payload?.name !== PAYLOAD.name
    ) {
      throw new Error(`${label}: unexpected reply ${JSON.stringify(result)}`);
    }
  };
  await call();
  return {
    label,
    serverPid,
    call,
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** Our gateway: a PluginManager with one `kind: external` + `mcp:` plugin. */
async function gatewayTarget(label: string, url: string, serverPid: number): Promise<Target> {
  const manager = new PluginManager(
    parseConfig({
      plugins: [{ name: "allow", kind: "external", mcp: { proto: "STREAMABLEHTTP", url } }],
    }),
  );
  await manager.initialize();
  if (manager.pluginCount !== 1) throw new Error(`${label}: the external plugin did not load`);
  // Sanity: the call really went to the server and ran the plugin (hooks came from the merge).
  const [first] = await manager.invokeHook("tool_pre_invoke", PAYLOAD, GLOBAL_CONTEXT);
  const record = first.executions[0];
  if (first.executions.length !== 1 || record?.status !== "completed") {
    throw new Error(`${label}: unexpected execution records ${JSON.stringify(first.executions)}`);
  }
  return {
    label,
    serverPid,
    async call() {
      const [result] = await manager.invokeHook("tool_pre_invoke", PAYLOAD, GLOBAL_CONTEXT);
      if (!result.continue_processing) {
        throw new Error(`${label}: blocked: ${JSON.stringify(result.violation)}`);
      }
    },
    close: () => manager.shutdown(),
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * CPU accounting: utime+stime from `/proc/PID/stat` of this process (the client/gateway) and
 * of the server, before and after each measured window. Deno reads `/proc/PID/*` only with
 * `--allow-all`, so `cat` (covered by `--allow-run`) reads them, outside the timed window.
 */
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of each pid in seconds (NaN when unavailable, e.g. not on Linux). */
function cpuSeconds(pids: (number | undefined)[]): number[] {
  try {
    const out = new Deno.Command("cat", {
      args: pids.map((pid) => `/proc/${pid ?? 0}/stat`),
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const lines = decoder.decode(out.stdout).split("\n");
    return pids.map((_, i) => {
      const stat = lines[i] ?? "";
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    });
  } catch {
    return pids.map(() => NaN);
  }
}

interface Case {
  target: Target;
  inFlight: number;
  samples: number[];
  /** Calls and CPU seconds (client, server) summed over the measured rounds. */
  calls: number;
  clientCpu: number;
  serverCpu: number;
}

/** Runs `inFlight` concurrent callers until `ms` have passed; calls per second. */
async function window(c: Case, ms: number, record: boolean): Promise<number> {
  let calls = 0;
  const [client0, server0] = record ? cpuSeconds([Deno.pid, c.target.serverPid]) : [0, 0];
  const started = performance.now();
  const end = started + ms;
  await Promise.all(Array.from({ length: c.inFlight }, async () => {
    while (performance.now() < end) {
      await c.target.call();
      calls++;
    }
  }));
  const rate = calls / ((performance.now() - started) / 1000);
  if (record) {
    c.samples.push(rate);
    c.calls += calls;
    const [client1, server1] = cpuSeconds([Deno.pid, c.target.serverPid]);
    c.clientCpu += client1 - client0;
    c.serverCpu += server1 - server0;
  }
  return rate;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Main

const RAW = "raw MCP SDK echo";
const OURS = "ours (manager -> mcp http -> deno server)";
const PY = "python reference server";

let interrupted = false;
const onSignal = () => {
  interrupted = true;
  console.error("interrupted: stopping children");
  void cleanup().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const targets: Target[] = [];
let pythonNote = "";
try {
  const deno = Deno.execPath();
  const ports = { raw: freePort(), ours: freePort(), python: freePort() };
  const startedAt = performance.now();
  const [raw, ours, python] = await Promise.all([
    spawnReady("raw MCP server", deno, {
      args: [
        "run",
        `--allow-net=127.0.0.1:${ports.raw}`,
        `${BENCH_DIR}mcp_raw_child.ts`,
        String(ports.raw),
      ],
    }),
    spawnReady("deno plugin server", deno, {
      args: [
        "run",
        `--allow-net=127.0.0.1:${ports.ours}`,
        `${BENCH_DIR}mcp_server_child.ts`,
        String(ports.ours),
      ],
    }),
    spawnReady("python plugin server", PYTHON, {
      args: ["-m", "cpex.framework.external.mcp.server.runtime"],
      cwd: BENCH_DIR,
      env: {
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONPATH: BENCH_DIR,
        PLUGINS_TRANSPORT: "http",
        PLUGINS_SERVER_HOST: "127.0.0.1",
        PLUGINS_SERVER_PORT: String(ports.python),
        PLUGINS_CONFIG_PATH: `${BENCH_DIR}mcp_python_plugins.yaml`,
        PLUGINS_LOG_LEVEL: "WARNING",
      },
    }, ports.python).catch((error: Error) => {
      if (error instanceof Deno.errors.NotFound) {
        pythonNote = `python reference skipped: ${PYTHON} not found ` +
          "(bash tests/interop/setup_venv.sh creates it)";
        return null;
      }
      throw error;
    }),
  ]);
  const startupMs = performance.now() - startedAt;

  // `localhost`: the SSRF rule (ours and the reference's) rejects loopback IP literals.
  const url = (port: number) => `http://localhost:${port}/mcp`;
  targets.push(
    await rawTarget(RAW, url(ports.raw), raw.process.pid),
    await gatewayTarget(OURS, url(ports.ours), ours.process.pid),
  );
  if (python) targets.push(await gatewayTarget(PY, url(ports.python), python.process.pid));

  const cases: Case[] = [];
  for (const target of targets) {
    for (const inFlight of IN_FLIGHT) {
      cases.push({ target, inFlight, samples: [], calls: 0, clientCpu: 0, serverCpu: 0 });
    }
  }
  for (const c of cases) await window(c, warmupMs, false);
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) await window(c, roundMs, true);
  }

  // -------------------------------------------------------------------------------------------
  // Report
  const rate = (label: string, inFlight: number): number | undefined => {
    const c = cases.find((x) => x.target.label === label && x.inFlight === inFlight);
    return c ? median(c.samples) : undefined;
  };
  const ratio = (a: number, b: number | undefined): string =>
    b === undefined ? "-" : `${(a / b).toFixed(2)}x`;
  const cpu = (seconds: number, calls: number): string =>
    Number.isFinite(seconds) ? (seconds * 1e6 / calls).toFixed(0) : "-";
  const rows = cases.map((c) => {
    const r = median(c.samples);
    const spread = (Math.max(...c.samples) - Math.min(...c.samples)) / r;
    return [
      c.target.label,
      String(c.inFlight),
      Math.round(r).toLocaleString("en-US"),
      (1e6 / r).toFixed(0),
      `${Math.round(spread * 100)}%`,
      ratio(r, rate(RAW, c.inFlight)),
      ratio(r, rate(PY, c.inFlight)),
      cpu(c.clientCpu, c.calls),
      cpu(c.serverCpu, c.calls),
    ];
  });
  const header = [
    "case",
    "in-flight",
    "calls/s",
    "µs/call",
    "spread",
    "vs raw",
    "vs python",
    "client CPU",
    "server CPU",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const format = (cells: string[]): string =>
    cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ");

  console.log(
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; servers ready in ` +
      `${Math.round(startupMs)} ms; median of ${rounds} interleaved rounds x ${roundMs} ms ` +
      `after ${warmupMs} ms warm-up per case`,
  );
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(format(row));
  console.log(
    "µs/call = 1e6 / (calls/s): wall time per call, amortized over the calls in flight. " +
      "spread = (max-min)/median of the rounds. vs raw = / raw MCP SDK echo at the same " +
      "in-flight.",
  );
  console.log(
    "client/server CPU: µs of CPU (utime+stime, all threads) per call over the measured " +
      "rounds; client = this process (gateway or raw SDK client).",
  );
  if (pythonNote) console.log(pythonNote);

  console.log(
    `\nTargets (issue 5): ours >= ${TARGET_VS_RAW * 100}% of the raw MCP SDK echo, ` +
      `>= ${TARGET_VS_PYTHON}x the python reference`,
  );
  for (const n of IN_FLIGHT) {
    const ours = rate(OURS, n)!;
    const vsRaw = ours / rate(RAW, n)!;
    let line = `  ${String(n).padStart(2)} in flight: ${(vsRaw * 100).toFixed(0)}% of raw ` +
      `${vsRaw >= TARGET_VS_RAW ? "(met)" : "(NOT met)"}`;
    const py = rate(PY, n);
    if (py !== undefined) {
      const vsPy = ours / py;
      line += `, ${vsPy.toFixed(1)}x python ${vsPy >= TARGET_VS_PYTHON ? "(met)" : "(NOT met)"}`;
    }
    console.log(line);
  }
} catch (error) {
  // Calls in flight fail once an interrupt stops the servers: not worth a stack trace.
  if (!interrupted) throw error;
} finally {
  for (const target of targets.splice(0)) await target.close().catch(() => {});
  await cleanup();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  if (interrupted) Deno.exit(130);
}
