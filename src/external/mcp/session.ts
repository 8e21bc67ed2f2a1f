/**
 * One live MCP connection of a gateway-side plugin proxy, and the connectors that open them
 * (Streamable HTTP, STDIO child process). The proxy replaces a session when it breaks.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** The client identity we announce in `initialize`. */
export const MCP_CLIENT_INFO = { name: "cpex", version: "0.1.0" };

/**
 * A connected SDK client plus how to tear it down.
 */
export interface McpSession {
  /** The connected SDK client. */
  readonly client: Client;
  /** True once the connection is gone (the child exited, the transport closed). */
  readonly dead: boolean;
  /** Why the session died, when it did. */
  readonly deathReason: string | null;
  /**
   * A lean `tools/call` on this session, when the transport has one (Streamable HTTP); the
   * proxy then uses it for hook calls instead of `client.callTool`.
   */
  readonly callTool?: (
    params: Record<string, unknown>,
    signal: AbortSignal,
  ) => Promise<CallToolResult>;
  /** For a child process: resolves with how it exited (STDIO only). */
  readonly exited?: Promise<string>;
  /** Closes the session; `terminate` also ends it on the server (HTTP `DELETE`). */
  close(terminate: boolean): Promise<void>;
}

/**
 * Opens sessions to one MCP plugin server.
 */
export interface McpConnector {
  /** What the connector reaches (a URL, a command line), for messages. */
  readonly target: string;
  /** Connection attempts at initialize (HTTP 3, STDIO 1, as the reference). */
  readonly initialAttempts: number;
  /** Opens a new session (initialize handshake included). */
  connect(): Promise<McpSession>;
  /** A health check of the server; `session` is the live one, if any. */
  probe(session: McpSession | null, signal: AbortSignal): Promise<void>;
  /** True when `error` means the connection (not the call) failed, so a reconnect may help. */
  isConnectionError(error: unknown): boolean;
  /** Releases what the connector holds (HTTP client pools). */
  close(): void;
}
