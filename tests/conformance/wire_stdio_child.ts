/**
 * Our MCP STDIO plugin server hosting `wire_plugins.ts`: what a gateway starts as
 * `deno run --no-prompt tests/conformance/wire_stdio_child.ts` in the wire-level conformance
 * tests. Needs no permission; stops when stdin ends or on SIGTERM.
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { wirePlugins } from "./wire_plugins.ts";

const server = new ExternalPluginServer({ plugins: wirePlugins() });
const handle = await server.serve({ transport: "stdio" });
await handle.finished;
await server.close();
