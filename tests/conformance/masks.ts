/**
 * The named masks of deliberate differences from the reference. Each cites its Q number (or
 * issue item) from design.md "Deliberate fixes" / README's compatibility section, applies only
 * when its precondition holds in the scenario, checks the exact documented shape on BOTH sides
 * (returning "mismatch" when either side does not have the documented shape) and only then
 * neutralises the fields it covers. Nothing else may be masked.
 *
 * @module
 */
import type { Behaviour } from "./behaviour_plugin.ts";
import type { Scenario } from "./scenario_gen.ts";
import { same } from "./normalise.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** What a mask sees for one call (normalised outcomes; a mask may edit `ref` and `ours`). */
export interface MaskInput {
  scenario: Scenario;
  index: number;
  ref: Json;
  ours: Json;
  refAll: Json;
  oursAll: Json;
}

/**
 * A mask: `apply` returns false when its precondition does not hold, true when it applied,
 * "stop" when it applied and the rest of the sequence is not comparable, or "mismatch".
 */
export interface Mask {
  id: string;
  apply(input: MaskInput): boolean | "stop" | "mismatch";
}

/** Mode after the reference's legacy-alias migration. */
function modeOf(s: Scenario, name: string): string {
  const m = s.plugins.find((p) => p.name === name)?.mode ?? "sequential";
  return ({
    enforce: "sequential",
    enforce_ignore_error: "sequential",
    permissive: "transform",
  } as Record<string, string>)[m] ?? m;
}

function onErrorOf(s: Scenario, name: string): string {
  const p = s.plugins.find((p) => p.name === name);
  return p?.on_error ?? (p?.mode === "enforce_ignore_error" ? "ignore" : "fail");
}

function behaviourOf(s: Scenario, name: string, call: number): Behaviour {
  return s.plugins.find((p) => p.name === name)?.script[call] ?? {};
}

/** True when the plugin returned a result at this call (it did not throw or sleep). */
function returns(s: Scenario, name: string, call: number): boolean {
  const act = behaviourOf(s, name, call).act ?? "allow";
  return act !== "throw" && act !== "sleep";
}

function recordsOf(entry: Json): Json[] {
  return entry.result?.records ?? [];
}

/**
 * Q1/Q2 (README "Fire-and-forget plugins see the final payload ... and reuse their context"):
 * the reference hands a fire-and-forget plugin the original input and a brand-new context; we
 * hand it the final payload and its context from `localContexts`. Checked: every FAF trace event
 * of the reference saw the call's input and an empty local state; every one of ours saw our
 * final payload and the state its context had at the end of this request's previous call; our
 * returned context for it is that previous state plus the same writes the reference shows.
 */
const faf: Mask = {
  id: "Q1/Q2 fire-and-forget sees final payload and its context",
  apply({ scenario, index, ref, ours, oursAll }) {
    const fafNames = scenario.plugins.filter((p) => modeOf(scenario, p.name) === "fire_and_forget")
      .map((p) => p.name);
    const refEvents = (ref.trace ?? []).filter((e: Json) => fafNames.includes(e.plugin));
    const ourEvents = (ours.trace ?? []).filter((e: Json) => fafNames.includes(e.plugin));
    if (refEvents.length === 0 && ourEvents.length === 0) return false;
    if (refEvents.length !== ourEvents.length || !ref.result || !ours.result) return "mismatch";
    const call = scenario.calls[index];
    // Our previous context table for this request (what localContexts passed in).
    let previous: Json = null;
    if (call.pass_contexts) {
      for (let j = index - 1; j >= 0; j--) {
        if (scenario.calls[j].request !== call.request) continue;
        const c = oursAll.calls[j];
        if (c?.contexts) {
          previous = c.contexts;
          break;
        }
      }
    }
    const ourFinal = ours.result.modified_payload ?? ours.input;
    let differs = false;
    for (let k = 0; k < refEvents.length; k++) {
      const r = refEvents[k], o = ourEvents[k];
      if (r.plugin !== o.plugin) return "mismatch";
      const before = previous?.[o.plugin]?.state ?? {};
      if (!same(r.payload, ref.input) || !same(o.payload, ourFinal)) return "mismatch";
      if (!same(r.local, {}) || !same(o.local, before)) return "mismatch";
      if (!same(r.payload, o.payload) || !same(r.local, o.local)) differs = true;
      const writes = behaviourOf(scenario, o.plugin, index).local ?? {};
      const refState = ref.contexts?.[r.plugin]?.state ?? {};
      const ourState = ours.contexts?.[o.plugin]?.state ?? {};
      if (!same(refState, writes) || !same(ourState, { ...before, ...writes })) return "mismatch";
      if (!same(refState, ourState)) differs = true;
      r.payload = o.payload = "<Q1>";
      r.local = o.local = "<Q2>";
      if (ours.contexts?.[o.plugin]) ours.contexts[o.plugin] = ref.contexts?.[r.plugin];
    }
    return differs;
  },
};

