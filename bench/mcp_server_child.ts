/**
 * Child process of `mcp_ratio.ts`: an `ExternalPluginServer` hosting one no-op `allow`
 * plugin (`tool_pre_invoke`, SEQUENTIAL) over MCP Streamable HTTP on `127.0.0.1:PORT`
 * (PORT is the first argument). Prints `READY` once listening. Needs exactly the transport's
 * flag:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:PORT bench/mcp_server_child.ts PORT
 * ```
 *
 * Stops on SIGTERM/SIGINT or when its stdin closes, so it does not outlive a parent that dies
 * without killing it.
 *
 * @module
 */
import { stdinClosed } from "./children.ts";
import { allowServer } from "./harness.ts";

const port = Number(Deno.args[0]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: mcp_server_child.ts PORT");
  Deno.exit(2);
}

const server = allowServer();
const handle = await server.serve({ transport: "http", host: "127.0.0.1", port });

// The parent holds our stdin open; its end (parent gone) stops the server.
void stdinClosed().then(() => handle.close());

await handle.finished;
await server.shutdown();
Deno.exit(0);
