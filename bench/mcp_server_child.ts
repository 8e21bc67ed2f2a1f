/**
 * Child process of `mcp_ratio.ts`: an {@linkcode ExternalPluginServer} hosting one no-op
 * `allow` plugin (`tool_pre_invoke`, SEQUENTIAL) over MCP Streamable HTTP on `127.0.0.1:PORT`
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
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: mcp_server_child.ts PORT");
  Deno.exit(2);
}

const server = new ExternalPluginServer({
  plugins: [new Allow({ name: "allow", kind: "bench", hooks: ["tool_pre_invoke"] })],
});
const handle = await server.serve({ transport: "http", host: "127.0.0.1", port });

// The parent holds our stdin open; its end (parent gone) stops the server.
void (async () => {
  try {
    for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  } catch {
    // stdin unavailable: rely on signals.
  }
  await handle.close();
})();

await handle.finished;
await server.shutdown();
Deno.exit(0);
