/**
 * The manager differential suite in CI: seeded scenarios through the reference's
 * `PluginManager` (cpex 0.1.4 in `.venv`) and ours on the same YAML; fails when any scenario
 * diverges beyond the named masks of documented differences. `CPEX_CONFORMANCE_N` (default
 * 500) and `CPEX_CONFORMANCE_SEED` run more; `CPEX_CONFORMANCE_ONLY=<i,j>` reruns scenarios.
 */
import assert from "node:assert/strict";
import { compareScenario } from "./compare.ts";
import { generate } from "./scenario_gen.ts";
import { describeDivergence, optionsFromEnv, PYTHON, runSuite } from "./suite.ts";

async function requireVenv(): Promise<void> {
  try {
    await Deno.stat(PYTHON);
  } catch {
    throw new Error(`${PYTHON} is missing: run bash tests/interop/setup_venv.sh first`);
  }
}

Deno.test("the reference and our manager agree on every generated scenario but the documented differences", async () => {
  await requireVenv();
  const options = optionsFromEnv();
  const report = await runSuite(options);
  const printouts = report.verdicts.filter((v) => v.diffs.length).slice(0, 20)
    .map((v) => describeDivergence(v, generate(options.seed, v.index)));
  if (printouts.length) console.log(printouts.join("\n"));
  console.log(report.line);
  assert.equal(report.agree + report.deliberate + report.divergent, report.scenarios);
  assert.equal(report.divergent, 0, `${report.divergent} divergent scenarios (printed above)`);
  // The suite compares real runs: many scenarios must agree with no mask at all.
  assert.ok(report.agree > 0, "no scenario agreed without a mask");
  // Every mask hides only its documented shape: changing the masked field on our side of a
  // masked call makes the scenario divergent.
  const checked: Record<string, number> = {};
  for (const v of report.verdicts) {
    for (const [id, call] of v.maskedCalls) {
      if ((checked[id] ?? 0) >= 3) continue;
      const s = generate(options.seed, v.index);
      const [ref, ours] = report.outcomes.get(v.index)!;
      const mutated = structuredClone(ours);
      if (!perturb(id, s, mutated.calls[call], ref.calls[call])) continue;
      const again = compareScenario(s, ref, mutated);
      assert.ok(
        again.diffs.length > 0,
        `mask ${id} hid a change (seed ${s.seed} index ${s.index})`,
      );
      checked[id] = (checked[id] ?? 0) + 1;
    }
  }
  for (const id of Object.keys(report.byMask)) {
    assert.ok(checked[id], `mask ${id} not self-checked`);
  }
});

// deno-lint-ignore no-explicit-any
type Json = any;

/** Changes the field `mask` covers in our outcome of one call; false when there is none. */
function perturb(mask: string, s: ReturnType<typeof generate>, call: Json, refCall: Json): boolean {
  if (mask.startsWith("item 9") && call.result) {
    call.result.http_headers = { ...call.result.http_headers, "x-conformance-extra": "1" };
    return true;
  }
  if (mask.startsWith("Q3") && call.result) {
    call.result.retry_delay_ms += 7;
    return true;
  }
  if (mask.startsWith("Q5")) {
    const rec = (call.result?.records ?? call.error?.records ?? []).find((r: Json) =>
      r.status === "error"
    );
    if (rec) rec.reason = "RuntimeError('other')";
    return !!rec;
  }
  if (mask.startsWith("Q1/Q2")) {
    const faf = s.plugins.filter((p) => p.mode === "fire_and_forget").map((p) => p.name);
    const ev = (call.trace ?? []).findLast((e: Json) => faf.includes(e.plugin));
    if (ev) ev.local = { ...ev.local, zzz: 1 };
    return !!ev;
  }
  if (mask.startsWith("Q7")) {
    // A span the reference left open and we ended.
    const span = (call.spans ?? []).find((x: Json, k: number) =>
      x.status !== null && refCall.spans[k]?.status === null
    );
    if (span) span.status = span.status === "ok" ? "error" : "ok";
    return !!span;
  }
  if (mask.startsWith("item 5")) {
    const chain = call.spans?.[0];
    if (chain?.name === "plugin.hook.invoke") chain.attributes["plugin.chain.length"] += 1;
    return chain?.name === "plugin.hook.invoke";
  }
  if (mask.startsWith("Q6")) {
    call.disabled = [...call.disabled, "zzz"];
    return true;
  }
  return false;
}

