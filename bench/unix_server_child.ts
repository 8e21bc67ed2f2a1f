/**
 * Child process of `unix_ratio.ts`: an `ExternalPluginServer` hosting one no-op `allow`
 * plugin (`tool_pre_invoke`, SEQUENTIAL) on the Unix socket given as the first
 * argument. Prints `READY` once listening. Needs exactly the transport's flags:
 *
 * ```sh
 * deno run --allow-read=SOCK --allow-write=SOCK --allow-net=unix:SOCK bench/unix_server_child.ts SOCK
 * ```
 *
 * Stops (removing the socket) on SIGTERM/SIGINT or when its stdin closes, so it does not outlive
 * a parent that dies without killing it.
 *
 * @module
 */
import { stdinClosed } from "./children.ts";
import { allowServer } from "./harness.ts";

const path = Deno.args[0];
if (!path) {
  console.error("usage: unix_server_child.ts SOCKET_PATH");
  Deno.exit(2);
}

const server = allowServer();
const handle = await server.serve({ transport: "unix", path });

// The parent holds our stdin open; its end (parent gone) stops the server.
void stdinClosed().then(() => handle.close());

await handle.finished;
await server.shutdown();
Deno.exit(0);
