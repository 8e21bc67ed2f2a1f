/**
 * Checks on what a plugin returns: the shape of its result, and whether its modified payload
 * is accepted (the hook's payload policy, then the hook's result schema).
 *
 * @module
 */
import type { PluginResult } from "../types.ts";
import { deepEqual, deepFreeze, isPlainObject } from "./freeze.ts";
import type { Invocation } from "./invocation.ts";

/**
 * Validates a modified payload for a hook; returns the value to chain or throws.
 */
export type PayloadValidator = (hookName: string, value: unknown) => unknown;

/** No accepted modification: the chain keeps its payload. */
export const NONE: unique symbol = Symbol("none");
/** A chained payload, or {@linkcode NONE}. */
export type Chained = unknown | typeof NONE;

/**
 * `value` as a plugin result; throws a `TypeError` naming plugin `name` when it is not an
 * object or a field has the wrong type (the call then fails per `on_error`).
 */
export function checkResult(value: unknown, name: string): PluginResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    throw new TypeError(`Plugin ${name} returned ${kind} instead of a result object`);
  }
  const r = value as PluginResult;
  if (r.continue_processing !== undefined && typeof r.continue_processing !== "boolean") {
    throw new TypeError(`Plugin ${name} returned a non-boolean continue_processing`);
  }
  const v = r.violation;
  if (
    v !== undefined && v !== null &&
    (typeof v !== "object" || typeof v.code !== "string" || typeof v.reason !== "string" ||
      typeof v.description !== "string")
  ) {
    throw new TypeError(
      `Plugin ${name} returned a violation without string reason, description and code`,
    );
  }
  if (r.metadata !== undefined && r.metadata !== null && !isPlainObject(r.metadata)) {
    throw new TypeError(`Plugin ${name} returned metadata that is not an object`);
  }
  const retry = r.retry_delay_ms;
  if (retry !== undefined && (typeof retry !== "number" || !(retry >= 0))) {
    throw new TypeError(`Plugin ${name} returned an invalid retry_delay_ms`);
  }
  return r;
}

/**
 * Cross-type hooks whose result type the reference models with pydantic: a header map (a root
 * model, one field `root`) or a model with fields. Other cross-type results (the user dict of
 * `http_auth_resolve_user`, custom hooks) are plain data.
 */
const RESULT_MODELS: Record<string, "root" | "model"> = {
  http_pre_request: "root",
  http_post_request: "root",
  http_auth_check_permission: "model",
};

/**
 * Applies the hook's payload policy to a returned modification of `input`; returns the new
 * chained payload (validated and frozen), or {@linkcode NONE} when nothing is accepted.
 * Throws when the validator rejects it.
 */
export function acceptModified(inv: Invocation, modified: unknown, input: unknown): Chained {
  const hookName = inv.hookName;
  const settings = inv.settings;
  const policy = settings.hookPolicies[hookName];
  let value: unknown;
  if (policy) {
    // Once a cross-type hook's payload is its result type (an earlier plugin's accepted
    // change), the reference treats later changes as same-type: a result model's fields are
    // filtered by the policy, and a header map (a root model) passes only through `root`.
    const resultKind = inv.chained === NONE ? undefined : RESULT_MODELS[hookName];
    if (resultKind === "root") {
      if (
        !isPlainObject(modified) || deepEqual(modified, input) ||
        !policy.writable_fields.has("root")
      ) return NONE;
      value = modified;
    } else if (
      (!settings.isCrossType(hookName) || resultKind === "model") && isPlainObject(modified) &&
      isPlainObject(input)
    ) {
      let changes: Record<string, unknown> | null = null;
      for (const key in modified) {
        if (!policy.writable_fields.has(key)) continue;
        if (!deepEqual(modified[key], input[key])) (changes ??= {})[key] = modified[key];
      }
      if (changes === null) return NONE;
      value = { ...(inv.current as Record<string, unknown>), ...changes };
    } else if (isPlainObject(modified)) {
      value = modified;
    } else {
      return NONE;
    }
  } else if (settings.defaultHookPolicy === "deny") {
    return NONE;
  } else {
    value = modified;
  }
  const validate = settings.validatePayload;
  if (validate) value = validate(hookName, value);
  return deepFreeze(value);
}