Deno.test("the generator is deterministic and covers every mode, alias, on_error, hook family and policy", () => {
  assert.deepEqual(generate(7, 3), generate(7, 3));
  assert.notDeepEqual(generate(7, 3).yaml, generate(7, 4).yaml);
  // Another seed is another set of scenarios, not the same ones shifted.
  const yamls = new Set<string>();
  for (let i = 0; i < 200; i++) yamls.add(generate(1, i).yaml).add(generate(3, i).yaml);
  assert.equal(yamls.size, 400);
  const modes = new Set<string | null>();
  const onErrors = new Set<string | null>();
  const hooks = new Set<string>();
  const acts = new Set<string>();
  let conditions = 0, ties = 0, raises = 0, shared = 0, policies = 0, deny = 0;
  for (let i = 0; i < 300; i++) {
    const s = generate(1, i);
    for (const p of s.plugins) {
      modes.add(p.mode);
      onErrors.add(p.on_error);
      if (p.conditions) conditions++;
      for (const b of p.script) if (b) acts.add(b.act ?? "allow");
    }
    const prios = s.plugins.map((p) => JSON.stringify(p.priority));
    if (new Set(prios).size < prios.length) ties++;
    for (const c of s.calls) {
      hooks.add(c.hook);
      if (c.raise) raises++;
    }
    if (s.calls.filter((c) => c.request === "r1").length > 1) shared++;
    if (s.policies) policies++;
    if (s.default_policy === "deny") deny++;
  }
  for (
    const m of [
      "sequential",
      "transform",
      "audit",
      "concurrent",
      "fire_and_forget",
      "disabled",
      "enforce",
      "enforce_ignore_error",
      "permissive",
      null,
    ]
  ) assert.ok(modes.has(m), `mode ${m}`);
  for (const e of ["fail", "ignore", "disable", null]) assert.ok(onErrors.has(e), `on_error ${e}`);
  for (
    const h of [
      "tool_pre_invoke",
      "tool_post_invoke",
      "prompt_pre_fetch",
      "prompt_post_fetch",
      "resource_pre_fetch",
      "resource_post_fetch",
      "agent_pre_invoke",
      "agent_post_invoke",
      "http_pre_request",
      "http_post_request",
      "http_auth_resolve_user",
      "http_auth_check_permission",
      "conformance_custom",
    ]
  ) assert.ok(hooks.has(h), `hook ${h}`);
  for (const a of ["allow", "modify", "block", "throw", "sleep"]) assert.ok(acts.has(a), a);
  assert.ok(conditions > 50 && ties > 50 && raises > 20 && shared > 50);
  assert.ok(policies > 30 && deny > 10, `policies ${policies}, default deny ${deny}`);
});

Deno.test("a documented difference whose shape is not the documented one counts as divergent", () => {
  const s = generate(1, 0);
  const call = (headers: unknown) => ({
    input: {},
    result: { continue_processing: true, http_headers: headers, records: [] },
    trace: [],
    spans: [],
    disabled: [],
    global_state: {},
  });
  const run = (headers: unknown) => ({ load_error: null, loaded: [], calls: [call(headers)] });
  // The reference never returns http_headers: if it did, the item 9 mask must not hide it.
  const verdict = compareScenario(
    { ...s, calls: s.calls.slice(0, 1) },
    run({ a: "1" }),
    run({ a: "1" }),
  );
  assert.ok(verdict.diffs.some((d) => d.includes("mask item 9")), verdict.diffs.join("\n"));
  // An unmasked field difference is reported with its path and both values.
  const plain = compareScenario({ ...s, calls: s.calls.slice(0, 1) }, run(null), {
    ...run(null),
    calls: [{ ...call(null), global_state: { g: 1 } }],
  });
  assert.deepEqual(plain.masks, []);
  assert.ok(plain.diffs.some((d) => d.includes("global_state")), plain.diffs.join("\n"));
});
