/**
 * Child process of `unix_ratio.ts`: an {@linkcode ExternalPluginServer} hosting one no-op
 * `allow` plugin (`tool_pre_invoke`, SEQUENTIAL) on the Unix socket given as the first
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
import { ExternalPluginServer, Plugin, type PluginResult } from "../mod.ts";

/** Allows every tool call and changes nothing. */
export class Allow extends Plugin {
  /** Allows the call. */
  // deno-lint-ignore require-await
  async tool_pre_invoke(): Promise<PluginResult> {
    return {};
  }
}

const path = Deno.args[0];
if (!path) {
  console.error("usage: unix_server_child.ts SOCKET_PATH");
  Deno.exit(2);
}

const server = new ExternalPluginServer({
  plugins: [new Allow({ name: "allow", kind: "bench", hooks: ["tool_pre_invoke"] })],
});
const handle = await server.serve({ transport: "unix", path });

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
