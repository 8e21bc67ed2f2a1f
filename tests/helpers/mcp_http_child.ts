/**
 * An MCP HTTP plugin server in a child process for the resource tests (heap, descriptors,
 * connections): serves the test plugins plus `Slow` on 127.0.0.1, port 0, with the serve
 * options given as JSON in the first argument; prints `PORT n`, then `READY`. On SIGUSR1 it
 * collects garbage (when run with `--expose-gc`) and prints `MEM heapUsed rss`.
 *
 * Usage: `deno run --allow-net=127.0.0.1 [--v8-flags=--expose-gc,...] mcp_http_child.ts '{...}'`
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { type McpHttpServeOptions, serveMcpHttp } from "../../src/external/mcp/http_server.ts";
import { testPluginsWithSlow } from "./mcp_plugins.ts";

const options = JSON.parse(Deno.args[0] ?? "{}") as McpHttpServeOptions;
const server = new ExternalPluginServer({ plugins: testPluginsWithSlow() });
const handle = await serveMcpHttp(server, {
  host: "127.0.0.1",
  port: 0,
  printReady: false,
  ...options,
});
Deno.addSignalListener("SIGUSR1", () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) gc?.();
  const { heapUsed, rss } = Deno.memoryUsage();
  console.log(`MEM ${heapUsed} ${rss}`);
});
console.log(`PORT ${handle.address.split(":").pop()}`);
console.log("READY");
await handle.finished;
await server.shutdown();
