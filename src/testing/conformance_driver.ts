/**
 * Raw access to any CPEX plugin server for the conformance runner: the three wire operations
 * (`get_plugin_configs`, `get_plugin_config`, `invoke_hook`) over each transport, answering
 * what the server sent (no decoding into a `PluginResult`, no fast paths, no retries), so a
 * check sees a dropped field or an unexpected shape. Reuses the transports' lowest layers: the
 * protobuf codec and gRPC method table, the Unix framing, and the MCP connectors (each
 * transport's driver module, and so grpc-js or the MCP SDK, loads only when it is used).
 *
 * @module
 */
import type { GlobalContext, TlsConfig } from "../types.ts";

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
    case "grpc": {
      const { GrpcDriver } = await import("./conformance_grpc.ts");
      return await GrpcDriver.open(single(target), target.tls ?? null);
    }
    case "unix": {
      const { UnixDriver } = await import("./conformance_unix.ts");
      return new UnixDriver(single(target));
    }
    case "mcp-http": {
      const { openMcpHttpDriver } = await import("./conformance_mcp.ts");
      return await openMcpHttpDriver(target, single(target));
    }
    case "mcp-stdio": {
      const { openMcpStdioDriver } = await import("./conformance_mcp.ts");
      return await openMcpStdioDriver(target);
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
