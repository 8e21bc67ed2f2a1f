/**
 * The MCP STDIO plugin server (wire.md §3.2): JSON-RPC lines on stdin, answers on stdout.
 * Nothing else is ever written to stdout (no `READY`; diagnostics go to stderr), because any
 * other line would break the gateway's parser.
 *
 * @module
 */
import type { ExternalPluginServer, ServeOptions, ServerHandle } from "../server.ts";
import { type BadLineHandler, LineTransport } from "./line_transport.ts";
import { createMcpServer } from "./tools.ts";
import { ExactNumbers } from "./exact_numbers.ts";
import { startLifecycle } from "../server_lifecycle.ts";

/**
 * Options of {@linkcode serveMcpStdio}.
 */
export interface McpStdioServeOptions {
  /** Stop on SIGINT/SIGTERM/SIGHUP (default true). */
  handleSignals?: boolean;
  /** Input stream (default `Deno.stdin.readable`). */
  input?: ReadableStream<Uint8Array>;
  /** Output stream (default `Deno.stdout.writable`). */
  output?: WritableStream<Uint8Array>;
  /**
   * Once stdin has ended, how long running calls may take to answer before the server stops
   * anyway (default 1 s, `DRAIN_TIMEOUT_MS`); a cancelled call is not waited for.
   */
  drainTimeoutMs?: number;
}

/** JSON-RPC answers to lines that are not messages (the request id is unknown: `null`). */
const answerBadLine: BadLineHandler = (kind, id, transport) => {
  const error = kind === "parse"
    ? { code: -32700, message: "Parse error: Invalid JSON" }
    : kind === "too_long"
    ? { code: -32600, message: "Invalid Request: message too long" }
    : { code: -32600, message: "Invalid Request: not a JSON-RPC 2.0 message" };
  void transport.sendRaw({ jsonrpc: "2.0", id, error });
};

/**
 * Serves `server` over stdin/stdout until stdin ends or the handle is closed. When stdin ends,
 * calls still running get {@linkcode McpStdioServeOptions.drainTimeoutMs} to answer, then the
 * server stops (its running handlers are aborted) and `finished` resolves: a plugin server
 * never outlives its gateway.
 */
export async function serveMcpStdio(
  server: ExternalPluginServer,
  options: McpStdioServeOptions = {},
): Promise<ServerHandle> {
  await server.initialize();
  const numbers = new ExactNumbers();
  const transport = new LineTransport(
    options.input ?? Deno.stdin.readable,
    options.output ?? Deno.stdout.writable,
    { onBadLine: answerBadLine, numbers, drainTimeoutMs: options.drainTimeoutMs },
  );
  const mcp = createMcpServer(server, numbers);
  let closeMcp = (): Promise<void> => Promise.resolve();
  // No READY line: stdout belongs to the protocol.
  const lifecycle = await startLifecycle({
    transport: "stdio",
    address: "stdio",
    printReady: false,
    handleSignals: options.handleSignals,
    stop: () => closeMcp(),
  });
  transport.onclose = lifecycle.end;
  transport.onerror = (error) => console.error(`MCP stdio server: ${error.message}`);
  await mcp.connect(transport);
  closeMcp = () => mcp.close();
  return lifecycle.handle;
}

/**
 * The `stdio` entry of `ExternalPluginServer.serve()` (`printReady` is ignored: stdout
 * belongs to the protocol).
 */
export function serveMcpStdioTransport(
  server: ExternalPluginServer,
  options: ServeOptions,
): Promise<ServerHandle> {
  return serveMcpStdio(server, { handleSignals: options.handleSignals });
}
