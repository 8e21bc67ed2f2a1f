/**
 * Runs one MCP server or client start-up under whatever permissions the parent test grants,
 * so the permission tests can leave out one flag at a time. Prints `OK` (and stops at once)
 * or `name: message` of the failure on stderr and exits 1.
 *
 * Usage: `mcp_perm_child.ts uds-server PATH | tls-server CERT KEY PORT |
 * http-client URL | stdio-client COMMAND`.
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { McpExternalPlugin } from "../../src/external/mcp/client.ts";
import { serveMcpHttp } from "../../src/external/mcp/http_server.ts";

const [mode, a, b, c] = Deno.args;
try {
  if (mode === "uds-server" || mode === "tls-server") {
    const server = new ExternalPluginServer({ plugins: [] });
    const handle = mode === "uds-server"
      ? await serveMcpHttp(server, { uds: a, printReady: false, handleSignals: false })
      : await serveMcpHttp(server, {
        port: Number(c),
        tls: { certfile: a, keyfile: b, ssl_cert_reqs: 0 },
        printReady: false,
        handleSignals: false,
      });
    await handle.close();
    await server.shutdown();
  } else {
    const mcp = mode === "http-client"
      ? { proto: "STREAMABLEHTTP" as const, url: a }
      : { proto: "STDIO" as const, cmd: [a] };
    const plugin = new McpExternalPlugin({ name: "p", kind: "external", mcp });
    await plugin.initialize();
  }
  console.log("OK");
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  Deno.exit(1);
}
