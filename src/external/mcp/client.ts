/**
 * The MCP transport, gateway side: the plugin proxy the manager loads for `kind: external`
 * with an `mcp:` block (wire.md §2.1, §3.1). It connects (Streamable HTTP or a STDIO child),
 * fetches the plugin's remote config and merges it into the local entry, and sends every hook
 * call as the `invoke_hook` tool.
 *
 * What is specific to MCP lives here (sessions, tool calls, the JSON reply); connecting,
 * retries, error mapping and decoding are the core's ({@linkcode RemotePlugin}).
 *
 * Reconnects: a call that fails because the connection failed (HTTP 404 for a terminated
 * session, a refused connection after a server restart) reconnects up to
 * `reconnect_attempts` times, sleeping `reconnect_delay` seconds doubling (with jitter) in
 * between, and is retried once. A STDIO child that dies during a call fails that call with a
 * `PluginError` (retrying could crash it again); the next call starts a new child under the
 * same reconnect rules. Unlike the reference, each reconnect attempt is one connection try
 * (not a nested three-try loop with 1 s/2 s sleeps).
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { mcpClientTlsFromEnv } from "../../config/from_env.ts";
import { PluginError } from "../../errors.ts";
import type { HookRegistry } from "../../hooks/registry.ts";
import type { HookCallOptions, Plugin } from "../../plugin.ts";
import type { PluginContext } from "../../context.ts";
import type { McpClientConfig, PluginConfig, PluginConfigInput } from "../../types.ts";
import { dumpGlobalContext } from "../dump.ts";
import { preflight, type RequiredPermission } from "../permissions.ts";
import { RemoteCallError, RemotePlugin } from "../remote_plugin.ts";
import type {
  ConnectionPolicy,
  ContextUpdate,
  RemoteCall,
  RemoteConnection,
  RemoteReply,
} from "../remote_plugin.ts";
import { describe } from "../retry.ts";
import { HttpConnector, TOOL_CALL_TIMEOUT_MS } from "./http_connector.ts";
import { httpClientPermissions, runPermission } from "./permissions.ts";
import type { McpConnector, McpSession } from "./session.ts";
import { StdioConnector } from "./stdio_connector.ts";
import { GET_PLUGIN_CONFIG, INVOKE_HOOK } from "./tool_names.ts";
import { isRecord } from "../is_record.ts";

/**
 * The result check of `invoke_hook` calls: any JSON object (what `#reply` reads it checks
 * itself). The SDK's default (`CallToolResultSchema`, zod) rebuilds every content item, a
 * visible share of the gateway's CPU per call; a schema with `safeParse` is what the SDK's
 * zod-3 compatible path calls.
 */
const ANY_OBJECT_RESULT = {
  safeParse(data: unknown): { success: true; data: unknown } | { success: false; error: Error } {
    return isRecord(data)
      ? { success: true, data }
      : { success: false, error: new Error("tools/call result is not an object") };
  },
} as unknown as Parameters<McpSession["client"]["callTool"]>[1];

/** `promise`'s value, or null after `ms` (the timer is always cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A plugin hosted by an MCP plugin server (Streamable HTTP or STDIO).
 */
export class McpExternalPlugin extends RemotePlugin {
  /**
   * Creates the proxy from the gateway's plugin entry (its `mcp` block). Results are decoded
   * with `hookRegistry`: the loading manager's own (default: the shared one).
   */
  constructor(
    config: PluginConfig | PluginConfigInput,
    options: { hookRegistry?: HookRegistry } = {},
  ) {
    super(config, (parsed) => new McpConnection(parsed), options);
  }
}

/** One MCP session at a time to the plugin's server, replaced when it breaks. */
class McpConnection implements RemoteConnection {
  readonly #name: string;
  readonly #block: McpClientConfig;
  readonly #connector: McpConnector;
  readonly #permissions: RequiredPermission[];
  readonly policy: ConnectionPolicy;
  #session: McpSession | null = null;

  constructor(config: PluginConfig) {
    this.#name = config.name;
    const block = config.mcp;
    if (!block) throw this.#error(`Plugin ${this.#name} has no mcp section`);
    this.#block = block;
    if (block.proto === "STDIO") {
      const connector = new StdioConnector(block);
      this.#connector = connector;
      this.#permissions = [runPermission(connector.command)];
    } else if (block.proto === "STREAMABLEHTTP" && block.url) {
      const tls = block.uds ? null : block.tls ?? mcpClientTlsFromEnv();
      this.#connector = new HttpConnector({ url: block.url, uds: block.uds, tls });
      this.#permissions = httpClientPermissions(block.url, block.uds, tls);
    } else {
      throw this.#error(
        `Plugin ${this.#name}: MCP transport ${block.proto} is not supported (use STREAMABLEHTTP or STDIO)`,
      );
    }
    const target = this.#connector.target;
    this.policy = {
      // HTTP 3 tries sleeping 1 s then 2 s, STDIO 1 (wire.md §2.1).
      initial: { attempts: this.#connector.initialAttempts, delayMs: 1000 },
      initialFailure: (attempts, error) =>
        `External plugin '${this.#name}' connection failed after ${attempts} attempt${
          attempts === 1 ? "" : "s"
        }: ${target} is not reachable. Please ensure the MCP server is running. ` +
        `(${describe(error)})`,
      configTimeoutMs: TOOL_CALL_TIMEOUT_MS,
      remoteConfig: "merge",
      // Unlike the reference, each reconnect try is one connection try (not a nested loop).
      reconnect: {
        attempts: Math.max(0, block.reconnect_attempts ?? 3),
        delayMs: (block.reconnect_delay ?? 0.1) * 1000,
      },
      sends: 2, // A call that failed on a broken connection is sent once more (wire.md §2.1).
      resendDelayMs: 0,
      invalidReply: "Received invalid response",
    };
  }

