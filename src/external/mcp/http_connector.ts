/**
 * Streamable HTTP sessions for the gateway-side MCP proxy: the SDK's `Client` and
 * `StreamableHTTPClientTransport` with a `fetch` bound to a `Deno.createHttpClient` that
 * carries the TLS settings (extra CA, client certificate) or routes to a Unix socket.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { TlsConfig } from "../../types.ts";
import { HttpToolCaller } from "./http_tool_call.ts";
import { MCP_CLIENT_INFO, type McpConnector, type McpSession } from "./session.ts";

/**
 * Options of {@linkcode HttpConnector}.
 */
export interface HttpConnectorOptions {
  /** The server's MCP endpoint. */
  url: string;
  /** Reach the server through this Unix socket instead of TCP (the URL's host is not used). */
  uds?: string | null;
  /** Client TLS. */
  tls?: TlsConfig | null;
}

/** Per-request limit of one tool call (the reference's read timeout); the executor's is shorter. */
export const TOOL_CALL_TIMEOUT_MS = 300_000;

/** Idle connections the gateway keeps per MCP server. */
export const MAX_IDLE_CONNECTIONS = 16;

/**
 * Builds the `fetch` the SDK transport uses: one `Deno.HttpClient` (a connection pool) with the
 * TLS files and the Unix socket route.
 */
export async function createMcpFetch(
  options: HttpConnectorOptions,
): Promise<{ fetch: typeof fetch; client: Deno.HttpClient }> {
  // Idle pooled connections are bounded: a burst of calls must not keep a descriptor per
  // call open on both ends afterwards (issue 9, item 5).
  const init: Deno.CreateHttpClientOptions & { cert?: string; key?: string } = {
    poolMaxIdlePerHost: MAX_IDLE_CONNECTIONS,
  };
  if (options.uds) init.proxy = { transport: "unix", path: options.uds };
  const tls = options.uds ? null : options.tls;
  if (tls) {
    if (tls.keyfile_password) {
      throw new Error("encrypted client keys (keyfile_password) are not supported under Deno");
    }
    if (tls.verify === false || tls.check_hostname === false) {
      console.warn(
        "MCP client: Deno cannot switch off certificate or host name checks per client; the " +
          "server is still verified (add its CA as ca_bundle, or run Deno with " +
          "--unsafely-ignore-certificate-errors=HOST)",
      );
    }
    if (tls.ca_bundle) init.caCerts = [await Deno.readTextFile(tls.ca_bundle)];
    if (tls.certfile) {
      init.cert = await Deno.readTextFile(tls.certfile);
      init.key = await Deno.readTextFile(tls.keyfile ?? tls.certfile);
    }
  }
  const client = Deno.createHttpClient(init);
  return { fetch: cancellableFetch(client), client };
}

/** The request id at the end of a JSON-RPC request as the SDK serializes it (`…,"id":7}`). */
function trailingId(body: string): number | null {
  const at = body.lastIndexOf('"id":');
  // A position past the end is how the SDK writes it; anything else is not ours to track.
  if (at === -1 || body.length - at > 22 || body.charCodeAt(body.length - 1) !== 0x7d) return null;
  const digits = body.slice(at + 5, -1);
  return /^\d{1,15}$/.test(digits) ? Number(digits) : null;
}
const CANCELLED = '"method":"notifications/cancelled"';

/**
 * A `fetch` on `client` that aborts the POST of a request when the SDK cancels it: on a
 * timeout or an aborted signal the SDK only sends `notifications/cancelled` and stops waiting,
 * which left the POST (and its connection, on both ends) open until the answer came, if ever
 * (issue 9, item 5).
 */
