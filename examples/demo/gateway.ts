/**
 * The demo's gateway process: loads `examples/gateway_all.yaml` (external plugins on the Unix
 * socket, gRPC and MCP HTTP servers that `examples/demo.ts` started, plus in-process plugins)
 * into a {@linkcode PluginManager}, plays the scripted calls, prints the table and a
 * per-transport throughput line, and shuts the manager down.
 *
 * It is started by `examples/demo.ts` with exactly the permissions the config needs (see
 * `servers.ts`) and the three `CPEX_DEMO_*` variables the config substitutes. On SIGINT it
 * stops after the current call, shuts the manager down (closing every connection before the
 * servers stop) and exits with 130.
 *
 * @module
 */
import {
  type GlobalContext,
  type HookResult,
  type PluginContextTable,
  PluginManager,
} from "../../mod.ts";
import { describeResult, paint, printTable, type Row, transports, wrapWords } from "./report.ts";
import { STEPS } from "./script.ts";
import { parentWatchFlag, whenParentExits } from "./parent_watch.ts";

const CONFIG = new URL("../gateway_all.yaml", import.meta.url);
/** Sequential calls per transport in the throughput measurement (after 100 warm-up calls). */
const THROUGHPUT_CALLS = 1_000;
/** In-process calls take microseconds: more of them give a steadier number. */
const IN_PROCESS_CALLS = 20_000;
const FULL_CHAIN_CALLS = 500;
/** Passes over the script whose median latency is shown. */
const MEASURED_PASSES = 5;

/** A clean tool call that every tool plugin inspects and allows. */
const CLEAN_TOOL_CALL = {
  name: "web_search",
  args: { query: "deno plugin frameworks", limit: 5 },
};

/** Benign payloads for the throughput runs, by hook. */
const CLEAN: Record<string, Record<string, unknown>> = {
  tool_pre_invoke: CLEAN_TOOL_CALL,
  prompt_pre_fetch: { prompt_id: "summarize", args: { text: "Summarize the Q3 report" } },
  resource_pre_fetch: { uri: "https://docs.example.com/guide/plugins" },
};

class Interrupted extends Error {}
let interrupted = false;
const checkInterrupt = (): void => {
  if (interrupted) throw new Interrupted("interrupted");
};

async function main(): Promise<number> {
  Deno.addSignalListener("SIGINT", () => interrupted = true);
  // Started by the demo: stop when the demo is gone, however it ended (issue 12).
  if (parentWatchFlag(Deno.args).watch) whenParentExits(() => interrupted = true);
  // The load report ("6 of 6 plugins loaded") is the line printed below, with the timing.
  const manager = new PluginManager(CONFIG, {
    logger: { warn: (m) => console.error(m), info: () => {} },
  });
  try {
    const started = performance.now();
    await manager.initialize();
    const byPlugin = transports(manager);
    console.log(
      `gateway: loaded ${manager.pluginCount} of ${manager.config?.plugins.length} plugins ` +
        `from examples/gateway_all.yaml in ${Math.round(performance.now() - started)} ms`,
    );
    console.log("gateway: (the time includes connecting to the three servers)");
    printPlugins(manager, byPlugin);
    checkInterrupt();
    await runScript(manager, byPlugin); // a first pass warms connections and the JIT up
    const passes: Row[][] = [];
    for (let i = 0; i < MEASURED_PASSES; i++) passes.push(await runScript(manager, byPlugin));
    const rows = passes[0].map((row, i) => ({ ...row, ms: median(passes.map((p) => p[i].ms)) }));
    console.log(
      paint(1, "\nScripted calls") +
        ` (ms: the whole hook chain, median of ${MEASURED_PASSES} passes after a warm-up):`,
    );
    printTable(rows);
    await measureThroughput(manager, byPlugin);
    return 0;
  } catch (error) {
    if (error instanceof Interrupted) {
      console.log("gateway: interrupted, shutting the plugin manager down");
      return 130;
    }
    throw error;
  } finally {
    // Before the servers stop (demo.ts stops them only after this process exits): closes every
    // Unix socket connection, gRPC channel and MCP session cleanly.
    await manager.shutdown();
  }
}

function printPlugins(manager: PluginManager, byPlugin: Map<string, string>): void {
  const rows = (manager.config?.plugins ?? []).map((entry) => {
    // External plugins report their hooks and mode after initialize() (merged remote config).
    const plugin = manager.getPlugin(entry.name);
    return [
      entry.name,
      byPlugin.get(entry.name) ?? "?",
      plugin?.mode ?? entry.mode,
      String(plugin?.priority ?? entry.priority),
      (plugin?.hooks ?? entry.hooks).join(", "),
    ];
  });
  const titles = ["plugin", "transport", "mode", "priority", "hooks"];
  const widths = titles.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "  " + cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ");
  console.log(paint(1, line(titles)));
  // The hooks wrap under their column, so the table fits 100 columns (issue 12).
  const indent = 2 + widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  for (const row of rows) {
    const hooks = wrapWords(row[row.length - 1], indent).slice(indent);
    console.log(line([...row.slice(0, -1), hooks]));
  }
}

