/**
 * A Unix socket plugin server with the `/metrics` listener on a free loopback port, for the
 * permission test: `metrics_server_child.ts PATH`. Prints `READY unix PATH` and then
 * `METRICS host:port`, stops on SIGTERM; a start-up failure is printed on stderr and exits 1.
 *
 * @module
 */
import { Plugin, type PluginResult } from "../../mod.ts";
import { ExternalPluginServer } from "../../server.ts";

/** Allows everything. */
class Allow extends Plugin {
  tool_pre_invoke(): PluginResult {
    return {};
  }
}

const [path] = Deno.args;
const server = new ExternalPluginServer({
  plugins: [new Allow({ name: "allow", kind: "inline", hooks: ["tool_pre_invoke"] })],
});
try {
  const handle = await server.serve({ transport: "unix", path, metricsPort: 0 });
  console.log(`METRICS ${handle.metricsAddress}`);
  await handle.finished;
  await server.close();
} catch (error) {
  await server.shutdown();
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
