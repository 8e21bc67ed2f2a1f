/**
 * Child process of `soak.ts`: an `ExternalPluginServer` hosting one no-op `allow` plugin on one
 * transport: `soak_server_child.ts KIND ADDRESS STATS_FILE`, KIND being `unix` (ADDRESS: socket
 * path), `grpc` (`127.0.0.1:PORT` or `unix:PATH`), `http` (`127.0.0.1:PORT`) or `stdio`
 * (ADDRESS ignored; the gateway starts it). Run with `--v8-flags=--expose-gc` and the transport's
 * flags plus `--allow-read=STATS_FILE --allow-write=STATS_FILE`.
 *
 * It writes `{"pid":…}` to STATS_FILE at start, and on SIGUSR2 runs `gc()` and writes
 * `{"pid":…,"rss":…,"heapUsed":…,"seq":N}` (bytes), so the parent can read memory of a server
 * it did not start (the STDIO one). Stops on SIGTERM/SIGINT or when stdin closes (not for STDIO:
 * there stdin is the protocol).
 *
 * @module
 */
import type { ServeOptions } from "../server.ts";
import { printReady, stdinClosed } from "./children.ts";
import { allowServer } from "./harness.ts";

const [kind, address, statsFile] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
let seq = 0;
const writeStats = async (): Promise<void> => {
  gc?.();
  const { rss, heapUsed } = Deno.memoryUsage();
  await Deno.writeTextFile(statsFile, JSON.stringify({ pid: Deno.pid, rss, heapUsed, seq: ++seq }));
};
await Deno.writeTextFile(statsFile, JSON.stringify({ pid: Deno.pid }));
Deno.addSignalListener("SIGUSR2", () => void writeStats());

const server = allowServer();
const common = { printReady: false, handleSignals: false } as const;
let options: ServeOptions;
if (kind === "unix") options = { ...common, transport: "unix", path: address };
else if (kind === "stdio") options = { ...common, transport: "stdio" };
else {
  const where = address.startsWith("unix:")
    ? { uds: address.slice(5) }
    : { host: "127.0.0.1", port: Number(address.split(":").pop()) };
  options = { ...common, transport: kind === "grpc" ? "grpc" : "http", ...where };
}
const handle = await server.serve(options);
let stopping: Promise<void> | null = null;
const stop = () => stopping ??= server.close();
Deno.addSignalListener("SIGTERM", () => void stop());
Deno.addSignalListener("SIGINT", () => void stop());
if (kind === "stdio") {
  await handle.finished;
  await stop();
} else {
  await printReady();
  await stdinClosed();
  await stop();
}
Deno.exit(0);
