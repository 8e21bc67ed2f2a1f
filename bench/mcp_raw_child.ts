/**
 * Child process of `mcp_ratio.ts`: the raw MCP baseline, with no framework code. An MCP SDK
 * `McpServer` with one tool, `echo`, whose input schema has the same four fields as
 * `invoke_hook` (`hook_type`, `plugin_name`, `payload`, `context`) and which answers with one
 * text item holding `{plugin_name, result: {continue_processing: true, modified_payload:
 * <payload>}}` as JSON. Served as shared/spec/transport-baselines.md's `mcp_stateful_json` row:
 * Streamable HTTP on `Deno.serve` with the SDK's web-standard transport, stateful sessions (one
 * `McpServer` + transport per session), JSON responses (no SSE).
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:PORT bench/mcp_raw_child.ts PORT
 * ```
 *
 * Prints `READY` once listening; stops on SIGTERM/SIGINT or when stdin closes.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { printReady, stdinClosed } from "./children.ts";

const port = Number(Deno.args[0]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: mcp_raw_child.ts PORT");
  Deno.exit(2);
}

const objectArg = z.record(z.string(), z.unknown());

function echoServer(): McpServer {
  const mcp = new McpServer({ name: "raw-echo", version: "0.0.0" }, {
    capabilities: { tools: {} },
  });
  mcp.registerTool("echo", {
    inputSchema: {
      hook_type: z.string(),
      plugin_name: z.string(),
      payload: objectArg,
      context: objectArg,
    },
  }, ({ plugin_name, payload }) => ({
    content: [{
      type: "text",
      text: JSON.stringify({
        plugin_name,
        result: { continue_processing: true, modified_payload: payload },
      }),
    }],
  }));
  return mcp;
}

const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();

async function handle(req: Request): Promise<Response> {
  const id = req.headers.get("mcp-session-id");
  if (id) {
    const transport = sessions.get(id);
    if (!transport) return new Response("unknown session", { status: 404 });
    return await transport.handleRequest(req);
  }
  const body = await req.json();
  if (req.method !== "POST" || !isInitializeRequest(body)) {
    return new Response("initialize first", { status: 400 });
  }
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => crypto.randomUUID(),
    enableJsonResponse: true,
    onsessioninitialized: (sid) => void sessions.set(sid, transport),
  });
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId);
  };
  await echoServer().connect(transport);
  return await transport.handleRequest(req, { parsedBody: body });
}

const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
await printReady();

const stop = async () => {
  for (const t of sessions.values()) await t.close().catch(() => {});
  await server.shutdown();
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void stop());
}
void stdinClosed().then(stop); // the parent is gone
await server.finished;
Deno.exit(0);