/**
 * Q3 (README "`retry_delay_ms` survives a halt"; issue 11 item 10: also the hint of a
 * transform/audit plugin whose block was suppressed): the reference returns 0 on a halt and
 * loses a suppressed blocker's hint. Checked against the records: the reference's value is the
 * largest hint of the completed non-blocking plugins (0 on a halt), ours the largest of every
 * completed plugin that returned a result.
 */
const retry: Mask = {
  id: "Q3 retry hint survives a halt",
  apply({ scenario, index, ref, ours }) {
    if (!ref.result || !ours.result) return false;
    const hint = (records: Json[], withBlockers: boolean): number => {
      let max = 0;
      for (const r of records) {
        if (r.status !== "completed" || r.mode === "fire_and_forget") continue;
        if (!returns(scenario, r.plugin_name, index)) continue;
        const b = behaviourOf(scenario, r.plugin_name, index);
        if (!withBlockers && b.act === "block") continue;
        max = Math.max(max, b.retry ?? 0);
      }
      return max;
    };
    const halted = ref.result.continue_processing === false;
    const refExpected = halted ? 0 : hint(recordsOf(ref), false);
    const ourExpected = hint(recordsOf(ours), true);
    if (refExpected === ourExpected) return false;
    if (ref.result.retry_delay_ms !== refExpected || ours.result.retry_delay_ms !== ourExpected) {
      return "mismatch";
    }
    ours.result.retry_delay_ms = ref.result.retry_delay_ms;
    return true;
  },
};

/**
 * Issue 11 item 9 (README "`http_headers`"): our manager returns the plugins' `http_headers` (the
 * blocking plugin's too on a halt); the reference returns none. Checked: the reference's result
 * has no headers; ours has exactly the merge, in record order, of the headers of every completed
 * non-audit plugin that returned a result.
 */
const headers: Mask = {
  id: "item 9 http_headers returned",
  apply({ scenario, index, ref, ours }) {
    if (!ref.result || !ours.result) return false;
    let expected: Record<string, string> | undefined;
    for (const r of recordsOf(ours)) {
      if (r.status !== "completed" || r.mode === "fire_and_forget" || r.mode === "audit") continue;
      if (!returns(scenario, r.plugin_name, index)) continue;
      const h = behaviourOf(scenario, r.plugin_name, index).headers;
      if (h) expected = { ...expected, ...h };
    }
    if (expected === undefined && ours.result.http_headers === undefined) return false;
    if (ref.result.http_headers !== undefined || !same(ours.result.http_headers, expected)) {
      return "mismatch";
    }
    delete ours.result.http_headers;
    return true;
  },
};

/**
 * Q5 (README "Records say what happened"): an exception under on_error ignore/disable is
 * recorded by the reference as a clean `completed` allow; we record status `error`, code
 * `plugin_error` and the error's repr. Checked on every such record of both sides.
 */
