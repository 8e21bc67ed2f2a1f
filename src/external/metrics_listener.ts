/**
 * The optional `/metrics` listener of a plugin server (issue 15 item 2): for the gRPC and Unix
 * transports, which have no HTTP port of their own, a small HTTP server answering `GET /metrics`
 * in the Prometheus text format with the metrics of the plugins the server hosts. Enabled by
 * `serve({ metricsPort })`, PLUGINS_METRICS_PORT or `cpex serve --metrics-port`; it binds
 * loopback unless a host is given, and its `--allow-net` permission is checked before the
 * server starts, like every transport's.
 *
 * Minimal on purpose: GET and HEAD of `/metrics` only, no request body is ever read, one
 * response per request.
 *
 * @module
 */
import { readEnv } from "../config/env.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/prometheus.ts";
import { netPermission } from "./mcp/permissions.ts";
import { preflight } from "./permissions.ts";
import { bindError, formatHostPort } from "./server_lifecycle.ts";

/** Where the listener binds when no host is given. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/** The path the exposition is served on (also on the MCP HTTP server's own port). */
export const METRICS_PATH = "/metrics";

/** Where the metrics listener binds; null when it is off. */
export interface MetricsBinding {
  /** Host to bind. */
  readonly host: string;
  /** Port to bind (0: any free port). */
  readonly port: number;
}

/**
 * The binding asked for by `options` (else PLUGINS_METRICS_PORT / PLUGINS_METRICS_HOST), or
 * null when no port is set. Throws on a port that is not an integer in 0..65535.
 */
export function resolveMetricsBinding(
  options: { metricsPort?: number | null; metricsHost?: string },
): MetricsBinding | null {
  let port: number | null | undefined = options.metricsPort;
  if (port === undefined) {
    const raw = readEnv("PLUGINS_METRICS_PORT")?.trim();
    if (raw === undefined || raw === "") return null;
    port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  }
  if (port === null) return null;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`metrics port must be an integer in 0..65535, got '${port}'`);
  }
  const host = options.metricsHost?.trim() || readEnv("PLUGINS_METRICS_HOST")?.trim() ||
    DEFAULT_METRICS_HOST;
  return { host, port };
}

/**
 * The answer to one request of a `/metrics` endpoint: the exposition for GET/HEAD of
 * {@linkcode METRICS_PATH}, 405 for another method, null for another path (the caller's 404).
 */
export function metricsResponse(req: Request, path: string, text: () => string): Response | null {
  if (path !== METRICS_PATH) return null;
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  const headers = { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" };
  return new Response(req.method === "HEAD" ? null : text(), { headers });
}

/** A running metrics listener. */
export interface MetricsListener {
  /** `host:port` it listens on. */
  readonly address: string;
  /** Stops it (idempotent). */
  close(): Promise<void>;
}

/** Checks the permission the listener needs (throws `PermissionPreflightError`). */
export function metricsPreflight(binding: MetricsBinding): void {
  preflight("plugin server metrics listener", [netPermission(binding.host, binding.port)]);
}

/** Starts the listener; `text` writes the exposition at each scrape. */
export function serveMetricsListener(
  binding: MetricsBinding,
  text: () => string,
): MetricsListener {
  const hostname = binding.host.replace(/^\[|\]$/g, "");
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port: binding.port, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      return metricsResponse(req, path, text) ?? new Response("Not Found", { status: 404 });
    });
  } catch (error) {
    throw bindError(error, formatHostPort(hostname, binding.port), "metrics");
  }
  let closing: Promise<void> | null = null;
  return {
    address: formatHostPort(server.addr.hostname, server.addr.port),
    close: () => closing ??= server.shutdown(),
  };
}
