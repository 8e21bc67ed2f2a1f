/**
 * A STDIO MCP plugin server hosting the conformance probe (and a plain allow plugin): what
 * `tests/conformance_command_test.ts` hands to `cpex conformance --transport mcp-stdio`
 * (`deno run --no-prompt tests/helpers/conformance_stdio_child.ts`). Needs no permission.
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { ConformanceProbe } from "../../testing.ts";
import { PlainAllow } from "./conformance_servers.ts";

const server = new ExternalPluginServer({ plugins: [new ConformanceProbe(), new PlainAllow()] });
const handle = await server.serve({ transport: "stdio" });
await handle.finished;
await server.close();
