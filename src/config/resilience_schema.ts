/**
 * Schemas of an external plugin's resilience blocks (issue 14): `health_check` and
 * `circuit_breaker`. Every field has a default, so `health_check: {}` turns checks on with
 * the defaults. Both blocks are ours: the reference has neither.
 *
 * @module
 */
import { z } from "zod";
import type { CircuitBreakerConfig, HealthCheckConfig } from "../types.ts";
import { integerField, numberField } from "./scalars.ts";

/** Defaults of `health_check` (Envoy's active health checking uses the same shape). */
export const HEALTH_CHECK_DEFAULTS: Readonly<HealthCheckConfig> = {
  interval: 5,
  timeout: 1,
  unhealthy_threshold: 3,
  healthy_threshold: 2,
};

/** Defaults of `circuit_breaker`. */
export const CIRCUIT_BREAKER_DEFAULTS: Readonly<CircuitBreakerConfig> = {
  failure_threshold: 5,
  reset_timeout: 10,
};

/** The `health_check` block: seconds and counts. */
export const healthCheckSchema: z.ZodType<HealthCheckConfig> = z.object({
  interval: numberField({ above: 0 }).default(HEALTH_CHECK_DEFAULTS.interval),
  timeout: numberField({ above: 0 }).default(HEALTH_CHECK_DEFAULTS.timeout),
  unhealthy_threshold: integerField({ min: 1 }).default(HEALTH_CHECK_DEFAULTS.unhealthy_threshold),
  healthy_threshold: integerField({ min: 1 }).default(HEALTH_CHECK_DEFAULTS.healthy_threshold),
});

/** The `circuit_breaker` block: a count and seconds. */
export const circuitBreakerSchema: z.ZodType<CircuitBreakerConfig> = z.object({
  failure_threshold: integerField({ min: 1 }).default(CIRCUIT_BREAKER_DEFAULTS.failure_threshold),
  reset_timeout: numberField({ above: 0 }).default(CIRCUIT_BREAKER_DEFAULTS.reset_timeout),
});
