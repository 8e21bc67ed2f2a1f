/**
 * The MCP Streamable HTTP plugin server (wire.md §2.2): `/mcp` (POST/GET/DELETE) with one SDK
 * `McpServer` + `WebStandardStreamableHTTPServerTransport` per session, `GET /health`, the
 * reference's Host/Origin checks against DNS rebinding when bound to loopback or a Unix socket
 * (`host_check.ts`), and a request body limit answered with 413 before the body is buffered
 * (`http_body.ts`).
 *
 * Each session's POSTs go through a {@linkcode RequestLifecycle}, which releases what the SDK
 * keeps per request and answers cancelled or abandoned requests (issue 9, items 1, 5, 7). POSTs
 * in flight are capped in number and in body bytes (item 2: excess gets 503).
 *
 * Plain HTTP, HTTPS and Unix sockets are served by our HTTP/1.1 server on `Deno.listen`
 * (`http1_server.ts`), which survives descriptor exhaustion, caps connections and closes idle
 * and slow ones (item 3); `Deno.serve` can do none of these. When client certificates are
 * requested (`ssl_cert_reqs` 1 or 2) or the key is encrypted, the server runs on `node:https`
 * instead, because Deno's TLS listener cannot ask for client certificates (design decision 8).
 *
 * @module
 */
import {
  bindError,
  formatHostPort,
  listenTcp,
  listenUnix,
  startLifecycle,
} from "../server_lifecycle.ts";
import { DEFAULT_HTTP1_LIMITS, type Http1Limits, serveHttp1 } from "../http1_server.ts";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { mcpServerConfigFromEnv } from "../../config/from_env.ts";
import type { McpServerConfig } from "../../config/transport_schema.ts";
import type { TlsConfig } from "../../types.ts";
import { preflight } from "../permissions.ts";
import { METRICS_PATH, metricsResponse } from "../metrics_listener.ts";
import type { ExternalPluginServer, ServerHandle } from "../server.ts";
import { httpServerPermissions } from "./permissions.ts";
import { requestIds, RequestLifecycle } from "./request_lifecycle.ts";
import { createMcpServer } from "./tools.ts";
import { ExactNumbers } from "./exact_numbers.ts";
import { hostAllowed, LOOPBACK_HOSTS, originAllowed } from "./host_check.ts";
import { declaredLength, readBody } from "./http_body.ts";

/** The default request body limit (4 MiB, as the reference's MCP SDK). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** POSTs handled at once by default (more get 503). */
export const DEFAULT_MAX_IN_FLIGHT = 256;
/** Request body bytes held by POSTs in flight by default (8 bodies of the maximum size). */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
/** The MCP endpoint path. */
export const MCP_PATH = "/mcp";

/**
 * Options of {@linkcode serveMcpHttp}; unset fields come from `server_settings` in the config,
 * else PLUGINS_SERVER_* variables, else the defaults (`127.0.0.1:8000`, no TLS).
 */
export interface McpHttpServeOptions {
  /** Host to bind. */
  host?: string;
  /** Port to bind (0 picks a free one). */
  port?: number;
  /** Unix socket path to bind instead of host:port (mode 0600). */
  uds?: string | null;
  /** Server TLS (`certfile`, `keyfile`, `ca_bundle`, `keyfile_password`, `ssl_cert_reqs`). */
  tls?: TlsConfig | null;
  /** Print `READY` on stdout once listening (default true). */
  printReady?: boolean;
  /** Stop on SIGINT/SIGTERM/SIGHUP (default true). */
  handleSignals?: boolean;
  /** Largest accepted request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Answer requests with JSON bodies instead of SSE streams (default true; both are MCP). */
  jsonResponse?: boolean;
  /** POSTs handled at once; more are answered 503 at once (default 256). */
  maxInFlight?: number;
  /**
   * Request body bytes POSTs in flight may hold together (default 32 MiB, at least
   * `maxBodyBytes`); a POST that would pass it is answered 503 before its body is read.
   */
  maxInFlightBytes?: number;
  /** Open connections at most; more get 503 and are closed (default 1,024). */
  maxConnections?: number;
  /** A request head must arrive within this many ms of its start (default 10,000). */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this many ms (default 30,000). */
  idleTimeoutMs?: number;
}