const records: Mask = {
  id: "Q5 error records",
  apply({ scenario, index, ref, ours }) {
    const refRecs: Json[] = ref.result?.records ?? ref.error?.records ?? [];
    const ourRecs: Json[] = ours.result?.records ?? ours.error?.records ?? [];
    if (refRecs.length !== ourRecs.length) return false;
    let applied = false;
    for (let k = 0; k < refRecs.length; k++) {
      const r = refRecs[k], o = ourRecs[k];
      if (r.plugin_name !== o.plugin_name || r.mode === "fire_and_forget") continue;
      const b = behaviourOf(scenario, r.plugin_name, index);
      if (b.act !== "throw" || onErrorOf(scenario, r.plugin_name) === "fail") continue;
      const base = { plugin_name: r.plugin_name, mode: r.mode, effective_allow: true };
      const refShape = {
        ...base,
        status: "completed",
        requested_allow: true,
        matched: false,
        applied: false,
        payload_modified: false,
      };
      const ourShape = {
        ...base,
        status: "error",
        applied: false,
        payload_modified: false,
        error_code: "plugin_error",
        reason: `RuntimeError('boom ${r.plugin_name}')`,
      };
      const sorted = (x: Json) => JSON.stringify(x, Object.keys(x).sort());
      if (sorted(r) !== sorted(refShape) || sorted(o) !== sorted(ourShape)) return "mismatch";
      ourRecs[k] = r;
      applied = true;
    }
    return applied;
  },
};

/**
 * Q7 (README "Spans are always ended"): when an error propagates, the reference never ends the
 * chain span, nor the plugin spans of tasks it cancels; we end them. Checked: each such span is
 * open in the reference and ended by us: the chain span `ok` for a violation raised as an
 * exception, else `error`, with `plugin.chain.stopped` true and the stopping plugin's name; a
 * cancelled CONCURRENT plugin's span `error` without attributes.
 */
const spans: Mask = {
  id: "Q7 spans always ended",
  apply({ scenario, ref, ours }) {
    const a: Json[] = ref.spans ?? [], b: Json[] = ours.spans ?? [];
    if (a.length !== b.length) return false;
    let applied = false;
    for (let k = 0; k < a.length; k++) {
      if (a[k].status !== undefined || b[k].status === undefined || a[k].name !== b[k].name) {
        continue;
      }
      if (a[k].name === "plugin.hook.invoke") {
        const err = ours.error;
        const denied = (err?.records ?? []).filter((r: Json) => r.effective_allow === false);
        const stopper = err?.violation?.plugin_name ?? err?.plugin_name ??
          denied[denied.length - 1]?.plugin_name;
        const status = err?.type === "PluginViolationError" ? "ok" : "error";
        if (
          !ref.error || !err || b[k].status !== status ||
          b[k].end?.["plugin.chain.stopped"] !== true ||
          b[k].end?.["plugin.chain.stopped_by"] !== stopper
        ) return "mismatch";
      } else {
        // Only a CONCURRENT plugin cancelled by a halt or a failure leaves its span open there.
        const name = b[k].attributes?.["plugin.name"];
        const stopped = ours.error || ours.result?.continue_processing === false;
        if (
          !stopped || modeOf(scenario, name) !== "concurrent" || b[k].status !== "error" ||
          Object.keys(b[k].end ?? {}).length
        ) return "mismatch";
      }
      delete b[k].status;
      delete b[k].end;
      applied = true;
    }
    return applied;
  },
};

/**
 * Q6 (README "Concurrent failures cancel"): when a CONCURRENT plugin fails under on_error fail,
 * the reference leaves its still-running siblings in the background; a sibling that then times
 * out under on_error disable disables itself after the call. We abort those siblings, so they
 * stay enabled. Checked: the call raised the failing plugin's PluginError on both sides and the
 * reference's disabled set is ours plus exactly those sleeping disable-siblings. The rest of the
 * sequence runs with different plugin sets, so comparison stops after this call.
 */
const abandoned: Mask = {
  id: "Q6 concurrent siblings aborted",
  apply({ scenario, index, ref, ours }) {
    if (!ref.error || !ours.error || ref.error.type !== "PluginError") return false;
    const failing = ref.error.plugin_name;
    if (modeOf(scenario, failing) !== "concurrent") return false;
    if (same(ref.disabled, ours.disabled)) return false;
    const started = new Set((ref.trace ?? []).map((e: Json) => e.plugin));
    const siblings = scenario.plugins.filter((p) =>
      p.name !== failing && started.has(p.name) && modeOf(scenario, p.name) === "concurrent" &&
      onErrorOf(scenario, p.name) === "disable" &&
      behaviourOf(scenario, p.name, index).act === "sleep"
    ).map((p) => p.name);
    const expected = [...new Set([...(ours.disabled ?? []), ...siblings])].sort();
    if (!same(ref.disabled, expected) || ours.error.plugin_name !== failing) return "mismatch";
    ours.disabled = ref.disabled;
    return "stop";
  },
};