async function runScript(manager: PluginManager, byPlugin: Map<string, string>): Promise<Row[]> {
  const rows: Row[] = [];
  let requestId = "";
  let contexts: PluginContextTable | null = null;
  for (const [i, step] of STEPS.entries()) {
    checkInterrupt();
    // A post hook continues the previous call: same request id, and the pre hook's contexts.
    if (!step.continuesPrevious) requestId = `req-${i + 1}`;
    const globalContext: GlobalContext = {
      request_id: requestId,
      server_id: step.server ?? "public-gateway",
      user: "alice@corp.example",
    };
    const started = performance.now();
    const [result, table]: [HookResult, PluginContextTable | null] = await manager.invokeHook(
      step.hook,
      step.payload,
      globalContext,
      { localContexts: step.continuesPrevious ? contexts ?? undefined : undefined },
    );
    const ms = performance.now() - started;
    contexts = table;
    rows.push(describeResult(i + 1, step, result, ms, byPlugin));
  }
  return rows;
}

function median(values: string[]): string {
  const sorted = values.map(Number).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)].toFixed(2);
}

/** `calls` sequential invocations of `call`, after 100 warm-up ones; returns calls per second. */
async function rate(calls: number, call: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 100; i++) await call(i);
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    await call(i);
    if (i % 100 === 0) checkInterrupt();
  }
  return calls / ((performance.now() - started) / 1000);
}

async function measureThroughput(
  manager: PluginManager,
  byPlugin: Map<string, string>,
): Promise<void> {
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(
    paint(1, "\nThroughput") +
      ": sequential calls through each transport's plugin alone (invokeHookForPlugin),\n" +
      "then through the whole chain (invokeHook):",
  );
  // The first plugin of each transport that has a hook with a clean payload.
  const seen = new Set<string>();
  for (const entry of manager.config?.plugins ?? []) {
    const transport = byPlugin.get(entry.name)!;
    const plugin = manager.getPlugin(entry.name);
    const hook = plugin?.hooks.find((h) => h in CLEAN);
    if (seen.has(transport) || !plugin || !hook) continue;
    seen.add(transport);
    const calls = transport === "in-process" ? IN_PROCESS_CALLS : THROUGHPUT_CALLS;
    const perSecond = await rate(
      calls,
      (i) =>
        manager.invokeHookForPlugin(plugin.name, hook, CLEAN[hook], {
          request_id: `bench-${i}`,
          server_id: "public-gateway",
        }),
    );
    console.log(
      `  ${transport.padEnd(10)}  ${plugin.name.padEnd(17)}  ${hook.padEnd(18)}  ` +
        `${fmt(calls).padStart(6)} calls  ${paint(1, fmt(perSecond).padStart(7))} calls/s  ` +
        `${(1e6 / perSecond).toFixed(1).padStart(6)} µs/call`,
    );
  }
  const [probe] = await manager.invokeHook("tool_pre_invoke", CLEAN_TOOL_CALL, {
    request_id: "chain-probe",
    server_id: "public-gateway",
  });
  const chain = probe.executions.map((r) => r.plugin_name);
  const perSecond = await rate(
    FULL_CHAIN_CALLS,
    (i) =>
      manager.invokeHook("tool_pre_invoke", CLEAN_TOOL_CALL, {
        request_id: `chain-${i}`,
        server_id: "public-gateway",
      }),
  );
  const via = [...new Set(chain.map((name) => byPlugin.get(name)))].join(" + ");
  console.log(
    `  ${"full chain".padEnd(10)}  ${`${chain.length} plugins`.padEnd(17)}  ` +
      `${"tool_pre_invoke".padEnd(18)}  ${fmt(FULL_CHAIN_CALLS).padStart(6)} calls  ` +
      `${paint(1, fmt(perSecond).padStart(7))} calls/s  ${
        (1e6 / perSecond).toFixed(1).padStart(6)
      } µs/call`,
  );
  console.log(`  ${"".padEnd(10)}  (${via})`);
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main();
  } catch (error) {
    console.error(`gateway: ${error instanceof Error ? error.stack ?? error.message : error}`);
    code = 1;
  }
  Deno.exit(code);
}
