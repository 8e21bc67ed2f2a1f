/**
 * Conditions compiled once per (plugin, hook) into a single matcher function.
 *
 * @module
 */
import type { ConditionTarget } from "../hooks/conditions.ts";
import { normaliseContentType } from "../config/schema.ts";
import type { GlobalContext, PluginCondition } from "../types.ts";

export type { ConditionTarget };

/**
 * A compiled condition list: true when the plugin should run.
 */
export type ConditionMatcher = (payload: unknown, context: GlobalContext) => boolean;

type Check = (payload: unknown, context: GlobalContext) => boolean;

function nonEmpty(list: readonly string[] | null | undefined): list is readonly string[] {
  return Array.isArray(list) && list.length > 0;
}

function compileOne(condition: PluginCondition, target: ConditionTarget | null): Check[] {
  const checks: Check[] = [];
  if (nonEmpty(condition.server_ids)) {
    const set = new Set(condition.server_ids);
    checks.push((_p, c) => c.server_id != null && set.has(c.server_id));
  }
  if (nonEmpty(condition.tenant_ids)) {
    const set = new Set(condition.tenant_ids);
    checks.push((_p, c) => c.tenant_id != null && set.has(c.tenant_id));
  }
  if (nonEmpty(condition.content_types)) {
    const set = new Set(condition.content_types.map(normaliseContentType));
    checks.push((_p, c) => {
      const ct = c.content_type;
      if (!ct || !ct.trim()) return false;
      return set.has(normaliseContentType(ct));
    });
  }
  if (nonEmpty(condition.user_patterns)) {
    const patterns = [...condition.user_patterns];
    checks.push((_p, c) => {
      const user = c.user;
      if (!user) return false;
      if (typeof user === "string") return patterns.some((p) => user.includes(p));
      // A structured user matches by key, as the reference does.
      return patterns.some((p) => Object.hasOwn(user, p));
    });
  }
  if (target) {
    const list = condition[target.field];
    if (nonEmpty(list)) {
      const set = new Set(list);
      const attr = target.attribute;
      checks.push((p) => {
        const value = p && typeof p === "object" ? (p as Record<string, unknown>)[attr] : null;
        // A missing or empty value passes (the reference is fail-open here).
        if (value === null || value === undefined || value === "") return true;
        return typeof value === "string" && set.has(value);
      });
    }
  }
  return checks;
}

/**
 * Compiles a plugin's conditions for one hook. Returns null when the plugin always runs (no
 * conditions, or a condition object that constrains nothing).
 */
export function compileConditions(
  conditions: readonly PluginCondition[] | null | undefined,
  target: ConditionTarget | null,
): ConditionMatcher | null {
  if (!conditions || conditions.length === 0) return null;
  const compiled: Check[][] = [];
  for (const condition of conditions) {
    const checks = compileOne(condition, target);
    if (checks.length === 0) return null;
    compiled.push(checks);
  }
  if (compiled.length === 1 && compiled[0].length === 1) return compiled[0][0];
  return (payload, context) => {
    outer: for (const checks of compiled) {
      for (const check of checks) if (!check(payload, context)) continue outer;
      return true;
    }
    return false;
  };
}
