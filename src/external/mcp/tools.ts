/**
 * The MCP face of an {@linkcode ExternalPluginServer}: an `McpServer` from the MCP SDK with the
 * three tools of the reference (`get_plugin_configs`, `get_plugin_config`, `invoke_hook`),
 * shaped as wire.md §2.3 says: the answer's JSON is the first text item, `get_plugin_configs`
 * returns one text item per plugin plus `structuredContent`, and only it declares an output
 * schema. Shared by the Streamable HTTP and STDIO servers.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { ExternalPluginServer } from "../server.ts";
import { readTraceCarrier } from "../../observability/trace_context.ts";
import type { ExactNumbers } from "./exact_numbers.ts";
import { GET_PLUGIN_CONFIG, GET_PLUGIN_CONFIGS, INVOKE_HOOK } from "./tool_names.ts";

/** The server name the reference announces. */
export const MCP_SERVER_NAME = "MCP Plugin Server";
/** The instructions the reference announces. */
export const MCP_SERVER_INSTRUCTIONS = "External plugin server for ContextForge";
/** The version we announce in `serverInfo`. */
export const MCP_SERVER_VERSION = "0.1.0";

const objectArg = z.record(z.string(), z.unknown());

interface TextResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
}

function text(value: unknown): { type: "text"; text: string } {
  return { type: "text", text: JSON.stringify(value) };
}

/**
 * Builds an `McpServer` whose tools answer from `server` (one per MCP session: an SDK server
 * serves one transport at a time). With `numbers` (filled by the transport as it reads), an
 * `invoke_hook` reply keeps the exact text of the numbers the plugin passed through (item 7).
 */
export function createMcpServer(
  server: ExternalPluginServer,
  numbers?: ExactNumbers,
): McpServer {
  const mcp = new McpServer(
    { name: MCP_SERVER_NAME, version: MCP_SERVER_VERSION },
    { capabilities: { tools: {} }, instructions: MCP_SERVER_INSTRUCTIONS },
  );
  mcp.registerTool(GET_PLUGIN_CONFIGS, {
    description: "Return the configs of every plugin hosted by this server.",
    outputSchema: { result: z.array(objectArg) },
  }, (): TextResult => {
    const configs = server.getPluginConfigs();
    return { content: configs.map(text), structuredContent: { result: configs } };
  });
  mcp.registerTool(GET_PLUGIN_CONFIG, {
    description: "Return the config of one plugin (matched case-insensitively), or {}.",
    inputSchema: { name: z.string() },
  }, ({ name }): TextResult => ({ content: [text(server.getPluginConfig(name) ?? {})] }));
  mcp.registerTool(INVOKE_HOOK, {
    description: "Run one hook of one plugin with the given payload and context.",
    inputSchema: {
      hook_type: z.string(),
      plugin_name: z.string(),
      payload: objectArg,
      context: objectArg,
    },
  }, async ({ hook_type, plugin_name, payload, context }, extra): Promise<TextResult> => {
    // W3C trace context from the request's _meta (issue 15); absent from the reference's gateway.
    const meta = extra._meta as Record<string, unknown> | undefined;
    const traceContext = meta ? readTraceCarrier((key) => meta[key]) : null;
    const reply = await server.invokeHook(hook_type, plugin_name, payload, context, traceContext);
    if (!numbers) return { content: [text(reply)] };
    return {
      content: [{ type: "text", text: numbers.replyText(reply, extra.requestId, extra.sessionId) }],
    };
  });
  answerBadParamsWithInvalidParams(mcp);
  return mcp;
}

type RequestHandler = (request: unknown, extra: unknown) => Promise<unknown>;

/**
 * The SDK validates request params with zod and answers a failure as -32603 (Internal error)
 * with the raw issue dump; JSON-RPC says -32602 (Invalid params). Re-map it, naming the field.
 */
function answerBadParamsWithInvalidParams(mcp: McpServer): void {
  const handlers = (mcp.server as unknown as { _requestHandlers?: Map<string, RequestHandler> })
    ._requestHandlers;
  if (!(handlers instanceof Map)) return;
  for (const [method, handler] of handlers) {
    handlers.set(method, async (request, extra) => {
      try {
        return await handler(request, extra);
      } catch (error) {
        const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
        if (!(error instanceof McpError) && Array.isArray(issues) && issues.length) {
          const where = issues.map((i) =>
            `${i.path.map(String).join(".") || "params"}: ${i.message}`
          );
          throw new McpError(ErrorCode.InvalidParams, `Invalid params: ${where.join("; ")}`);
        }
        throw error;
      }
    });
  }
}
