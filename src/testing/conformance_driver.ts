/**
 * Raw access to any CPEX plugin server for the conformance runner: the three wire operations
 * (`get_plugin_configs`, `get_plugin_config`, `invoke_hook`) over each transport, answering
 * what the server sent (no decoding into a `PluginResult`, no fast paths, no retries), so a
 * check sees a dropped field or an unexpected shape. Reuses the transports' lowest layers: the
 * protobuf codec and gRPC method table, the Unix framing, and the MCP connectors.
 *
 * @module
 */
import { loadGrpcJs } from "../external/grpc/grpc_js.ts";
import { PLUGIN_SERVICE, type UnaryMethod } from "../external/grpc/service.ts";
import { channelCredentials } from "../external/grpc/tls.ts";
import { DEFAULT_CHANNEL_OPTIONS } from "../external/grpc/client.ts";
import {
  type CpexMessages,
  decodeMessage,
  encodeMessage,
  type InvokeHookResponse,
} from "../external/proto/codec.ts";
import {
  fromStruct,
  globalContextFromProto,
  pluginContextToProto,
  pluginErrorFromProto,
  toStruct,
} from "../external/proto/struct.ts";
import { encodeFrame, FrameReader } from "../external/unix/frame.ts";
import { HttpConnector } from "../external/mcp/http_connector.ts";
import { resolveStdioCommand, StdioConnector } from "../external/mcp/stdio_connector.ts";
import type { McpConnector, McpSession } from "../external/mcp/session.ts";
import { GET_PLUGIN_CONFIG, GET_PLUGIN_CONFIGS, INVOKE_HOOK } from "../external/mcp/tool_names.ts";
import { isRecord } from "../external/is_record.ts";
import type { GlobalContext, TlsConfig } from "../types.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";

/**
 * The transports the conformance runner speaks: gRPC (TCP or Unix socket), the raw Unix
 * socket, MCP Streamable HTTP and MCP STDIO.
 *
 * @example
 * ```ts
 * import type { ConformanceTransport } from "@cpex/core/testing";
 * const t: ConformanceTransport = "mcp-http";
 * ```
 */
export type ConformanceTransport = "grpc" | "unix" | "mcp-http" | "mcp-stdio";

/** Every {@linkcode ConformanceTransport}. */
export const CONFORMANCE_TRANSPORTS: readonly ConformanceTransport[] = [
  "grpc",
  "unix",
  "mcp-http",
  "mcp-stdio",
];

/**
 * Where and how to reach the server under test.
 *
 * @example
 * ```ts
 * import type { ConformanceTarget } from "@cpex/core/testing";
 * const t: ConformanceTarget = { transport: "grpc", target: "127.0.0.1:50051" };
 * ```
 */
export interface ConformanceTarget {
  /** The transport. */
  transport: ConformanceTransport;
  /**
   * `grpc`: `host:port`, or `unix:/path` / an absolute socket path; `unix`: the socket path;
   * `mcp-http`: the endpoint URL (e.g. `http://localhost:8000/mcp`); `mcp-stdio`: the command
   * line (split on spaces) or an argument vector, or a script path (`.py` runs with `python3`).
   */
  target: string | readonly string[];
  /** Client TLS (`grpc` over TCP, `mcp-http` with an `https` URL). */
  tls?: TlsConfig | null;
  /** `mcp-stdio`: extra environment of the child. */
  env?: Record<string, string>;
  /** `mcp-stdio`: working directory of the child. */
  cwd?: string;
}

/** One `invoke_hook` request, as every transport carries it. */
export interface WireInvoke {
  /** The hook. */
  hook_type: string;
  /** The plugin. */
  plugin_name: string;
  /** The payload (a JSON object). */
  payload: Record<string, unknown>;
  /** The plugin context: local state and metadata, and the global context. */
  context: {
    state: Record<string, unknown>;
    metadata: Record<string, unknown>;
    global_context: GlobalContext;
  };
}

/**
 * A server's answer to `invoke_hook`, as sent: `result` and `error` as JSON objects (or
 * absent), the returned context with its `state`, `metadata` and `global_context`.
 */
export interface WireReply {
  /** The plugin result. */
  result?: Record<string, unknown> | null;
  /** The error object. */
  error?: Record<string, unknown> | null;
  /** The context the server sent back. */
  context?: Record<string, unknown> | null;
}

