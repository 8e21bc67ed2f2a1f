/**
 * The conformance driver of the MCP transports (Streamable HTTP and STDIO): the gateway's
 * connectors open the session; the three tools are called directly and their text items read
 * as sent.
 *
 * @module
 */
import { HttpConnector } from "../external/mcp/http_connector.ts";
import { resolveStdioCommand, StdioConnector } from "../external/mcp/stdio_connector.ts";
import type { McpConnector, McpSession } from "../external/mcp/session.ts";
import { GET_PLUGIN_CONFIG, GET_PLUGIN_CONFIGS, INVOKE_HOOK } from "../external/mcp/tool_names.ts";
import { isRecord } from "../external/is_record.ts";
import type {
  ConformanceDriver,
  ConformanceTarget,
  WireInvoke,
  WireReply,
} from "./conformance_driver.ts";

/** Opens a session over Streamable HTTP (`target` is the URL). */
export function openMcpHttpDriver(target: ConformanceTarget, url: string): Promise<McpDriver> {
  return McpDriver.open(new HttpConnector({ url, tls: target.tls ?? null }));
}

/** Starts the server as a child (`target` is the command line) and opens a session. */
export function openMcpStdioDriver(target: ConformanceTarget): Promise<McpDriver> {
  const argv = typeof target.target === "string"
    ? target.target.trim().split(/\s+/)
    : [...target.target];
  const block = argv.length === 1
    ? { proto: "STDIO" as const, script: argv[0], cwd: target.cwd ?? null }
    : { proto: "STDIO" as const, cmd: argv, cwd: target.cwd ?? null };
  if (!resolveStdioCommand(block).command) throw new Error("mcp-stdio needs a command");
  return McpDriver.open(new StdioConnector({ ...block, env: target.env ?? null }));
}

interface ToolResult {
  content?: { type: string; text?: string }[];
  isError?: boolean;
  structuredContent?: unknown;
}

/** The three tools called on one MCP session; answers read from their text items. */
export class McpDriver implements ConformanceDriver {
  readonly target: string;
  readonly #connector: McpConnector;
  readonly #session: McpSession;

  private constructor(connector: McpConnector, session: McpSession) {
    this.target = connector.target;
    this.#connector = connector;
    this.#session = session;
  }

  static async open(connector: McpConnector): Promise<McpDriver> {
    try {
      return new McpDriver(connector, await connector.connect());
    } catch (error) {
      connector.close();
      throw error;
    }
  }

  async listConfigs(signal: AbortSignal): Promise<Record<string, unknown>[]> {
    const result = await this.#tool(GET_PLUGIN_CONFIGS, {}, signal);
    const configs: Record<string, unknown>[] = [];
    for (const item of result.content ?? []) {
      if (item.type !== "text" || item.text === undefined) continue;
      const data = JSON.parse(item.text);
      // One text item per plugin (wire.md §2.3.3); a single list is accepted too.
      if (Array.isArray(data)) configs.push(...data.filter(isRecord));
      else if (isRecord(data)) configs.push(data);
    }
    return configs;
  }

  async getConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const result = await this.#tool(GET_PLUGIN_CONFIG, { name }, signal);
    const first = (result.content ?? []).find((c) => c.type === "text");
    if (!first || first.text === undefined) return null;
    const data = JSON.parse(first.text);
    return isRecord(data) && Object.keys(data).length > 0 ? data : null;
  }

  async invoke(request: WireInvoke, signal: AbortSignal): Promise<WireReply> {
    // As the reference's gateway sends it: null-valued global fields left out.
    const global: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(request.context.global_context)) {
      if (v !== null && v !== undefined) global[k] = v;
    }
    const result = await this.#tool(INVOKE_HOOK, {
      hook_type: request.hook_type,
      plugin_name: request.plugin_name,
      payload: request.payload,
      context: { ...request.context, global_context: global },
    }, signal);
    for (const item of result.content ?? []) {
      if (item.type !== "text" || item.text === undefined) continue;
      const data = JSON.parse(item.text);
      if (!isRecord(data)) continue;
      const context = isRecord(data.context) ? data.context : null;
      if (isRecord(data.result)) return { result: data.result, context };
      if (isRecord(data.error)) return { error: data.error, context };
    }
    throw new Error(`invoke_hook answered no result and no error: ${JSON.stringify(result)}`);
  }

  async close(): Promise<void> {
    await this.#session.close(true);
    this.#connector.close();
  }

  async #tool(
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ToolResult> {
    const result = await this.#session.client.callTool(
      { name, arguments: args },
      undefined,
      { signal, timeout: 60_000 },
    ) as ToolResult;
    if (result.isError) {
      const text = result.content?.find((c) => c.type === "text")?.text ?? "";
      throw new Error(`tool ${name} answered isError: ${text}`);
    }
    return result;
  }
}
