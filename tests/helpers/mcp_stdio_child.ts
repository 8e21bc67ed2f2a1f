/**
 * A STDIO MCP plugin server hosting the test plugins: what the STDIO client tests start as a
 * child (`deno run --no-prompt tests/helpers/mcp_stdio_child.ts`). Needs no permission.
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { testPlugins } from "./mcp_plugins.ts";

const server = new ExternalPluginServer({ plugins: testPlugins() });
const handle = await server.serve({ transport: "stdio" });
await handle.finished;
await server.close();
