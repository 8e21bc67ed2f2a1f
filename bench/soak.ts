/**
 * Soak benchmark (not a test): for each transport, our plugin server runs as a subprocess with
 * its exact permission flags (plus `--v8-flags=--expose-gc`), and our gateway (a
 * `PluginManager` with one external `allow` plugin) keeps `--inflight` calls (default 16) in
 * flight for `--seconds` (default 60). Per transport it prints the calls made, the server's
 * RSS at start (after a short warm-up) and at the end, and its heap after a forced GC at both
 * points (the child runs `gc()` and reports `Deno.memoryUsage()` on SIGUSR2,
 * `soak_server_child.ts`).
 *
 * ```sh
 * deno task bench:soak                                   # all five, 60 s each
 * deno task bench:soak --seconds=10 --transport=grpc-uds # one, briefly
 * ```
 *
 * Transports: `unix`, `grpc-tcp`, `grpc-uds`, `mcp-http`, `mcp-stdio` (default: all, one after
 * another). Sockets and stats files live in `/tmp/cpex-soak`.
 *
 * @module
 */
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { BENCH_DIR, ChildSet, freePort, runGuarded } from "./children.ts";
import { gatewayTarget, type Target } from "./harness.ts";

const DIR = "/tmp/cpex-soak";
const TRANSPORTS = ["unix", "grpc-tcp", "grpc-uds", "mcp-http", "mcp-stdio"] as const;
type Transport = typeof TRANSPORTS[number];

const args: Record<string, string> = { transport: "all", seconds: "60", inflight: "16" };
for (const arg of Deno.args) {
  const m = /^--(transport|seconds|inflight)=(.+)$/.exec(arg);
  if (m) args[m[1]] = m[2];
  else args.transport = "?";
}
const seconds = Number(args.seconds);
const inflight = Number(args.inflight);
const chosen: Transport[] = args.transport === "all"
  ? [...TRANSPORTS]
  : [args.transport as Transport];
if (chosen.some((t) => !TRANSPORTS.includes(t)) || !(seconds > 0) || !(inflight > 0)) {
  console.error(
    `usage: soak.ts [--transport=${TRANSPORTS.join("|")}|all] [--seconds=60] [--inflight=16]`,
  );
  Deno.exit(2);
}

interface Stats {
  pid: number;
  rss: number;
  heapUsed: number;
  seq: number;
}

async function readStats(file: string): Promise<Partial<Stats>> {
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch {
    return {};
  }
}

/** Asks the child for a GC and its memory (SIGUSR2), waits for the new report. */
async function sample(file: string): Promise<Stats> {
  const before = await readStats(file);
  if (!before.pid) throw new Error(`${file}: no pid reported`);
  Deno.kill(before.pid, "SIGUSR2");
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await readStats(file);
    if ((now.seq ?? 0) > (before.seq ?? 0)) return now as Stats;
  }
  throw new Error(`${file}: no memory report within 10 s`);
}

/** Runs `inflight` callers back to back for `ms`; returns the calls completed. */
async function drive(target: Target, ms: number): Promise<number> {
  const callers = await target.callers(inflight);
  const end = Date.now() + ms;
  let calls = 0;
  await Promise.all(callers.map(async (call) => {
    while (Date.now() < end) {
      await call();
      calls++;
    }
  }));
  return calls;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function soak(transport: Transport, children: ChildSet, clients: Target[]): Promise<void> {
  const stats = `${DIR}/${transport}.json`;
  await Deno.remove(stats).catch(() => {});
  await Deno.writeTextFile(stats, "{}");
  const statFlags = [`--allow-read=${stats}`, `--allow-write=${stats}`, "--v8-flags=--expose-gc"];
  const socket = `${DIR}/${transport}.sock`;
  let plugin: Record<string, unknown>;
  if (transport === "mcp-stdio") {
    plugin = {
      mcp: {
        proto: "STDIO",
        cmd: [
          Deno.execPath(),
          "run",
          "--no-prompt",
          ...statFlags,
          `${BENCH_DIR}soak_server_child.ts`,
          "stdio",
          "-",
          stats,
        ],
      },
    };
  } else {
    const port = freePort();
    const sockFlags = [
      `--allow-read=${socket},${stats}`,
      `--allow-write=${socket},${stats}`,
      `--allow-net=unix:${socket}`,
      "--v8-flags=--expose-gc",
    ];
    const [kind, address, flags, block] = transport === "unix"
      ? ["unix", socket, sockFlags, { unix_socket: { path: socket } }]
      : transport === "grpc-uds"
      ? ["grpc", `unix:${socket}`, [...sockFlags, GRPC_ENV_FLAG], { grpc: { uds: socket } }]
      : transport === "grpc-tcp"
      ? [
        "grpc",
        `127.0.0.1:${port}`,
        [...statFlags, `--allow-net=127.0.0.1:${port}`, GRPC_ENV_FLAG],
        { grpc: { target: `127.0.0.1:${port}` } },
      ]
      : [
        "http",
        `127.0.0.1:${port}`,
        [...statFlags, `--allow-net=127.0.0.1:${port}`],
        { mcp: { proto: "STREAMABLEHTTP", url: `http://localhost:${port}/mcp` } },
      ];
    await Deno.remove(socket).catch(() => {});
    await children.deno(transport, "soak_server_child.ts", ["--no-prompt", ...flags], [
      kind as string,
      address as string,
      stats,
    ]);
    plugin = block as Record<string, unknown>;
  }
  const target = await gatewayTarget(
    transport,
    {
      hooks: ["tool_pre_invoke"],
      mode: "sequential",
      on_error: "fail",
      ...plugin,
    },
    0,
    transport,
  );
  clients.push(target);
  await drive(target, 1_000); // warm-up: connections, JIT
  const start = await sample(stats);
  const calls = await drive(target, seconds * 1_000);
  const end = await sample(stats);
  console.log(
    `${transport.padEnd(10)} calls ${String(calls).padStart(8)} (${
      Math.round(calls / seconds)
    }/s)  RSS ${mb(start.rss)} -> ${mb(end.rss)}  heap after GC ${mb(start.heapUsed)} -> ${
      mb(end.heapUsed)
    }`,
  );
  clients.splice(clients.indexOf(target), 1);
  await target.close();
}

await Deno.mkdir(DIR, { recursive: true });
console.log(`soak: ${seconds} s per transport, ${inflight} calls in flight`);
for (const transport of chosen) {
  const children = new ChildSet({ files: [`${DIR}/${transport}.sock`] });
  const clients: Target[] = [];
  await runGuarded(children, clients, () => soak(transport, children, clients), {
    clientsFirst: true,
  });
}