const DEFAULT_SETTINGS: McpServerConfig = { host: "127.0.0.1", port: 8000, uds: null, tls: null };

/**
 * Where and how the server listens: explicit options, else the config's `server_settings`,
 * else PLUGINS_SERVER_* variables, else `127.0.0.1:8000` (the reference's order: a YAML block
 * wins over the environment as a whole).
 */
export function resolveMcpServerSettings(
  configured: McpServerConfig | null,
  options: McpHttpServeOptions = {},
): McpServerConfig {
  const base = configured ?? mcpServerConfigFromEnv() ?? DEFAULT_SETTINGS;
  const explicitTcp = options.host !== undefined || options.port !== undefined;
  const settings: McpServerConfig = {
    host: options.host ?? base.host,
    port: options.port ?? base.port,
    uds: options.uds !== undefined ? options.uds : explicitTcp ? null : base.uds,
    tls: options.tls !== undefined ? options.tls : base.tls,
  };
  if (settings.uds && settings.tls) {
    throw new Error("MCP server: TLS cannot be combined with a Unix socket (uds)");
  }
  if (settings.uds && !settings.uds.startsWith("/")) {
    throw new Error(`MCP server: uds must be an absolute path, got '${settings.uds}'`);
  }
  return settings;
}

function jsonRpcError(status: number, code: number, message: string, headers?: HeadersInit) {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  lifecycle: RequestLifecycle;
  close(): Promise<void>;
  /** `performance.now()` of the last request. */
  lastUsed: number;
}

/** Sessions kept at most; the least recently used one is ended to make room. */
export const MAX_MCP_SESSIONS = 1024;
/** Sessions idle this long are ended when a new one starts (no timer needed). */
export const MCP_SESSION_IDLE_MS = 30 * 60 * 1000;

/**
 * The handle of a running MCP HTTP server: a {@linkcode ServerHandle} that also reports and
 * ends MCP sessions.
 */
export interface McpHttpServerHandle extends ServerHandle {
  /** Open MCP sessions. */
  readonly sessionCount: number;
  /** Ends every session (their clients get 404 on the next request and must reconnect). */
  terminateSessions(): Promise<void>;
}

/** The request router shared by the `Deno.serve` and `node:https` front ends. */
class McpHttpApp {
  readonly sessions = new Map<string, Session>();
  readonly #server: ExternalPluginServer;
  readonly #checkHost: boolean;
  readonly #portless: boolean;
  readonly #maxBody: number;
  readonly #json: boolean;
  /** Exact texts of the numbers of invoke_hook calls (item 7), per session and request id. */
  readonly #numbers = new ExactNumbers();
  readonly #maxInFlight: number;
  readonly #maxInFlightBytes: number;
  #inFlight = 0;
  #inFlightBytes = 0;
  #closing = false;

