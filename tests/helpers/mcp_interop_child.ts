/**
 * Our MCP STDIO plugin server hosting the interop plugin set (`mcp_interop_plugins.ts`): what
 * the Python reference gateway starts as `mcp: {proto: STDIO, cmd: [deno, run, --no-prompt,
 * tests/helpers/mcp_interop_child.ts]}` in `tests/interop/mcp_server_interop_test.ts`. Needs no
 * permission; stops when stdin ends (the gateway closes it) or on SIGTERM.
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { interopPlugins } from "./mcp_interop_plugins.ts";

const server = new ExternalPluginServer({ plugins: interopPlugins() });
const handle = await server.serve({ transport: "stdio" });
await handle.finished;
await server.close();
