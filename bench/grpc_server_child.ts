/**
 * Child process of `grpc_ratio.ts`: an `ExternalPluginServer` hosting one no-op `allow`
 * plugin (`tool_pre_invoke`, SEQUENTIAL) over gRPC (`serve({transport: "grpc"})`), on
 * TCP `127.0.0.1:PORT` and on the Unix socket SOCK at once. Prints `READY` once both listen.
 * Needs exactly the transport's flags:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:PORT,unix:SOCK --allow-read=SOCK --allow-write=SOCK \
 *   --allow-env=GRPC_TRACE,GRPC_VERBOSITY,... bench/grpc_server_child.ts PORT SOCK
 * ```
 *
 * Stops (removing the socket) on SIGTERM/SIGINT or when its stdin closes, so it does not outlive
 * a parent that dies without killing it.
 *
 * @module
 */
import { printReady, stdinClosed } from "./children.ts";
import { allowServer } from "./harness.ts";

const port = Number(Deno.args[0]);
const uds = Deno.args[1];
if (!Number.isInteger(port) || port <= 0 || !uds?.startsWith("/")) {
  console.error("usage: grpc_server_child.ts PORT SOCKET_PATH");
  Deno.exit(2);
}

const server = allowServer();
const common = { transport: "grpc", printReady: false, handleSignals: false } as const;
const handles = [
  await server.serve({ ...common, host: "127.0.0.1", port }),
  await server.serve({ ...common, uds }),
];
let stopping: Promise<void> | null = null;
const stop = () => stopping ??= server.close();
Deno.addSignalListener("SIGTERM", () => void stop());
Deno.addSignalListener("SIGINT", () => void stop());
await printReady();

// The parent holds our stdin open; its end (parent gone) stops the server.
await stdinClosed();
await stop();
await Promise.all(handles.map((h) => h.finished));
Deno.exit(0);
