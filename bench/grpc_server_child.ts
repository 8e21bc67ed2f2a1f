/**
 * Child process of `grpc_ratio.ts`: an {@linkcode ExternalPluginServer} hosting one no-op
 * `allow` plugin (`tool_pre_invoke`, SEQUENTIAL) over gRPC (`serve({transport: "grpc"})`), on
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
import { ExternalPluginServer, Plugin, type PluginResult } from "../mod.ts";

/** Allows every tool call and changes nothing. */
export class Allow extends Plugin {
  /** Allows the call. */
  // deno-lint-ignore require-await
  async tool_pre_invoke(): Promise<PluginResult> {
    return {};
  }
}

const port = Number(Deno.args[0]);
const uds = Deno.args[1];
if (!Number.isInteger(port) || port <= 0 || !uds?.startsWith("/")) {
  console.error("usage: grpc_server_child.ts PORT SOCKET_PATH");
  Deno.exit(2);
}

const server = new ExternalPluginServer({
  plugins: [new Allow({ name: "allow", kind: "bench", hooks: ["tool_pre_invoke"] })],
});
const common = { transport: "grpc", printReady: false, handleSignals: false } as const;
const handles = [
  await server.serve({ ...common, host: "127.0.0.1", port }),
  await server.serve({ ...common, uds }),
];
let stopping: Promise<void> | null = null;
const stop = () => stopping ??= server.close();
Deno.addSignalListener("SIGTERM", () => void stop());
Deno.addSignalListener("SIGINT", () => void stop());
await Deno.stdout.write(new TextEncoder().encode("READY\n"));

// The parent holds our stdin open; its end (parent gone) stops the server.
try {
  for await (const _ of Deno.stdin.readable) { /* ignore input */ }
} catch {
  // stdin unavailable: rely on signals.
}
await stop();
await Promise.all(handles.map((h) => h.finished));
Deno.exit(0);