/**
 * Raw access to one plugin server (see the module doc).
 *
 * @example
 * ```ts
 * import { openConformanceDriver } from "@cpex/core/testing";
 * const driver = await openConformanceDriver({ transport: "unix", target: "/tmp/p.sock" });
 * try {
 *   console.log(await driver.listConfigs(AbortSignal.timeout(5000)));
 * } finally {
 *   await driver.close();
 * }
 * ```
 */
export interface ConformanceDriver {
  /** What it reaches, for messages. */
  readonly target: string;
  /** `get_plugin_configs`. */
  listConfigs(signal: AbortSignal): Promise<Record<string, unknown>[]>;
  /** `get_plugin_config`; null when the server does not know the name. */
  getConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null>;
  /** `invoke_hook`; transport failures reject. */
  invoke(request: WireInvoke, signal: AbortSignal): Promise<WireReply>;
  /** Releases everything (idempotent). */
  close(): Promise<void>;
}

/**
 * Opens a {@linkcode ConformanceDriver} for `target`.
 *
 * @example
 * ```ts
 * import { openConformanceDriver } from "@cpex/core/testing";
 * const driver = await openConformanceDriver({
 *   transport: "mcp-http",
 *   target: "http://localhost:8000/mcp",
 * });
 * await driver.close();
 * ```
 */
export async function openConformanceDriver(
  target: ConformanceTarget,
): Promise<ConformanceDriver> {
  switch (target.transport) {
    case "grpc":
      return await GrpcDriver.open(single(target), target.tls ?? null);
    case "unix":
      return new UnixDriver(single(target));
    case "mcp-http": {
      const url = single(target);
      return await McpDriver.open(new HttpConnector({ url, tls: target.tls ?? null }));
    }
    case "mcp-stdio": {
      const argv = typeof target.target === "string"
        ? target.target.trim().split(/\s+/)
        : [...target.target];
      const block = argv.length === 1
        ? { proto: "STDIO" as const, script: argv[0], cwd: target.cwd ?? null }
        : { proto: "STDIO" as const, cmd: argv, cwd: target.cwd ?? null };
      const { command } = resolveStdioCommand(block);
      if (!command) throw new Error("mcp-stdio needs a command");
      return await McpDriver.open(new StdioConnector({ ...block, env: target.env ?? null }));
    }
    default:
      throw new Error(`unknown transport '${(target as { transport: string }).transport}'`);
  }
}

function single(target: ConformanceTarget): string {
  const t = target.target;
  if (typeof t === "string") return t;
  if (t.length !== 1) throw new Error(`${target.transport} needs one target, got ${t.length}`);
  return t[0];
}

/** The context as a protobuf message (the gRPC and Unix transports). */
function protoRequest(request: WireInvoke): CpexMessages["InvokeHookRequest"] {
  return {
    hook_type: request.hook_type,
    plugin_name: request.plugin_name,
    payload: toStruct(request.payload),
    context: pluginContextToProto(request.context),
  };
}

/** A decoded `InvokeHookResponse` as JSON (an absent part stays absent). */
function protoReply(response: InvokeHookResponse): WireReply {
  const reply: WireReply = {};
  if (response.result) reply.result = fromStruct(response.result);
  if (response.error?.message) reply.error = { ...pluginErrorFromProto(response.error) };
  const c = response.context;
  if (c) {
    reply.context = {
      state: fromStruct(c.state),
      metadata: fromStruct(c.metadata),
      global_context: globalContextFromProto(c.global_context),
    };
  }
  return reply;
}

// ---------------------------------------------------------------------------------------------
// gRPC

/** `InvokeHook` decoded in full (the client's method recognises default allows unread). */
const INVOKE_RAW: UnaryMethod<
  CpexMessages["InvokeHookRequest"],
  CpexMessages["InvokeHookResponse"]
> = {
  ...PLUGIN_SERVICE.InvokeHook,
  responseDeserialize: (bytes) => decodeMessage("InvokeHookResponse", bytes),
};

class GrpcDriver implements ConformanceDriver {
  readonly target: string;
  readonly #client: GrpcJsModule.Client;
  readonly #grpc: typeof GrpcJsModule;

  private constructor(target: string, client: GrpcJsModule.Client, grpc: typeof GrpcJsModule) {
    this.target = target;
    this.#client = client;
    this.#grpc = grpc;
  }

