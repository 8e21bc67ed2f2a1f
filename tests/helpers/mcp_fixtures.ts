/**
 * MCP test fixtures: our plugin server served over Streamable HTTP in this process, gateway
 * managers with `mcp:` plugins, and raw MCP requests for the bad-input tests. Nothing of the
 * client, the server or the manager is mocked.
 *
 * @module
 */
import { type Plugin, type PluginConfigInput, PluginManager } from "../../mod.ts";
import { ExternalPluginServer } from "../../server.ts";
import {
  type McpHttpServeOptions,
  type McpHttpServerHandle,
  serveMcpHttp,
} from "../../src/external/mcp/http_server.ts";
import { testPlugins } from "./mcp_plugins.ts";

/** The test plugin server's module, for STDIO children. */
export const STDIO_CHILD = new URL("./mcp_stdio_child.ts", import.meta.url).pathname;

/** A plugin server served over HTTP in this process. */
export interface HttpFixture {
  /** The server (its plugins stay up across `restart()`). */
  readonly server: ExternalPluginServer;
  /** The current transport handle. */
  handle: McpHttpServerHandle;
  /** The bound port (0 over a Unix socket). */
  readonly port: number;
  /** `http://localhost:PORT/mcp` (or `https://` with TLS). */
  readonly url: string;
  /** Stops listening and listens again on the same port (sessions are lost). */
  restart(): Promise<void>;
  /** Stops everything. */
  close(): Promise<void>;
}

/**
 * Serves `plugins` (default: the test plugin set) on a free port of 127.0.0.1.
 *
 * @example
 * ```ts
 * const f = await startHttpFixture();
 * await f.close();
 * ```
 */
export async function startHttpFixture(
  options: McpHttpServeOptions = {},
  plugins: Plugin[] = testPlugins(),
): Promise<HttpFixture> {
  const server = new ExternalPluginServer({ plugins });
  const serveOptions: McpHttpServeOptions = {
    host: "127.0.0.1",
    port: 0,
    printReady: false,
    handleSignals: false,
    ...options,
  };
  let handle = await serveMcpHttp(server, serveOptions);
  const port = serveOptions.uds ? 0 : Number(handle.address.split(":").pop());
  const scheme = serveOptions.tls ? "https" : "http";
  const fixture: HttpFixture = {
    server,
    handle,
    port,
    url: serveOptions.uds ? "http://localhost/mcp" : `${scheme}://localhost:${port}/mcp`,
    async restart() {
      await handle.close();
      handle = await serveMcpHttp(server, { ...serveOptions, port: port || undefined });
      fixture.handle = handle;
    },
    async close() {
      await handle.close();
      await server.shutdown();
    },
  };
  return fixture;
}

/**
 * A gateway manager with the given plugin entries, initialized.
 *
 * @example
 * ```ts
 * const m = await gateway([]);
 * await m.shutdown();
 * ```
 */
export async function gateway(plugins: PluginConfigInput[]): Promise<PluginManager> {
  const manager = new PluginManager({ plugins } as never);
  await manager.initialize();
  return manager;
}

/**
 * An external plugin entry reaching `name` over Streamable HTTP.
 *
 * @example
 * ```ts
 * const entry = httpEntry("Allow", "http://localhost:8000/mcp");
 * ```
 */
export function httpEntry(
  name: string,
  url: string,
  extra: Record<string, unknown> = {},
  mcp: Record<string, unknown> = {},
): PluginConfigInput {
  return {
    name,
    kind: "external",
    ...extra,
    mcp: { proto: "STREAMABLEHTTP", url, reconnect_delay: 0.05, ...mcp },
  } as PluginConfigInput;
}

/**
 * An external plugin entry reaching `name` in a STDIO child running the test plugin server.
 *
 * @example
 * ```ts
 * const entry = stdioEntry("Allow");
 * ```
 */
export function stdioEntry(name: string, extra: Record<string, unknown> = {}): PluginConfigInput {
  return {
    name,
    kind: "external",
    ...extra,
    mcp: {
      proto: "STDIO",
      cmd: [Deno.execPath(), "run", "--no-prompt", STDIO_CHILD],
      reconnect_delay: 0.05,
    },
  } as PluginConfigInput;
}

/** MCP request headers (plus the session, when given). */
export function mcpHeaders(session?: string): Record<string, string> {
  const h: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  if (session) {
    h["mcp-session-id"] = session;
    h["mcp-protocol-version"] = "2025-11-25";
  }
  return h;
}

/** The `initialize` request the Python gateway sends. */
export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "mcp", version: "0.1.0" },
  },
};

/**
 * Opens a raw MCP session (initialize + initialized) and returns its id.
 *
 * @example
 * ```ts
 * const id = await openSession("http://localhost:8000/mcp");
 * ```
 */
export async function openSession(url: string): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: mcpHeaders(),
    body: JSON.stringify(INITIALIZE),
  });
  await res.body?.cancel();
  const id = res.headers.get("mcp-session-id");
  if (!id) throw new Error(`initialize failed: ${res.status}`);
  const ack = await fetch(url, {
    method: "POST",
    headers: mcpHeaders(id),
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await ack.body?.cancel();
  return id;
}

/**
 * POSTs one JSON-RPC message in a session; returns status and parsed body (null when empty).
 *
 * @example
 * ```ts
 * const { status } = await rpc("http://localhost:8000/mcp", "sid", { jsonrpc: "2.0", id: 1, method: "ping" });
 * ```
 */
export async function rpc(
  url: string,
  session: string | undefined,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const res = await fetch(url, {
    method: "POST",
    headers: mcpHeaders(session),
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** A tool call request. */
export function toolCall(id: number, name: string, args: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } };
}