function cancellableFetch(client: Deno.HttpClient): typeof fetch {
  const inFlight = new Map<number, AbortController>();
  return async (input, requestInit) => {
    const body = requestInit?.body;
    if (requestInit?.method !== "POST" || typeof body !== "string") {
      return await fetch(input, { ...requestInit, client });
    }
    if (body.includes(CANCELLED)) {
      try {
        const id = JSON.parse(body)?.params?.requestId;
        if (typeof id === "number") inFlight.get(id)?.abort(new Error("request cancelled"));
      } catch {
        // Not ours to read.
      }
    }
    const id = trailingId(body);
    if (id === null) return await fetch(input, { ...requestInit, client });
    const abort = new AbortController();
    inFlight.set(id, abort);
    const signal = abort.signal;
    // The transport's own signal (aborted when it closes) is forwarded by a listener, cheaper
    // per call than a dependent `AbortSignal.any`.
    const outer = requestInit.signal;
    const forward = () => abort.abort(outer?.reason);
    if (outer?.aborted) forward();
    else outer?.addEventListener("abort", forward, { once: true });
    const done = () => {
      outer?.removeEventListener("abort", forward);
      if (inFlight.get(id) === abort) inFlight.delete(id);
    };
    let response: Response;
    try {
      response = await fetch(input, { ...requestInit, signal, client });
    } catch (error) {
      done();
      throw error;
    }
    // A JSON answer is complete once it starts (our server answers whole); an SSE answer may
    // still be waiting for the result, so it stays cancellable until its stream ends.
    if (!response.body || !response.headers.get("content-type")?.includes("text/event-stream")) {
      done();
      return response;
    }
    const stream = response.body.pipeThrough(
      new TransformStream({ flush: done, cancel: done }),
      { signal },
    );
    return new Response(stream, response);
  };
}

/**
 * Opens Streamable HTTP sessions (3 attempts at initialize, as the reference).
 */
export class HttpConnector implements McpConnector {
  readonly target: string;
  readonly initialAttempts = 3;
  readonly #options: HttpConnectorOptions;
  #fetch: Promise<{ fetch: typeof fetch; client: Deno.HttpClient }> | null = null;
  #client: Deno.HttpClient | null = null;

  /** Creates the connector; nothing is opened until `connect()`. */
  constructor(options: HttpConnectorOptions) {
    this.#options = options;
    this.target = options.uds ? `${options.url} (uds=${options.uds})` : options.url;
  }

  /** Opens a session: `initialize`, `notifications/initialized`, `tools/list`. */
  async connect(): Promise<McpSession> {
    const { fetch, client: pool } = await this.#pooledFetch();
    const transport = new StreamableHTTPClientTransport(new URL(this.#options.url), { fetch });
    const client = new Client(MCP_CLIENT_INFO);
    try {
      await client.connect(transport);
      await client.listTools();
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    let closed = false;
    const caller = new HttpToolCaller(
      this.#options.url,
      (input, init) => globalThis.fetch(input, { ...init, client: pool }),
      transport,
      TOOL_CALL_TIMEOUT_MS,
    );
    return {
      client,
      callTool: (params, signal) => caller.call(params, signal),
      get dead() {
        return closed;
      },
      deathReason: null,
      async close(terminate: boolean) {
        if (closed) return;
        closed = true;
        if (terminate) await transport.terminateSession().catch(() => {});
        await client.close().catch(() => {});
      },
    };
  }

  /** `GET /health` on the server, through the connector's pool (wire.md §2.2). */
  async probe(_session: McpSession | null, signal: AbortSignal): Promise<void> {
    const { fetch } = await this.#pooledFetch();
    const response = await fetch(new URL("/health", this.#options.url), { signal });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`health check answered HTTP ${response.status}`);
  }

  #pooledFetch(): Promise<{ fetch: typeof fetch; client: Deno.HttpClient }> {
    return this.#fetch ??= createMcpFetch(this.#options).then((made) => {
      this.#client = made.client;
      return made;
    });
  }

  /** HTTP errors (404 for a terminated session), refused connections and closed transports. */
  isConnectionError(error: unknown): boolean {
    return error instanceof StreamableHTTPError || error instanceof TypeError ||
      (error instanceof McpError && error.code === ErrorCode.ConnectionClosed);
  }

  /** Closes the connection pool. */
  close(): void {
    this.#fetch = null;
    try {
      this.#client?.close();
    } catch {
      // Already closed.
    }
    this.#client = null;
  }
}