  constructor(
    server: ExternalPluginServer,
    settings: McpServerConfig,
    options: McpHttpServeOptions,
  ) {
    this.#server = server;
    this.#portless = settings.uds !== null;
    this.#checkHost = this.#portless || LOOPBACK_HOSTS.has(settings.host);
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#json = options.jsonResponse ?? true;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.#maxInFlightBytes = Math.max(
      this.#maxBody,
      options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES,
    );
  }

  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/health") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET" } });
      }
      return Response.json({ status: "healthy" });
    }
    const metricsPath = url.pathname === METRICS_PATH;
    if (!metricsPath && url.pathname !== MCP_PATH && url.pathname !== MCP_PATH + "/") {
      return new Response("Not Found", { status: 404 });
    }
    if (this.#checkHost) {
      // HTTP/2 (ALPN over TLS) carries the host as :authority, which is the URL's host.
      const host = req.headers.get("host") ?? url.host;
      if (!host || !hostAllowed(host, this.#portless)) {
        return new Response("Invalid Host header", { status: 421 });
      }
      const origin = req.headers.get("origin");
      if (origin !== null && !originAllowed(origin, this.#portless)) {
        return new Response("Invalid Origin header", { status: 403 });
      }
    }
    // The hosted plugins' metrics (issue 15): no session, but behind the Host/Origin checks
    // (a loopback server's numbers are not for a rebinding web page).
    if (metricsPath) return metricsResponse(req, url.pathname, () => this.#server.metricsText())!;
    if (this.#closing) return jsonRpcError(503, -32000, "Server is shutting down");
    const sessionId = req.headers.get("mcp-session-id");
    if (req.method === "POST") return await this.#admitPost(req, sessionId);
    if (req.method === "GET" || req.method === "DELETE") {
      if (!sessionId) {
        return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
      }
      const session = this.#use(sessionId);
      if (!session) return jsonRpcError(404, -32001, "Session not found");
      return await session.transport.handleRequest(req);
    }
    return jsonRpcError(405, -32000, "Method not allowed.", { allow: "GET, POST, DELETE" });
  }

  /**
   * Bounds POSTs in flight by number and by body bytes (a body without a Content-Length is
   * charged at the limit): memory per request and in total stays bounded (item 2).
   */
  async #admitPost(req: Request, sessionId: string | null): Promise<Response> {
    const declared = declaredLength(req);
    const charge = declared !== null && declared <= this.#maxBody ? declared : this.#maxBody;
    if (
      this.#inFlight >= this.#maxInFlight ||
      this.#inFlightBytes + charge > this.#maxInFlightBytes
    ) {
      await req.body?.cancel().catch(() => {});
      return jsonRpcError(503, -32000, "Server busy: too many requests in flight, retry later", {
        "retry-after": "1",
      });
    }
    this.#inFlight++;
    this.#inFlightBytes += charge;
    try {
      return await this.#post(req, sessionId);
    } finally {
      this.#inFlight--;
      this.#inFlightBytes -= charge;
    }
  }

  async #post(req: Request, sessionId: string | null): Promise<Response> {
    let body: Uint8Array | null;
    try {
      body = await readBody(req, this.#maxBody);
    } catch {
      // The client went away while sending.
      return jsonRpcError(400, -32000, "Bad Request: the request body could not be read");
    }
    if (body === null) {
      return jsonRpcError(
        413,
        -32000,
        `Payload Too Large: request body exceeds the limit of ${this.#maxBody} bytes`,
      );
    }
    let parsed: unknown;
    try {
      parsed = this.#numbers.parse(new TextDecoder().decode(body), sessionId);
    } catch {
      return jsonRpcError(400, -32700, "Parse error: Invalid JSON");
    }
    body = null; // only the parsed form is kept from here on (item 2)
    const ids = requestIds(parsed);
    if (ids === null) {
      return jsonRpcError(400, -32600, "Invalid Request: a request id appears twice in the batch");
    }
    if (sessionId) {
      const session = this.#use(sessionId);
      if (!session) return jsonRpcError(404, -32001, "Session not found");
      if (session.lifecycle.conflicts(ids)) {
        return jsonRpcError(409, -32600, "Invalid Request: a request with this id is in flight");
      }
      return await session.lifecycle.post(req, parsed, ids);
    }
    if (!isInitializeRequest(parsed)) {
      return jsonRpcError(
        400,
        -32000,
        "Bad Request: Mcp-Session-Id header is required (or send an initialize request)",
      );
    }
    const session = this.#newSession();
    const response = await session.lifecycle.post(req, parsed, ids);
    if (!session.transport.sessionId) await session.close(); // initialize was refused
    return response;
  }

  /** The session, marked as most recently used (the map's order is least recent first). */
  #use(sessionId: string): Session | undefined {
    const session = this.sessions.get(sessionId);
    if (session) {
      session.lastUsed = performance.now();
      this.sessions.delete(sessionId);
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  /** Bounds memory against clients that never send DELETE: idle and excess sessions end. */
  #evict(): void {
    const now = performance.now();
    for (const session of this.sessions.values()) {
      const idle = now - session.lastUsed > MCP_SESSION_IDLE_MS;
      if (!idle && this.sessions.size < MAX_MCP_SESSIONS) break;
      void session.close();
    }
  }

  #newSession(): Session {
    this.#evict();
    const mcp = createMcpServer(this.#server, this.#numbers);
    const sessions = this.sessions;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID().replaceAll("-", ""),
      enableJsonResponse: this.#json,
      onsessioninitialized: (id) => void sessions.set(id, session),
    });
    const lifecycle = new RequestLifecycle(transport);
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      lifecycle.end();
    };
    const session: Session = {
      transport,
      lifecycle,
      lastUsed: performance.now(),
      close: async () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
        await mcp.close().catch(() => {});
      },
    };
    // Connecting only wires callbacks and starts the transport (no I/O).
    void mcp.connect(transport);
    lifecycle.attach(); // after connect: it wraps the callback connect installed
    return session;
  }

  async terminateSessions(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.terminateSessions();
  }
}