/**
 * Issue 11 item 5 (README "A hook listed twice"): the reference runs a plugin once per listing
 * of the hook (a fire-and-forget plugin once), we once. Checked per such plugin: the reference's
 * extra run is a second trace event and plugin span right after the first, and a second record
 * right after the first unless a CONCURRENT halt cancelled it (or none of these when the first
 * run halted or failed the call); the chain span's length is ours plus the extra listings, its
 * executed count ours plus the extra records, its skipped count ours plus one per listed-twice
 * plugin that was runtime-disabled before the call. Only those entries are removed.
 */
const duplicate: Mask = {
  id: "item 5 hook listed twice runs once",
  apply({ scenario, index, ref, ours, refAll }) {
    const hook = scenario.calls[index].hook;
    const dups = scenario.plugins.filter((p) =>
      p.hooks.filter((h) => h === hook).length > 1 && (refAll.loaded ?? []).includes(p.name)
    );
    if (dups.length === 0) return false;
    const disabledBefore: string[] = index > 0 ? refAll.calls[index - 1]?.disabled ?? [] : [];
    let listings = 0, extraRuns = 0, extraSkips = 0;
    let removed = 0;
    const removeSecond = (list: Json[] | undefined, match: (x: Json) => boolean): boolean => {
      if (!list) return true;
      const at = list.flatMap((x, k) => (match(x) ? [k] : []));
      if (at.length === 1 || at.length === 0) return true;
      if (at.length !== 2 || at[1] !== at[0] + 1) return false;
      list.splice(at[1], 1);
      removed++;
      return true;
    };
    for (const p of dups) {
      listings += p.hooks.filter((h) => h === hook).length - 1;
      const refRuns = (ref.trace ?? []).filter((e: Json) => e.plugin === p.name).length;
      const ourRuns = (ours.trace ?? []).filter((e: Json) => e.plugin === p.name).length;
      if (refRuns === 2 && ourRuns === 1) {
        const isP = (x: Json) => x.plugin === p.name;
        const isRec = (x: Json) => x.plugin_name === p.name;
        const isSpan = (x: Json) => x.name === `plugin.execute.${p.name}`;
        if (!removeSecond(ref.trace, isP) || !removeSecond(ref.spans, isSpan)) return "mismatch";
        // A run is executed (counted, recorded) unless a CONCURRENT halt cancelled it first.
        removed = 0;
        if (!removeSecond(ref.result?.records, isRec) || !removeSecond(ref.error?.records, isRec)) {
          return "mismatch";
        }
        extraRuns += removed;
      } else if (refRuns !== ourRuns) {
        return "mismatch";
      } else if (refRuns === 0 && disabledBefore.includes(p.name)) {
        extraSkips++;
      }
    }
    const a = ref.spans?.[0], b = ours.spans?.[0];
    if (a?.name === "plugin.hook.invoke" && b?.name === "plugin.hook.invoke") {
      const len = "plugin.chain.length";
      if (a.attributes[len] !== b.attributes[len] + listings) return "mismatch";
      a.attributes[len] = b.attributes[len];
      if (a.end && b.end) {
        const ex = "plugin.executed_count", sk = "plugin.skipped_count";
        if (a.end[ex] !== b.end[ex] + extraRuns || a.end[sk] !== b.end[sk] + extraSkips) {
          return "mismatch";
        }
        a.end[ex] = b.end[ex];
        a.end[sk] = b.end[sk];
      }
    }
    return true;
  },
};

/** Every mask, applied in this order (the item 5 mask first: it aligns the run lists). */
export const MASKS: Mask[] = [duplicate, faf, retry, headers, records, spans, abandoned];
