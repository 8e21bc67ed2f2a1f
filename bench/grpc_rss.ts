/**
 * Gateway memory with five gRPC plugins (issue 13: 128 MiB against the reference's 94 MiB when
 * every plugin had a channel of its own; target: at most the reference's).
 *
 * One plugin server, the reference's gRPC runtime (cpex 0.1.4 from `.venv`) hosting five
 * allow plugins `P0`..`P4` (`grpc_rss_python_plugins.yaml`), serves both gateways, each in a
 * process of its own with the same five `kind: external` + `grpc: {target}` entries:
 *
 * - ours: `gateway_child.ts` (a `PluginManager`, started with only the transport's flags);
 * - the reference: `python_gateway.py` (its `PluginManager`).
 *
 * Both speak the driver protocol of `stack_driver.ts`. Their resident set size (`VmRSS`) is
 * read once both are initialized (idle), and again after interleaved load rounds (every call
 * runs the five plugins on a fresh 1 KB payload), together with the peak (`VmHWM`). Memory is
 * read from `/proc/PID/status` with `cat` (Deno reads `/proc` only with `--allow-all`).
 *
 * Run: `deno task bench:grpc-rss` (optional arguments: round length in ms, default 1000, and
 * rounds, default 5; about 20 s). Needs `.venv` (`bash tests/interop/setup_venv.sh`).
 *
 * @module
 */
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { BENCH_DIR, ChildSet, freePort, PYTHON_SKIPPED, runGuarded } from "./children.ts";
import { DrivenGateway, pythonGateway } from "./stack_driver.ts";
import { loadavg, runOptions } from "./harness.ts";
import { formatTable, MARKDOWN } from "./table.ts";

const TARGET = 1.0; // ours / reference, at most
const IN_FLIGHT = 16;
const NAMES = ["P0", "P1", "P2", "P3", "P4"];
const run = runOptions("grpc_rss.ts", 1000);
const decoder = new TextDecoder();

/** `VmRSS` and `VmHWM` of `pid` in MiB (NaN when unreadable). */
function memory(pid: number): { rss: number; peak: number } {
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/status`], stdout: "piped" })
    .outputSync();
  const text = decoder.decode(out.stdout);
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

const children = new ChildSet();
await runGuarded(children, [], async () => {
  const port = freePort();
  const target = `127.0.0.1:${port}`;
  const server = await children.python(
    "python plugin server",
    "cpex.framework.external.grpc.server.runtime",
    {
      PLUGINS_GRPC_SERVER_SSL_ENABLED: "false",
      PLUGINS_CONFIG_PATH: `${BENCH_DIR}grpc_rss_python_plugins.yaml`,
      PLUGINS_LOG_LEVEL: "INFO", // the readiness line is logged at INFO
      PLUGINS_GRPC_SERVER_HOST: "127.0.0.1",
      PLUGINS_GRPC_SERVER_PORT: String(port),
    },
    { stream: "stderr", text: "gRPC plugin server started on" },
    true, // SIGKILL: no GOAWAY towards our gateway (denoland/deno#36788)
  );
  if (!server) {
    console.log(PYTHON_SKIPPED);
    return;
  }
  const entries = NAMES.map((name) => ({ name, kind: "external", grpc: { target } }));
  const ours = new DrivenGateway(
    await children.deno(
      "deno gateway",
      "gateway_child.ts",
      [`--allow-net=${target}`, GRPC_ENV_FLAG],
      [JSON.stringify(entries)],
    ),
  );
  const python = await pythonGateway(children, "python gateway", entries);
  if (!python) throw new Error("the python gateway did not start");

  const gateways = [["ours (deno gateway)", ours], ["python reference gateway", python]] as const;
  const idle = gateways.map(([, g]) => memory(g.pid));
  const rates: number[][] = gateways.map(() => []);
  let heap: { heapTotal: number; heapUsed: number } | undefined;
  for (let r = 0; r < run.rounds; r++) {
    for (const [i, [, g]] of gateways.entries()) {
      const round = await g.round(IN_FLIGHT, run.roundMs);
      rates[i].push(round.calls / round.seconds);
      heap = (round as { memory?: typeof heap }).memory ?? heap;
    }
  }
  const loaded = gateways.map(([, g]) => memory(g.pid));

  console.log(
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; load ${loadavg()}; ` +
      `5 gRPC plugins (TCP) on one reference server; ${run.rounds} interleaved rounds x ` +
      `${run.roundMs} ms of ${IN_FLIGHT} calls in flight per gateway`,
  );
  const mib = (x: number) => x.toFixed(1);
  const rows = gateways.map(([label], i) => [
    label,
    mib(idle[i].rss),
    mib(loaded[i].rss),
    mib(loaded[i].peak),
    `${(idle[i].rss / idle[1].rss).toFixed(2)}x`,
    `${(loaded[i].rss / loaded[1].rss).toFixed(2)}x`,
    Math.round(rates[i].sort((a, b) => a - b)[rates[i].length >> 1]).toLocaleString("en-US"),
  ]);
  const header = [
    "gateway",
    "RSS idle MiB",
    "RSS loaded MiB",
    "peak MiB",
    "idle vs python",
    "loaded vs python",
    "calls/s",
  ];
  for (const line of formatTable(header, rows)) console.log(line);
  if (MARKDOWN) console.log(""); // the legend is a paragraph, not a table row
  console.log(
    "RSS = VmRSS after initialize (idle) and after the load rounds (loaded); peak = VmHWM. " +
      "calls/s: median round, each call through all five plugins.",
  );
  if (heap) {
    console.log(
      `ours after the last round: V8 heap ${mib(heap.heapTotal / 2 ** 20)} MiB reserved, ` +
        `${mib(heap.heapUsed / 2 ** 20)} MiB used (garbage included; V8 grows its heap with ` +
        "the allocation rate and returns it lazily).",
    );
  }
  const ratio = loaded[0].rss / loaded[1].rss;
  console.log(
    `\nTargets (issue 13): gateway RSS with 5 gRPC plugins <= ${TARGET}x the reference's` +
      `${MARKDOWN ? "\n" : ""}`,
  );
  console.log(
    `${MARKDOWN ? "- " : "  "}loaded: ${ratio.toFixed(2)}x ` +
      `(${mib(loaded[0].rss)} vs ${mib(loaded[1].rss)} MiB) ` +
      (ratio <= TARGET ? "(met)" : "(NOT met)"),
  );
});