/** A front end: listens, feeds requests to the app, stops. */
interface Listening {
  address: string;
  stop(): Promise<void>;
}

/** Our HTTP/1.1 front end on `Deno.listen` / `Deno.listenTls` (item 3). */
async function serveWithListener(
  app: McpHttpApp,
  settings: McpServerConfig,
  tls: { cert: string; key: string } | null,
  limits: Http1Limits,
): Promise<Listening> {
  const handler = async (req: Request) => {
    try {
      return await app.handle(req);
    } catch (error) {
      console.error(`MCP server: ${error instanceof Error ? error.message : String(error)}`);
      return jsonRpcError(500, -32603, "Internal error");
    }
  };
  if (settings.uds) {
    const path = settings.uds;
    // Born 0600 or refused (issue 9 item 8); nothing is served before that check passed.
    const { listener, socket } = await listenUnix(path, "http");
    const server = serveHttp1(listener, handler, { origin: "http://localhost", limits });
    return {
      address: path,
      // Removed on close only while still ours (issue 9 item 9).
      stop: async () => {
        if (!await socket.release(() => server.close(), () => listener.unref())) {
          await server.close({ keepListener: true });
        }
      },
    };
  }
  let listener: Deno.Listener;
  if (tls) {
    try {
      listener = Deno.listenTls({
        hostname: settings.host,
        port: settings.port,
        ...tls,
        alpnProtocols: ["http/1.1"],
      });
    } catch (error) {
      throw bindError(error, formatHostPort(settings.host, settings.port), "http");
    }
  } else listener = listenTcp(settings.host, settings.port, "http");
  const addr = listener.addr as Deno.NetAddr;
  const server = serveHttp1(listener, handler, {
    origin: `${tls ? "https" : "http"}://localhost`,
    limits,
  });
  return {
    address: formatHostPort(addr.hostname, addr.port),
    stop: () => server.close(),
  };
}

