/**
 * The MCP transport, gateway side: the plugin proxy the manager loads for `kind: external`
 * with an `mcp:` block (wire.md §2.1, §3.1). It connects (Streamable HTTP or a STDIO child),
 * fetches the plugin's remote config and merges it into the local entry, and sends every hook
 * call as the `invoke_hook` tool.
 *
 * Reconnects: a call that fails because the connection failed (HTTP 404 for a terminated
 * session, a refused connection after a server restart) reconnects up to
 * `reconnect_attempts` times, sleeping `reconnect_delay × attempt` seconds in between, and
 * is retried once. A STDIO child that dies during a call fails that call with a
 * `PluginError` (retrying could crash it again); the next call starts a new child under the
 * same reconnect rules. Unlike the reference, each reconnect attempt is one connection try
 * (not a nested three-try loop with 1 s/2 s sleeps).
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { PluginContext } from "../../context.ts";
import { mcpClientTlsFromEnv } from "../../config/from_env.ts";
import { errorRepr, PluginError } from "../../errors.ts";
import { getHookRegistry, type HookRegistry } from "../../hooks/registry.ts";
import { type HookCallOptions, Plugin } from "../../plugin.ts";
import type {
  McpClientConfig,
  PluginConfig,
  PluginConfigInput,
  PluginErrorModel,
  PluginResult,
} from "../../types.ts";
import { dumpGlobalContext } from "../dump.ts";
import { mergeRemoteConfig } from "../merge.ts";
import { preflight, type RequiredPermission } from "../permissions.ts";
import { HttpConnector } from "./http_connector.ts";
import { httpClientPermissions, runPermission } from "./permissions.ts";
import type { McpConnector, McpSession } from "./session.ts";
import { StdioConnector } from "./stdio_connector.ts";
import { GET_PLUGIN_CONFIG, INVOKE_HOOK } from "./tools.ts";

/** Per-request limit of one tool call (the reference's read timeout); the executor's is shorter. */
const TOOL_CALL_TIMEOUT_MS = 300_000;
/** Sleeps between the initial HTTP connection attempts (1 s, then 2 s). */
const INITIAL_BACKOFF_MS = [1000, 2000];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A plugin hosted by an MCP plugin server (Streamable HTTP or STDIO).
 */
export class McpExternalPlugin extends Plugin {
  readonly #local: PluginConfig;
  readonly #block: McpClientConfig;
  readonly #connector: McpConnector;
  readonly #permissions: RequiredPermission[];
  readonly #attempts: number;
  readonly #delayMs: number;
  #session: McpSession | null = null;
  #reconnecting: Promise<McpSession> | null = null;
  #closed = false;
  readonly #hooks: HookRegistry;