  static async open(target: string, tls: TlsConfig | null): Promise<GrpcDriver> {
    const grpc = await loadGrpcJs();
    let channelTarget = target;
    let host = "";
    if (target.startsWith("/")) channelTarget = `unix://${target}`;
    else if (target.startsWith("unix:")) {
      channelTarget = `unix://${target.replace(/^unix:(\/\/)?/, "")}`;
    } else {
      const colon = target.lastIndexOf(":");
      if (colon <= 0) throw new Error(`gRPC target must be host:port or a socket path: ${target}`);
      host = target.slice(0, colon).replace(/^\[|\]$/g, "");
    }
    const setup = await channelCredentials(grpc, host, host ? tls : null);
    const client = new grpc.Client(channelTarget, setup.credentials, {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...setup.options,
    });
    return new GrpcDriver(channelTarget, client, grpc);
  }

  async listConfigs(signal: AbortSignal): Promise<Record<string, unknown>[]> {
    const response = await this.#unary(PLUGIN_SERVICE.GetPluginConfigs, {}, signal);
    return (response.configs ?? []).map((c) => fromStruct(c));
  }

  async getConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const response = await this.#unary(PLUGIN_SERVICE.GetPluginConfig, { name }, signal);
    return response.found && response.config ? fromStruct(response.config) : null;
  }

  async invoke(request: WireInvoke, signal: AbortSignal): Promise<WireReply> {
    return protoReply(await this.#unary(INVOKE_RAW, protoRequest(request), signal));
  }

  close(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }

  #unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, signal: AbortSignal): Promise<Res> {
    signal.throwIfAborted();
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new this.#grpc.Metadata(),
        {},
        (error, value) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) reject(signal.reason);
          else if (error) {
            const name = this.#grpc.status[error.code] ?? String(error.code);
            reject(new Error(`gRPC ${method.originalName} failed: ${name}: ${error.details}`));
          } else if (value === undefined) reject(new Error("empty gRPC response"));
          else resolve(value);
        },
      );
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Raw Unix socket

interface UnixSocket {
  conn: Deno.UnixConn;
  reader: FrameReader;
}

/** One socket per request in flight (the reference serves each connection sequentially). */
class UnixDriver implements ConformanceDriver {
  readonly target: string;
  readonly #idle: UnixSocket[] = [];
  readonly #open = new Set<UnixSocket>();

  constructor(path: string) {
    this.target = path;
  }

  async listConfigs(signal: AbortSignal): Promise<Record<string, unknown>[]> {
    const reply = await this.#call(new Uint8Array(0), signal);
    const response = decodeMessage("GetPluginConfigsResponse", reply);
    return (response.configs ?? []).map((c) => fromStruct(c));
  }

  async getConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const reply = await this.#call(encodeMessage("GetPluginConfigRequest", { name }), signal);
    if (reply.length === 0) return null;
    const response = decodeMessage("GetPluginConfigResponse", reply);
    return response.found && response.config ? fromStruct(response.config) : null;
  }

  async invoke(request: WireInvoke, signal: AbortSignal): Promise<WireReply> {
    const reply = await this.#call(
      encodeMessage("InvokeHookRequest", protoRequest(request)),
      signal,
    );
    if (reply.length === 0) throw new Error("empty reply frame");
    return protoReply(decodeMessage("InvokeHookResponse", reply));
  }

  close(): Promise<void> {
    for (const s of this.#open) s.conn.close();
    this.#open.clear();
    this.#idle.length = 0;
    return Promise.resolve();
  }

  async #call(message: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    signal.throwIfAborted();
    let socket = this.#idle.pop();
    if (!socket) {
      const conn = await Deno.connect({ transport: "unix", path: this.target });
      socket = { conn, reader: new FrameReader(conn) };
      this.#open.add(socket);
    }
    const s = socket;
    const onAbort = () => this.#drop(s);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const frame = encodeFrame(message);
      let written = 0;
      while (written < frame.length) written += await s.conn.write(frame.subarray(written));
      const reply = await s.reader.read();
      if (reply === null) throw new Error("the server closed the connection without a reply");
      this.#idle.push(s);
      return reply;
    } catch (error) {
      this.#drop(s);
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #drop(socket: UnixSocket): void {
    if (!this.#open.delete(socket)) return;
    try {
      socket.conn.close();
    } catch {
      // Already closed.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// MCP (Streamable HTTP and STDIO)

interface ToolResult {
  content?: { type: string; text?: string }[];
  isError?: boolean;
  structuredContent?: unknown;
}

class McpDriver implements ConformanceDriver {
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