  get target(): string {
    return this.#connector.target;
  }

  get connected(): boolean {
    return this.#session !== null && !this.#session.dead;
  }

  prepare(): Promise<void> {
    preflight(`MCP plugin client for ${this.#name}`, this.#permissions);
    return Promise.resolve();
  }

  /** Opens a new session, dropping a broken one first. */
  async connect(): Promise<void> {
    const broken = this.#session;
    if (broken) await this.#retire(broken);
    this.#session = await this.#connector.connect();
  }

  async fetchConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    let result: CallToolResult;
    try {
      result = await this.#live().client.callTool(
        { name: GET_PLUGIN_CONFIG, arguments: { name } },
        undefined,
        { signal, timeout: TOOL_CALL_TIMEOUT_MS },
      ) as CallToolResult;
    } catch (error) {
      throw new RemoteCallError(
        `Failed to initialize external plugin ${this.#name}: ${describe(error)}`,
        { cause: error },
      );
    }
    const first = result.content?.find((c) => c.type === "text");
    let remote: unknown;
    try {
      remote = first && first.type === "text" ? JSON.parse(first.text) : null;
    } catch {
      remote = null;
    }
    return isRecord(remote) && Object.keys(remote).length > 0 ? remote : null;
  }

  /** Sends the hook call as `invoke_hook` and reads the answer (wire.md §1.6). */
  async invoke(call: RemoteCall, options: HookCallOptions): Promise<RemoteReply> {
    const session = this.#live();
    let result: CallToolResult;
    try {
      const params = {
        name: INVOKE_HOOK,
        arguments: {
          hook_type: call.hookName,
          plugin_name: call.pluginName,
          payload: call.payload,
          context: contextArgument(call.context),
        },
        // W3C trace context in the request's _meta (issue 15); the reference ignores it.
        ...(call.traceContext === null ? {} : { _meta: { ...call.traceContext } }),
      };
      result = session.callTool
        ? await session.callTool(params, options.signal)
        : await session.client.callTool(params, ANY_OBJECT_RESULT, {
          signal: options.signal,
          timeout: TOOL_CALL_TIMEOUT_MS,
        }) as CallToolResult;
    } catch (error) {
      if (options.signal.aborted || !this.#connector.isConnectionError(error)) throw error;
      if (this.#block.proto === "STDIO") {
        // The child died during this call: fail it (retrying could crash it again); the next
        // call starts a new child.
        const reason = (session.exited ? await within(session.exited, 1000) : null) ??
          session.deathReason ?? describe(error);
        void this.#retire(session);
        throw new RemoteCallError(`MCP plugin server of ${this.#name} failed: ${reason}`, {
          cause: error,
        });
      }
      // The request never reached a live session (HTTP 404 for a terminated one, a refused
      // connection): reconnect and send again.
      throw new RemoteCallError(describe(error), { retryable: true, cause: error });
    }
    return this.#reply(result);
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.#connector.probe(this.#session, signal);
  }

  /** Ends the session on the server (HTTP `DELETE`) or stops the child, then frees the pool. */
  async close(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    await session?.close(true);
    this.#connector.close();
  }

  #live(): McpSession {
    if (!this.#session) throw new RemoteCallError(`Plugin ${this.#name} is not connected`);
    return this.#session;
  }

  /** The first text item holding a result or an error. */
  #reply(result: CallToolResult): RemoteReply {
    for (const item of result.content ?? []) {
      if (item.type !== "text") continue;
      let data: unknown;
      try {
        data = JSON.parse(item.text);
      } catch {
        throw new PluginError({
          message: `Error trying to decode json: ${item.text}`,
          plugin_name: this.#name,
          code: "JSON_DECODE_ERROR",
        });
      }
      if (!isRecord(data)) continue;
      const context = isRecord(data.context) ? contextUpdate(data.context) : null;
      if (isRecord(data.result)) return { result: data.result, context };
      if (isRecord(data.error)) return { error: data.error, context };
    }
    throw new RemoteCallError(`Received invalid response. Result = ${JSON.stringify(result)}`);
  }

  /** Drops a broken session (without ending it on the server: it is gone). */
  async #retire(session: McpSession): Promise<void> {
    if (this.#session === session) this.#session = null;
    await session.close(false).catch(() => {});
  }

  #error(text: string): PluginError {
    return new PluginError({ message: text, plugin_name: this.#name });
  }
}

/** The context as the reference sends it: null-valued global fields left out. */
function contextArgument(context: PluginContext): Record<string, unknown> {
  const global: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(dumpGlobalContext(context.global_context))) {
    if (value !== null && value !== undefined) global[key] = value;
  }
  return { state: context.state, global_context: global, metadata: context.metadata };
}

/** A returned context: local state and metadata, and the global state, where present. */
function contextUpdate(returned: Record<string, unknown>): ContextUpdate {
  const global = returned.global_context;
  return {
    state: isRecord(returned.state) ? returned.state : undefined,
    metadata: isRecord(returned.metadata) ? returned.metadata : undefined,
    globalState: isRecord(global) && isRecord(global.state) ? global.state : undefined,
  };
}

/**
 * Creates the proxy for a `kind: external` plugin with an `mcp:` block (the loader's factory
 * for this transport).
 */
export function createMcpPlugin(
  config: PluginConfig,
  context: { hookRegistry: HookRegistry },
): Plugin {
  return new McpExternalPlugin(config, context);
}