  /**
   * Creates the proxy from the gateway's plugin entry (its `mcp` block). Results are decoded
   * with `hookRegistry`: the loading manager's own (default: the shared one).
   */
  constructor(
    config: PluginConfig | PluginConfigInput,
    options: { hookRegistry?: HookRegistry } = {},
  ) {
    super(config);
    this.#hooks = options.hookRegistry ?? getHookRegistry();
    this.#local = this.config;
    const block = this.config.mcp;
    if (!block) throw this.#error(`Plugin ${this.name} has no mcp section`);
    this.#block = block;
    this.#attempts = Math.max(0, block.reconnect_attempts ?? 3);
    this.#delayMs = (block.reconnect_delay ?? 0.1) * 1000;
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
        `Plugin ${this.name}: MCP transport ${block.proto} is not supported (use STREAMABLEHTTP or STDIO)`,
      );
    }
  }

  /** The server this proxy talks to (a URL or a command line). */
  get target(): string {
    return this.#connector.target;
  }

  /** Connects, fetches the remote config and merges it into the local entry (wire.md §1.5). */
  override async initialize(): Promise<void> {
    preflight(`MCP plugin client for ${this.name}`, this.#permissions);
    this.#closed = false;
    try {
      const session = await this.#connectInitially();
      this.#session = session;
      const remote = await this.#fetchRemoteConfig(session);
      this.config = mergeRemoteConfig(this.#local, remote);
    } catch (error) {
      await this.shutdown();
      if (error instanceof PluginError) throw error;
      throw this.#error(
        `Failed to initialize external plugin ${this.name}: ${message(error)}`,
        error,
      );
    }
  }

  async #connectInitially(): Promise<McpSession> {
    const attempts = this.#connector.initialAttempts;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        return await this.#connector.connect();
      } catch (error) {
        lastError = error;
        if (attempt < attempts) await sleep(INITIAL_BACKOFF_MS[attempt - 1] ?? 2000);
      }
    }
    throw this.#error(
      `External plugin '${this.name}' connection failed after ${attempts} attempt${
        attempts === 1 ? "" : "s"
      }: ${this.#connector.target} is not reachable. Please ensure the MCP server is running. ` +
        `(${message(lastError)})`,
      lastError,
    );
  }

  async #fetchRemoteConfig(session: McpSession): Promise<Record<string, unknown>> {
    const result = await session.client.callTool(
      { name: GET_PLUGIN_CONFIG, arguments: { name: this.name } },
      undefined,
      { timeout: TOOL_CALL_TIMEOUT_MS },
    ) as CallToolResult;
    const first = result.content?.find((c) => c.type === "text");
    let remote: unknown;
    try {
      remote = first && first.type === "text" ? JSON.parse(first.text) : null;
    } catch {
      remote = null;
    }
    if (!isRecord(remote) || Object.keys(remote).length === 0) {
      throw this.#error(`Unable to retrieve configuration for external plugin ${this.name}`);
    }
    return remote;
  }

  /** Sends the hook call as `invoke_hook` and decodes the answer (wire.md §1.6). */
  override async handleHook(
    hookName: string,
    payload: unknown,
    context: PluginContext,
    options: HookCallOptions,
  ): Promise<PluginResult> {
    if (!this.#hooks.isRegistered(hookName)) {
      throw this.#error(`No result type registered for hook: ${hookName}`);
    }
    const args = {
      hook_type: hookName,
      plugin_name: this.name,
      payload,
      context: contextArgument(context),
    };
    const result = await this.#call(args, options.signal);
    return this.#decode(hookName, result, context);
  }

  async #call(args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
    if (this.#closed) throw this.#error("Plugin was shut down");
    let session = this.#session;
    if (!session || session.dead) session = await this.#reconnect(session);
    const send = (s: McpSession) =>
      s.client.callTool({ name: INVOKE_HOOK, arguments: args }, undefined, {
        signal,
        timeout: TOOL_CALL_TIMEOUT_MS,
      }) as Promise<CallToolResult>;
    try {
      return await send(session);
    } catch (error) {
      if (signal.aborted || this.#closed) throw error;
      if (!this.#connector.isConnectionError(error)) throw this.#wrap(error);
      if (this.#block.proto === "STDIO") {
        // The child died during this call: fail it, restart on the next call.
        const reason = (session.exited ? await within(session.exited, 1000) : null) ??
          session.deathReason ?? message(error);
        void this.#retire(session);
        throw this.#error(`MCP plugin server of ${this.name} failed: ${reason}`, error);
      }
      session = await this.#reconnect(session);
      try {
        return await send(session);
      } catch (retryError) {
        throw this.#wrap(retryError);
      }
    }
  }

  /** Drops a broken session (without ending it on the server: it is gone). */
  async #retire(session: McpSession): Promise<void> {
    if (this.#session === session) this.#session = null;
    await session.close(false).catch(() => {});
  }

  /** Replaces `broken` with a new session; concurrent callers share one reconnect. */
  #reconnect(broken: McpSession | null): Promise<McpSession> {
    const current = this.#session;
    if (current && current !== broken && !current.dead) return Promise.resolve(current);
    return this.#reconnecting ??= (async () => {
      if (broken) await this.#retire(broken);
      let lastError: unknown;
      for (let attempt = 1; attempt <= this.#attempts; attempt++) {
        if (this.#closed) break;
        try {
          const session = await this.#connector.connect();
          if (this.#closed) {
            await session.close(true);
            break;
          }
          this.#session = session;
          return session;
        } catch (error) {
          lastError = error;
          if (attempt < this.#attempts) await sleep(this.#delayMs * attempt);
        }
      }
      throw this.#error(
        `Failed to reconnect after ${this.#attempts} attempts: ${
          lastError === undefined ? "plugin shut down" : message(lastError)
        }`,
        lastError,
      );
    })().finally(() => this.#reconnecting = null);
  }

  #decode(hookName: string, result: CallToolResult, context: PluginContext): PluginResult {
    for (const item of result.content ?? []) {
      if (item.type !== "text") continue;
      let data: unknown;
      try {
        data = JSON.parse(item.text);
      } catch {
        throw new PluginError({
          message: `Error trying to decode json: ${item.text}`,
          plugin_name: this.name,
          code: "JSON_DECODE_ERROR",
        });
      }
      if (!isRecord(data)) continue;
      if (isRecord(data.context)) applyContext(context, data.context);
      if (isRecord(data.result)) {
        return this.#hooks.parseResult(hookName, data.result) as PluginResult;
      }
      if (isRecord(data.error)) throw new PluginError(this.#errorModel(data.error));
    }
    throw this.#error(`Received invalid response. Result = ${JSON.stringify(result)}`);
  }

  #errorModel(error: Record<string, unknown>): PluginErrorModel {
    const model: PluginErrorModel = {
      message: typeof error.message === "string" ? error.message : JSON.stringify(error),
      plugin_name: typeof error.plugin_name === "string" && error.plugin_name
        ? error.plugin_name
        : this.name,
    };
    if (typeof error.code === "string") model.code = error.code;
    if (isRecord(error.details)) model.details = error.details;
    if (typeof error.mcp_error_code === "number") model.mcp_error_code = error.mcp_error_code;
    return model;
  }

  /** Ends the session on the server (HTTP `DELETE`) or stops the child, then frees the pool. */
  override async shutdown(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = null;
    await this.#reconnecting?.catch(() => {});
    await session?.close(true);
    this.#connector.close();
  }

  #wrap(error: unknown): PluginError {
    if (error instanceof PluginError) return error;
    return this.#error(errorRepr(error), error);
  }

  #error(text: string, cause?: unknown): PluginError {
    return new PluginError({ message: text, plugin_name: this.name }, { cause });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The context as the reference sends it: null-valued global fields left out. */
function contextArgument(context: PluginContext): Record<string, unknown> {
  const global: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(dumpGlobalContext(context.global_context))) {
    if (value !== null && value !== undefined) global[key] = value;
  }
  return { state: context.state, global_context: global, metadata: context.metadata };
}

/** Applies a returned context in place: local state and metadata, and the global state. */
function applyContext(target: PluginContext, returned: Record<string, unknown>): void {
  if (isRecord(returned.state)) target.state = returned.state;
  if (isRecord(returned.metadata)) target.metadata = returned.metadata;
  const global = returned.global_context;
  if (isRecord(global) && isRecord(global.state)) target.global_context.state = global.state;
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
