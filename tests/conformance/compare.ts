/**
 * Normalises the two managers' outcomes of one scenario and compares them, applying only the
 * named masks of deliberate differences (masks.ts).
 *
 * Normalisation (the same on both sides, never per side): a key whose value is null is dropped
 * (null and absent are one thing on the wire); a violation's empty `details` is dropped; span
 * attributes lose `plugin.uuid` (random). Texts (error messages, record reasons) compare exactly.
 *
 * @module
 */
import { MASKS } from "./masks.ts";
import { norm } from "./normalise.ts";
import type { Scenario } from "./scenario_gen.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** The verdict on one scenario. */
export interface ScenarioVerdict {
  index: number;
  /** Masks that applied (their precondition held and both sides had the documented shape). */
  masks: string[];
  /** Where each mask applied: [mask id, call index]. */
  maskedCalls: [string, number][];
  /** Remaining differences, one line each. */
  diffs: string[];
}

function normViolation(v: Json): Json {
  if (!v) return v;
  const out = { ...v };
  if (out.details && typeof out.details === "object" && Object.keys(out.details).length === 0) {
    delete out.details;
  }
  return out;
}

function normSpans(spans: Json[]): Json[] {
  return spans.map((s) => {
    const attributes = { ...s.attributes };
    delete attributes["plugin.uuid"];
    return { ...s, attributes };
  });
}

/** The comparable view of one call's outcome. */
export function normCall(call: Json): Json {
  const c = { ...call };
  if (c.result) {
    c.result = {
      ...c.result,
      violation: normViolation(c.result.violation),
    };
  }
  if (c.error) {
    c.error = {
      ...c.error,
      violation: normViolation(c.error.violation),
    };
  }
  if (c.spans) c.spans = normSpans(c.spans);
  return norm(c);
}

/** Lists the differences between two normalised values as `path: ref=… ours=…` lines. */
export function diff(path: string, a: Json, b: Json, out: string[], limit = 12): void {
  if (out.length >= limit) return;
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const objA = a && typeof a === "object";
  const objB = b && typeof b === "object";
  if (objA && objB && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && a.length !== b.length) {
      out.push(`${path}: ref=${JSON.stringify(a)} ours=${JSON.stringify(b)}`);
      return;
    }
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      diff(Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`, a[k], b[k], out, limit);
    }
    return;
  }
  out.push(`${path}: ref=${JSON.stringify(a)} ours=${JSON.stringify(b)}`);
}

/** Compares one scenario's outcomes. */
export function compareScenario(
  scenario: Scenario,
  ref: Json | undefined,
  ours: Json | undefined,
): ScenarioVerdict {
  const verdict: ScenarioVerdict = {
    index: scenario.index,
    masks: [],
    maskedCalls: [],
    diffs: [],
  };
  if (!ref || !ours || ref.driver_error || ours.driver_error) {
    verdict.diffs.push(
      `driver: ref=${JSON.stringify(ref?.driver_error ?? ref ?? null)} ours=${
        JSON.stringify(ours?.driver_error ?? ours ?? null)
      }`,
    );
    return verdict;
  }
  if (ref.load_error || ours.load_error) {
    // Both must refuse the config (the texts differ by language, so only refusal is compared).
    if (!(ref.load_error && ours.load_error)) {
      verdict.diffs.push(
        `load: ref=${JSON.stringify(ref.load_error)} ours=${JSON.stringify(ours.load_error)}`,
      );
    }
    return verdict;
  }
  diff("loaded", ref.loaded, ours.loaded, verdict.diffs);
  const n = Math.max(ref.calls.length, ours.calls.length);
  for (let i = 0; i < n; i++) {
    const a = ref.calls[i] ? normCall(ref.calls[i]) : undefined;
    const b = ours.calls[i] ? normCall(ours.calls[i]) : undefined;
    let stop = false;
    if (a && b) {
      for (const mask of MASKS) {
        const applied = mask.apply({
          scenario,
          index: i,
          ref: a,
          ours: b,
          refAll: ref,
          oursAll: ours,
        });
        if (applied === "mismatch") {
          verdict.diffs.push(`call[${i}] mask ${mask.id}: precondition held but shape differs`);
        } else if (applied) {
          if (!verdict.masks.includes(mask.id)) verdict.masks.push(mask.id);
          verdict.maskedCalls.push([mask.id, i]);
          if (applied === "stop") stop = true;
        }
      }
    }
    diff(`call[${i}] ${scenario.calls[i]?.hook}`, a, b, verdict.diffs);
    if (stop) break;
  }
  return verdict;
}
