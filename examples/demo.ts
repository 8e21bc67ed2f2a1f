/**
 * The demo: a gateway that runs policy plugins in-process and in three external plugin
 * servers, one per transport, each in its own Deno process with its own narrow permissions.
 *
 * ```sh
 * deno task demo        # or: npx -y deno@2.9.6 task demo
 * ```
 *
 * 1. Picks a private directory for this run's Unix socket (`/tmp/cpex-demo/run-XXXX`, mode
 *    0700) and two free ports on 127.0.0.1.
 * 2. Makes sure the npm dependencies are installed (`deno install --entrypoint`, a no-op
 *    after the first run), then starts the example servers (`examples/*_server.ts`) as subprocesses with the flags of the
 *    `example:unix`, `example:grpc` and `example:mcp` tasks for that path and those ports, and
 *    waits (at most 15 s) for each to print `READY`.
 * 3. Starts the gateway (`examples/demo/gateway.ts`) as a subprocess with exactly what its
 *    config (`examples/gateway_all.yaml`) needs: it plays a scripted sequence of tool, prompt
 *    and resource calls through all the plugins and prints the table and the throughput.
 * 4. Stops the gateway first (its plugin manager closes every connection), then the servers
 *    (SIGTERM, SIGKILL after 3 s), and removes the run directory with any socket left in it.
 *    Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal closed) at any point does the same and
 *    exits with 130. Killed outright (SIGKILL), the demo cleans nothing up itself, but its
 *    children notice that their stdin pipe closed and stop (`demo/parent_watch.ts`): no
 *    server and no socket outlives the demo (issue 12). Only the empty run directory remains.
 *
 * Nothing listens or connects beyond loopback. The gateway runs in its own process too: so it
 * can be granted exactly this run's socket path and ports (Deno's `--allow-net=unix:PATH` takes
 * exact paths only), and so the cleanup here runs whatever happens to it.
 *
 * Permissions of this process (the `demo` task):
 *
 * ```sh
 * deno run --allow-run --allow-net=127.0.0.1 --allow-read=/tmp/cpex-demo \
 *   --allow-write=/tmp/cpex-demo examples/demo.ts
 * ```
 *
 * - `--allow-run`: starts `Deno.execPath()`, the running Deno binary, so the servers run on the
 *   same Deno version. It is not scoped because that path is not known when the task is
 *   written: under `npx -y deno@2.9.6` it lives in npm's cache (`~/.npm/_npx/<hash>/...`), and
 *   `--allow-run=deno` would allow whichever `deno` PATH finds instead. Every child gets its
 *   own narrow flags and `--no-prompt`.
 * - `--allow-net=127.0.0.1`: to find free ports (listen on port 0 and close).
 * - `--allow-read=/tmp/cpex-demo --allow-write=/tmp/cpex-demo`: to create the run directory,
 *   check that the socket is gone, and remove the directory.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { DemoProcess, freePorts, installDependencies } from "./demo/processes.ts";
import { type DemoAddresses, gatewaySpec, serverSpecs } from "./demo/servers.ts";
import { GRPC_ENV_VARS } from "../src/external/grpc/permissions.ts";

/** Parent of every run's private directory (the task's read/write flags name it). */
export const DEMO_DIR = "/tmp/cpex-demo";
const READY_TIMEOUT_MS = 15_000;
const SERVER_GRACE_MS = 3_000;
const GATEWAY_GRACE_MS = 5_000;

const ROOT = new URL("..", import.meta.url);
const EXAMPLES_DIR = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");

/** The signals that stop the demo cleanly (SIGHUP: the terminal was closed). */
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Prints a line; never throws. After SIGHUP the terminal is gone and writing to it fails, but
 * the cleanup must still run to the end.
 */
function say(text: string): void {
  try {
    console.log(text);
  } catch { /* no terminal any more */ }
}