/** The limits that are set (an explicit `undefined` keeps the default). */
function definedLimits(limits: Partial<Http1Limits>): Partial<Http1Limits> {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/** `node:https` front end: asks for (and with `ssl_cert_reqs` 2 requires) client certificates. */
async function serveWithNodeHttps(
  app: McpHttpApp,
  settings: McpServerConfig,
  tls: TlsConfig,
  limits: Http1Limits,
): Promise<Listening> {
  const reqs = tls.ssl_cert_reqs ?? 2;
  const [cert, key, ca] = await Promise.all([
    Deno.readTextFile(tls.certfile!),
    Deno.readTextFile(tls.keyfile!),
    tls.ca_bundle ? Deno.readTextFile(tls.ca_bundle) : Promise.resolve(undefined),
  ]);
  const open = new Set<ServerResponse>();
  const server: HttpsServer = createHttpsServer({
    cert,
    key,
    ca,
    passphrase: tls.keyfile_password ?? undefined,
    requestCert: reqs >= 1,
    rejectUnauthorized: reqs === 2,
  }, (req, res) => void bridge(app, req, res, reqs, open));
  await new Promise<void>((resolve, reject) => {
    server.once(
      "error",
      (error) => reject(bindError(error, formatHostPort(settings.host, settings.port), "http")),
    );
    server.listen(settings.port, settings.host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  server.on("tlsClientError", () => {}); // refused handshakes (no or untrusted certificate)
  // The same bounds as our own front end, as far as node:https offers them (item 3).
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.requestTimeout = limits.headersTimeoutMs + limits.bodyTimeoutMs;
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : settings.port;
  return {
    address: formatHostPort(settings.host, port),
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Feeds one `node:https` request through the web-standard app and streams the answer back. */
async function bridge(
  app: McpHttpApp,
  req: IncomingMessage,
  res: ServerResponse,
  reqs: number,
  open: Set<ServerResponse>,
): Promise<void> {
  open.add(res);
  const abort = new AbortController();
  res.on("close", () => {
    open.delete(res);
    abort.abort();
  });
  try {
    const socket = req.socket as TLSSocket;
    // ssl_cert_reqs 1: a certificate is optional, but one that was sent must verify.
    if (reqs === 1 && !socket.authorized && Object.keys(socket.getPeerCertificate()).length) {
      res.writeHead(403, { "content-type": "text/plain" }).end("Client certificate not trusted");
      return;
    }
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const body = hasBody
      ? new ReadableStream<Uint8Array>({
        start(controller) {
          req.on("data", (chunk: Uint8Array) => controller.enqueue(new Uint8Array(chunk)));
          req.on("end", () => controller.close());
          req.on("error", (e) => controller.error(e));
        },
        cancel() {
          req.destroy();
        },
      })
      : null;
    const request = new Request(`https://${headers.get("host") ?? "localhost"}${req.url}`, {
      method: req.method,
      headers,
      body,
      signal: abort.signal,
    });
    const response = await app.handle(request);
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => out[name] = value);
    res.writeHead(response.status, out);
    if (!response.body) return void res.end();
    const reader = response.body.getReader();
    abort.signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), {
      once: true,
    });
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
    } finally {
      reader.releaseLock();
    }
    res.end();
  } catch (error) {
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "text/plain" });
    }
    res.end();
    if (!abort.signal.aborted) {
      console.error(`MCP server: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/**
 * Serves `server` over MCP Streamable HTTP. Checks the Deno permissions first (net for
 * `host:port`, reads for TLS files, or the three Unix socket permissions) and names any
 * missing flag.
 */
export async function serveMcpHttp(
  server: ExternalPluginServer,
  options: McpHttpServeOptions = {},
): Promise<McpHttpServerHandle> {
  await server.initialize();
  const settings = resolveMcpServerSettings(server.config?.server_settings ?? null, options);
  let tls = settings.tls;
  if (tls && !(tls.certfile && tls.keyfile)) {
    console.warn("MCP server: TLS needs both certfile and keyfile; serving plain HTTP");
    tls = null;
  }
  const reqs = tls ? tls.ssl_cert_reqs ?? 2 : 0;
  if (tls && reqs >= 1 && !tls.ca_bundle) {
    throw new Error(
      `MCP server: ssl_cert_reqs ${reqs} verifies client certificates and needs ca_bundle ` +
        "(set ca_bundle, or ssl_cert_reqs: 0 for server-only TLS)",
    );
  }
  preflight("MCP HTTP plugin server", httpServerPermissions({ ...settings, tls }));
  const app = new McpHttpApp(server, settings, options);
  const limits: Http1Limits = {
    ...DEFAULT_HTTP1_LIMITS,
    ...definedLimits({
      maxConnections: options.maxConnections,
      headersTimeoutMs: options.headersTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
    }),
  };
  const listening = tls && (reqs >= 1 || tls.keyfile_password)
    ? await serveWithNodeHttps(app, settings, tls, limits)
    : await serveWithListener(
      app,
      settings,
      tls
        ? {
          cert: await Deno.readTextFile(tls.certfile!),
          key: await Deno.readTextFile(tls.keyfile!),
        }
        : null,
      limits,
    );
  const { handle } = await startLifecycle({
    transport: "http",
    address: listening.address,
    printReady: options.printReady,
    handleSignals: options.handleSignals,
    async stop(): Promise<void> {
      await app.close(); // ends every session's open streams first
      await listening.stop();
    },
  });
  return {
    address: handle.address,
    finished: handle.finished,
    close: handle.close,
    get sessionCount() {
      return app.sessions.size;
    },
    terminateSessions: () => app.terminateSessions(),
  };
}
