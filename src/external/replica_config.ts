/**
 * Expands an external plugin's entry into one entry per replica (issue 14 item 1):
 * `grpc.targets`, `unix_socket.paths` and `mcp.urls` each name several endpoints; every
 * replica gets the entry with the single-endpoint key (`target`, `path`, `url`) a transport
 * already understands, so transports know nothing of replicas. Also resolves the resilience
 * blocks: absent, they are off for one endpoint (the reference's behaviour, unchanged) and on
 * with their defaults for several (a fleet should stop sending to a dead replica at once).
 *
 * @module
 */
import { CIRCUIT_BREAKER_DEFAULTS, HEALTH_CHECK_DEFAULTS } from "../config/resilience_schema.ts";
import type { CircuitBreakerConfig, HealthCheckConfig, PluginConfig } from "../types.ts";

/** One entry per endpoint (the entry itself when it names one endpoint). */
export function replicaConfigs(config: PluginConfig): PluginConfig[] {
  const { grpc, unix_socket: unix, mcp } = config;
  if (grpc?.targets) {
    return grpc.targets.map((target) => {
      const { targets: _, ...block } = grpc;
      // `unix:/path`: a gRPC server on a Unix socket (the schema canonicalised the path).
      const where = target.startsWith("unix:")
        ? { target: null, uds: target.slice("unix:".length) }
        : { target };
      return { ...config, grpc: { ...block, ...where } };
    });
  }
  if (unix?.paths) {
    return unix.paths.map((path) => {
      const { paths: _, ...block } = unix;
      return { ...config, unix_socket: { ...block, path } };
    });
  }
  if (mcp?.urls) {
    return mcp.urls.map((url) => {
      const { urls: _, ...block } = mcp;
      return { ...config, mcp: { ...block, url } };
    });
  }
  return [config];
}

/** The resilience settings in force for `replicas` endpoints (null: off). */
export function resilienceOf(
  config: PluginConfig,
  replicas: number,
): {
  healthCheck: HealthCheckConfig | null;
  circuitBreaker: CircuitBreakerConfig | null;
  retryOnConnectionLoss: boolean;
} {
  const several = replicas > 1;
  return {
    healthCheck: config.health_check ?? (several ? { ...HEALTH_CHECK_DEFAULTS } : null),
    circuitBreaker: config.circuit_breaker ?? (several ? { ...CIRCUIT_BREAKER_DEFAULTS } : null),
    // Only another replica may take a delivered call: never the same server twice (issue 9).
    retryOnConnectionLoss: several && (config.retry_on_connection_loss ?? true),
  };
}

/** A fetched config entry as canonical JSON (keys sorted), to compare replicas' answers. */
export function configKey(remote: Record<string, unknown> | null): string {
  return JSON.stringify(
    remote,
    (_, value) =>
      value && typeof value === "object" && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : value,
  );
}