/** Runs the demo; resolves with the exit code (130 when interrupted). */
async function main(): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = () => {
    if (!interrupt.signal.aborted) {
      say("\ndemo: interrupted, stopping the gateway and the servers ...");
      interrupt.abort(new Error("interrupted"));
    }
  };
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);

  await Deno.mkdir(DEMO_DIR, { recursive: true, mode: 0o700 });
  const runDir = await Deno.makeTempDir({ dir: DEMO_DIR, prefix: "run-" }); // mode 0700
  const [grpcPort, mcpPort] = freePorts(2);
  const addresses: DemoAddresses = { socket: `${runDir}/plugins.sock`, grpcPort, mcpPort };

  const servers: DemoProcess[] = [];
  let gateway: DemoProcess | null = null;
  let code = 1;
  try {
    const short = abbreviate(addresses.socket);
    say(`demo: socket $SOCK = ${addresses.socket}`);
    say(`demo: ports ${grpcPort} (gRPC) and ${mcpPort} (MCP) on 127.0.0.1`);
    say(`demo: $GRPC_ENV = the ${GRPC_ENV_VARS.length} GRPC_* variables grpc-js reads at import`);
    const specs = serverSpecs(addresses);
    const gatewayRun = gatewaySpec(addresses, EXAMPLES_DIR);
    const installMs = await installDependencies(
      ROOT,
      [...specs, gatewayRun].map((s) => s.script),
      interrupt.signal,
    );
    if (installMs > 1_000) {
      say(`demo: npm dependencies installed in ${(installMs / 1000).toFixed(1)} s`);
    }
    say("demo: starting 3 external plugin servers, each with its own permissions:");
    const started = performance.now();
    for (const spec of specs) {
      servers.push(DemoProcess.start(spec, { cwd: ROOT }));
    }
    for (const server of servers) {
      const { label, flags, script, args } = server.spec;
      say(`  ${label.padEnd(8)}  pid ${server.pid}  ${short(`${script} ${args.join(" ")}`)}`);
      say(wrap(short(flags.join(" ")), 14));
    }
    await Promise.all(servers.map((s) => s.waitForReady(READY_TIMEOUT_MS, interrupt.signal)));
    say(`demo: all servers READY in ${Math.round(performance.now() - started)} ms`);

    gateway = DemoProcess.start(gatewayRun, { cwd: ROOT, inheritOutput: true });
    say(`demo: gateway   pid ${gateway.pid}  ${gatewayRun.script}`);
    say(wrap(short(gatewayRun.flags.join(" ")), 14) + "\n");
    const aborted = new Promise<"aborted">((resolve) => {
      if (interrupt.signal.aborted) resolve("aborted");
      interrupt.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    const status = await Promise.race([gateway.exited, aborted]);
    code = status === "aborted" ? 130 : status.code;
  } catch (error) {
    if (interrupt.signal.aborted) {
      code = 130;
    } else {
      try {
        console.error(`demo: ${error instanceof Error ? error.message : error}`);
      } catch { /* no terminal any more */ }
    }
  } finally {
    await cleanUp(gateway, servers, runDir, addresses.socket);
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
  if (code === 0) say(NEXT_STEPS);
  return interrupt.signal.aborted ? 130 : code;
}

/** Gateway first (SIGINT: it shuts its manager down), then the servers, then the directory. */
async function cleanUp(
  gateway: DemoProcess | null,
  servers: DemoProcess[],
  runDir: string,
  socket: string,
): Promise<void> {
  const report: string[] = [];
  if (gateway) {
    const { status, killed } = await gateway.stop("SIGINT", GATEWAY_GRACE_MS);
    report.push(`gateway (pid ${gateway.pid}) ${describeExit(status, killed)}`);
  }
  const outcomes = await Promise.all(servers.map((s) => s.stop("SIGTERM", SERVER_GRACE_MS)));
  outcomes.forEach(({ status, killed }, i) => {
    const server = servers[i];
    report.push(`${server.spec.label} server (pid ${server.pid}) ${describeExit(status, killed)}`);
  });
  const socketLeft = await exists(socket);
  await Deno.remove(runDir, { recursive: true }).catch(() => {});
  const dirLeft = await exists(runDir);
  say(`\ndemo: cleanup: ${report.join(",\n               ")}`);
  say(
    `demo: socket ${socketLeft ? "was left behind and removed" : "removed by its server"}; ` +
      `${dirLeft ? "could NOT remove" : "removed"} ${runDir}`,
  );
}

/** The last words: where to go from here (issue 12). */
const NEXT_STEPS = `
Try your own plugin:
  1. Copy examples/plugins/pii_masker.ts (an in-process plugin) to examples/plugins/mine.ts
     and change its hook method.
  2. Add it to examples/gateway_all.yaml under plugins:
       - name: Mine
         kind: ./plugins/mine.ts#Mine
         hooks: [tool_pre_invoke]
  3. Run deno task demo again.
Or start a project of your own: deno run -A cli.ts init my-plugin --core .`;

/** Wraps a space-separated list of flags to lines of at most 100 columns, indented. */
function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && indent + line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => " ".repeat(indent) + l).join("\n");
}

/** Shortens command lines for display: the socket path and the grpc-js variables by name. */
function abbreviate(socket: string): (text: string) => string {
  const grpcEnv = GRPC_ENV_VARS.join(",");
  return (text) =>
    text.replaceAll(socket, "$SOCK").replaceAll(grpcEnv, "$GRPC_ENV").replaceAll(
      `${EXAMPLES_DIR}/`,
      "examples/",
    );
}

function describeExit(status: Deno.CommandStatus, killed: boolean): string {
  if (killed) return "killed (SIGKILL)";
  return status.signal ? `stopped by ${status.signal}` : `exited ${status.code}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main());
