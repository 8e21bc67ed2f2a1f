/**
 * Seeded scenario generator of the manager differential suite. `generate(seed, index)` is a pure
 * function: the same seed and index always give the same scenario, so one divergence is
 * reproduced alone with `CPEX_CONFORMANCE_SEED=<seed> CPEX_CONFORMANCE_ONLY=<index>`.
 *
 * A scenario is one YAML config (1-8 `behaviour_plugin.BehaviourPlugin` entries: every mode and
 * legacy alias, priorities with ties, every on_error, conditions that match and that do not, now
 * and then a hook listed twice, a scripted behaviour per call in `config.script`) and a sequence of 1-5 hook calls of one hook
 * family (tool, prompt, resource, agent, http, or the custom hook), spread over one or two
 * requests whose calls share contexts.
 *
 * @module
 */
import { CUSTOM_HOOK } from "./behaviour_plugin.ts";
import type { Behaviour } from "./behaviour_plugin.ts";

/** The global context of one request (reused across its calls, like a gateway does). */
export interface RequestSpec {
  request_id: string;
  server_id: string | null;
  tenant_id: string | null;
  user: string | Record<string, unknown> | null;
  content_type: string | null;
}

/** One hook call of the sequence. */
export interface Call {
  hook: string;
  request: string;
  payload: Record<string, unknown>;
  /** Pass the context table returned by this request's previous call. */
  pass_contexts: boolean;
  /** violations_as_exceptions. */
  raise: boolean;
}

/** One generated plugin (as written to the YAML). */
export interface PluginSpec {
  name: string;
  hooks: string[];
  mode: string | null;
  on_error: string | null;
  /** The priority's YAML text, or null when absent. */
  priority: string | null;
  conditions: Record<string, string[]>[] | null;
  script: (Behaviour | null)[];
}

/** A generated scenario. */
export interface Scenario {
  seed: number;
  index: number;
  /** The manager timeout in seconds. */
  timeout: number;
  yaml: string;
  plugins: PluginSpec[];
  requests: Record<string, RequestSpec>;
  calls: Call[];
  /** Per-hook payload policies (writable fields), passed to both managers; null: none. */
  policies: Record<string, string[]> | null;
  /** The default hook policy passed to both managers; null: the default (`allow`). */
  default_policy: "allow" | "deny" | null;
}

/** The manager timeout of every scenario, in seconds. */
export const TIMEOUT = 0.15;
/** How long a sleeping plugin sleeps: far past the timeout (it is cancelled at the timeout). */
export const SLEEP_SECONDS = 30;
/** The kind both managers resolve to their behaviour plugin class. */
export const KIND = "behaviour_plugin.BehaviourPlugin";

/** mulberry32: a small deterministic PRNG. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      if ((r -= w) < 0) return item;
    }
    return items[items.length - 1][0];
  }
}

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The PRNG seed of scenario `index` of `seed`: different seeds give unrelated scenario sets. */
function mix(seed: number, index: number): number {
  return fmix((fmix(seed >>> 0) + Math.imul(index, 0x9e3779b1)) >>> 0);
}

const FAMILIES: Record<string, string[]> = {
  tool: ["tool_pre_invoke", "tool_post_invoke"],
  prompt: ["prompt_pre_fetch", "prompt_post_fetch"],
  resource: ["resource_pre_fetch", "resource_post_fetch"],
  agent: ["agent_pre_invoke", "agent_post_invoke"],
  http: [
    "http_pre_request",
    "http_post_request",
    "http_auth_resolve_user",
    "http_auth_check_permission",
  ],
  custom: [CUSTOM_HOOK],
};

/** Target names; the odd ones are plain YAML scalars PyYAML keeps as strings (issue 11 item 1). */
const NAMES = ["search", "delete_all", "echo", "y", "n", "08", "1e3"];
const REQUESTS: Record<string, RequestSpec> = {
  r1: {
    request_id: "req-1",
    server_id: "srv-a",
    tenant_id: "ten-a",
    user: "alice@example.com",
    content_type: "application/json",
  },
  r2: {
    request_id: "req-2",
    server_id: "srv-b",
    tenant_id: null,
    user: "bob",
    content_type: "text/plain; charset=utf-8",
  },
  // A structured user: the reference's user_patterns test the dict's keys (Q17).
  r3: {
    request_id: "req-3",
    server_id: "srv-a",
    tenant_id: "ten-a",
    user: { alice: true, name: "carol" },
    content_type: null,
  },
};

/** Top-level payload fields a policy may list, per hook. */
const POLICY_FIELDS: Record<string, string[]> = {
  tool_pre_invoke: ["name", "args"],
  tool_post_invoke: ["name", "result"],
  prompt_pre_fetch: ["prompt_id", "args"],
  prompt_post_fetch: ["prompt_id", "result"],
  resource_pre_fetch: ["uri", "metadata"],
  resource_post_fetch: ["uri", "content"],
  agent_pre_invoke: ["agent_id", "messages", "parameters"],
  agent_post_invoke: ["agent_id", "tool_calls"],
  http_pre_request: ["path", "headers", "root"],
  http_post_request: ["path", "headers", "root"],
  http_auth_resolve_user: ["credentials", "headers"],
  http_auth_check_permission: ["granted", "reason", "permission"],
  [CUSTOM_HOOK]: ["item", "data"],
};

function payloadFor(rng: Rng, hook: string, name: string): Record<string, unknown> {
  switch (hook) {
    case "tool_pre_invoke":
      return {
        name,
        args: rng.weighted<Record<string, unknown>>([
          [{ q: "hello wörld", n: rng.int(0, 9) }, 6],
          [{}, 2],
          [{ flag: false, nested: { deep: [1, { x: null }] }, f: 1.5 }, 1],
        ]),
      };
    case "tool_post_invoke":
      return {
        name,
        result: rng.weighted<unknown>([
          [{ ok: true, items: [1, 2] }, 6],
          ["plain text ✓", 1],
          [[1, "two", { three: 3 }], 1],
          [null, 1],
        ]),
      };
    case "prompt_pre_fetch":
      return { prompt_id: name, args: rng.chance(0.2) ? {} : { topic: "cats ✓" } };
    case "prompt_post_fetch":
      return { prompt_id: name, result: { messages: [{ role: "user", text: "hi" }] } };
    case "resource_pre_fetch":
      return { uri: `file:///${name}`, metadata: {} };
    case "resource_post_fetch":
      return { uri: `file:///${name}`, content: { text: "body" } };
    case "agent_pre_invoke":
      return { agent_id: name, messages: [{ role: "user", content: "go" }], parameters: {} };
    case "agent_post_invoke":
      return { agent_id: name, messages: [{ role: "assistant", content: "done" }] };
    case "http_pre_request":
      return { path: "/api/x", method: "GET", headers: { "x-req": "1" } };
    case "http_post_request":
      return { path: "/api/x", method: "GET", headers: { "x-req": "1" }, status_code: 200 };
    case "http_auth_resolve_user":
      return { credentials: { token: "t" }, headers: { authorization: "Bearer t" } };
    case "http_auth_check_permission":
      return { user_email: "alice@example.com", permission: "tools.read", is_admin: false };
    default:
      return { item: name, data: {} };
  }
}

function conditionTarget(hook: string): string | null {
  if (hook.startsWith("tool_")) return "tools";
  if (hook.startsWith("prompt_")) return "prompts";
  if (hook.startsWith("resource_")) return "resources";
  if (hook.startsWith("agent_")) return "agents";
  return null;
}

function targetValue(field: string, name: string): string {
  return field === "resources" ? `file:///${name}` : name;
}

function conditions(rng: Rng, family: string[], name: string): Record<string, string[]>[] {
  const out: Record<string, string[]>[] = [];
  const n = rng.int(1, 2);
  for (let i = 0; i < n; i++) {
    const c: Record<string, string[]> = {};
    const fields = rng.int(1, 2);
    for (let f = 0; f < fields; f++) {
      const field = rng.pick([
        "target",
        "target",
        "other_target",
        "server_ids",
        "tenant_ids",
        "user_patterns",
        "content_types",
      ]);
      const own = conditionTarget(family[0]);
      if (field === "target" || field === "other_target") {
        const t = field === "target" && own ? own : rng.pick(["tools", "prompts", "agents"]);
        c[t] = [targetValue(t, rng.chance(0.6) ? name : rng.pick(NAMES))];
      } else if (field === "server_ids") c.server_ids = [rng.pick(["srv-a", "srv-b", "srv-z"])];
      else if (field === "tenant_ids") c.tenant_ids = [rng.pick(["ten-a", "ten-z"])];
      else if (field === "user_patterns") c.user_patterns = [rng.pick(["alice", "bob", "carol"])];
      else c.content_types = [rng.pick(["application/json", "TEXT/PLAIN", "text/html"])];
    }
    out.push(c);
  }
  return out;
}

let valueCounter = 0;
function value(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => rng.int(-5, 100),
    () => `v${rng.int(0, 9)}`,
    () => "ünï ✓",
    () => ({ nested: { n: rng.int(0, 3) } }),
    () => [rng.int(0, 3), "x"],
    () => null,
    () => true,
    () => `s${valueCounter++ % 5}`,
  ])();
}

function writes(rng: Rng, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = rng.int(1, 2);
  for (let i = 0; i < n; i++) out[`${prefix}${rng.int(0, 3)}`] = value(rng);
  return out;
}

function behaviour(rng: Rng, plugin: string, hook: string): Behaviour | null {
  if (rng.chance(0.15)) return null;
  const act = rng.weighted<Behaviour["act"]>([
    ["allow", 40],
    ["modify", 22],
    ["block", 14],
    ["throw", 9],
    ["sleep", 4],
  ]);
  const b: Behaviour = { act };
  if (rng.chance(0.3)) b.local = writes(rng, "l");
  if (rng.chance(0.3)) b.global = writes(rng, "g");
  if (rng.chance(0.3)) b.meta = writes(rng, "m");
  // The manager drops the reserved key from plugins' metadata.
  if (rng.chance(0.04)) b.meta = { ...b.meta, _decision_plugin: plugin };
  if (rng.chance(0.1)) b.gmeta = writes(rng, "h");
  if (rng.chance(0.12)) b.retry = rng.pick([50, 100, 250]);
  if (rng.chance(0.12)) b.headers = { [`x-rate-${plugin}`]: String(rng.int(1, 9)) };
  if (act === "sleep") b.seconds = SLEEP_SECONDS;
  if (act === "modify" || (act === "block" && rng.chance(0.3))) {
    b.modify = true;
    b.tag = `${plugin}-${rng.int(0, 99)}`;
    if (hook === "http_auth_check_permission") b.granted = rng.chance(0.7);
  }
  if (act === "block" ? rng.chance(0.85) : rng.chance(0.06)) {
    const v: Record<string, unknown> = {
      reason: `${plugin} says no`,
      description: `blocked by ${plugin} ✗`,
      code: rng.pick(["DENY", "PII", "RATE_LIMIT"]),
      details: rng.chance(0.5) ? { plugin, n: rng.int(0, 9), nested: { ok: false } } : {},
    };
    if (rng.chance(0.3)) v.http_status_code = rng.pick([403, 429]);
    if (rng.chance(0.2)) v.mcp_error_code = -32001;
    b.violation = v;
  }
  return b;
}

/** YAML plain scalar if it is one of the names we want plain, else a JSON (double-quoted) string. */
function scalar(s: string): string {
  return /^[A-Za-z0-9_@./:-]+$/.test(s) && !s.includes(": ") ? s : JSON.stringify(s);
}

function flowList(items: string[]): string {
  return `[${items.map(scalar).join(", ")}]`;
}

function toYaml(plugins: PluginSpec[], rng: Rng): string {
  const lines = ["plugins:"];
  for (const p of plugins) {
    lines.push(`  - name: ${p.name}`);
    lines.push(`    kind: ${KIND}`);
    lines.push(`    hooks: ${flowList(p.hooks)}`);
    if (p.mode !== null) lines.push(`    mode: ${p.mode}`);
    if (p.on_error !== null) lines.push(`    on_error: ${p.on_error}`);
    if (p.priority !== null) lines.push(`    priority: ${p.priority}`);
    if (p.conditions) {
      lines.push("    conditions:");
      for (const c of p.conditions) {
        const entries = Object.entries(c);
        entries.forEach(([k, v], i) => {
          lines.push(`${i === 0 ? "      - " : "        "}${k}: ${flowList(v)}`);
        });
      }
    }
    // JSON is YAML: the script round-trips exactly through both loaders.
    lines.push(`    config: ${JSON.stringify({ script: p.script })}`);
  }
  if (rng.chance(0.2)) {
    lines.push("plugin_settings:", "  fail_on_plugin_error: false");
  }
  return lines.join("\n") + "\n";
}

/**
 * Lists one hook twice (issue 11 item 5: the reference runs the plugin once per listing, we
 * once). Only for plugins without conditions (so a skip is a runtime disable), and without the
 * two modifications that are not idempotent (appending to a list), so running twice changes
 * nothing but what the item 5 mask removes.
 */
function duplicateHook(hooks: string[], script: (Behaviour | null)[], calls: Call[]): void {
  const hook = hooks.includes(calls[0].hook) ? calls[0].hook : hooks[0];
  hooks.push(hook);
  calls.forEach((c, i) => {
    const b = script[i];
    if (c.hook !== hook || !b) return;
    if (c.hook !== "agent_post_invoke" && c.hook !== "prompt_post_fetch") return;
    if (b.act === "modify") b.act = "allow";
    delete b.modify;
    delete b.tag;
  });
}

/** The reference's payload size limit, in characters. */
const LIMIT = 1_000_000;

/**
 * Puts a payload within two characters of the size limit into `call` (issue 11 item 2): the
 * reference counts the code points of each `args` value's Python `str()` (`True`, `{'a': 1}`),
 * or of `result`'s, so the emoji (two UTF-16 units, one code point) and the dict rendering
 * decide which side of the limit it lands.
 */
function bigPayload(rng: Rng, call: Call): void {
  const d = rng.int(-1, 2);
  const body = (length: number) => {
    const emoji = rng.int(0, 3);
    return "😀".repeat(emoji) + "x".repeat(length - emoji);
  };
  if (call.hook === "tool_pre_invoke") {
    // str(True) = "True" (4), str({"a": 1}) = "{'a': 1}" (8), str(7) = "7" (1).
    call.payload.args = { big: body(LIMIT + d - 13), flag: true, obj: { a: 1 }, n: 7 };
  } else if (call.hook === "prompt_pre_fetch") {
    call.payload.args = { big: body(LIMIT + d - 3), t: "abc" };
  } else if (call.hook === "tool_post_invoke") {
    // str({"t": s}) = "{'t': '" + s + "'}" (9 more).
    call.payload.result = rng.chance(0.5) ? { t: body(LIMIT + d - 9) } : body(LIMIT + d);
  }
}

/** Generates scenario `index` of `seed`. */
export function generate(seed: number, index: number): Scenario {
  const rng = new Rng(mix(seed, index));
  valueCounter = 0;
  const familyName = rng.weighted(
    [
      ["tool", 5],
      ["prompt", 2],
      ["resource", 2],
      ["agent", 2],
      ["http", 3],
      ["custom", 1],
    ] as const,
  );
  const family = FAMILIES[familyName];
  const name = rng.pick(NAMES);
  // The call sequence: pre/post pairs (or repeats) over one or two requests.
  const nCalls = rng.int(1, 5);
  const calls: Call[] = [];
  for (let i = 0; i < nCalls; i++) {
    const hook = family.length === 2
      ? family[(i % 2 === 0) === rng.chance(0.85) ? 0 : 1]
      : rng.pick(family);
    calls.push({
      hook,
      request: rng.weighted([["r1", 15], ["r2", 4], ["r3", 1]] as const),
      payload: payloadFor(rng, hook, rng.chance(0.85) ? name : rng.pick(NAMES)),
      pass_contexts: rng.chance(0.9),
      raise: rng.chance(0.15),
    });
  }
  if (rng.chance(0.04)) bigPayload(rng, calls[0]);
  const usedHooks = [...new Set(calls.map((c) => c.hook))];
  const n = rng.int(1, 8);
  const plugins: PluginSpec[] = [];
  for (let i = 0; i < n; i++) {
    const pname = `p${i}`;
    let hooks = usedHooks.filter(() => rng.chance(0.8));
    if (hooks.length === 0) hooks = [rng.pick(usedHooks)];
    if (rng.chance(0.1)) hooks.push(rng.pick(family.filter((h) => !hooks.includes(h))) ?? hooks[0]);
    hooks = [...new Set(hooks)];
    const mode = rng.weighted<string | null>([
      [null, 6],
      ["sequential", 14],
      ["transform", 12],
      ["audit", 8],
      ["concurrent", 12],
      ["fire_and_forget", 8],
      ["disabled", 3],
      ["SEQUENTIAL", 0.2], // refused by both (modes are case-sensitive)
      ["enforce", 3],
      ["enforce_ignore_error", 3],
      ["permissive", 3],
    ]);
    const on_error = rng.weighted<string | null>([
      [null, 4],
      ["fail", 3],
      ["ignore", 4],
      ["disable", 4],
      ["explode", 0.1], // refused by both
    ]);
    // The YAML text of the priority (null: absent).
    const priority = rng.weighted<string | null>([
      [null, 3],
      ["1", 2],
      ["5", 4],
      ["10", 4],
      ["-3", 1],
      ['"7"', 1], // a numeric string, coerced
      ["true", 1], // coerced to 1 by the reference (issue 11 item 6)
      ["5.0", 0.3], // an integral float the reference accepts
      ["2.5", 0.2], // refused by the reference (not integral)
    ]);
    const conds = rng.chance(0.3) ? conditions(rng, family, name) : null;
    const script = calls.map((c) => behaviour(rng, pname, c.hook));
    if (!conds && rng.chance(0.06)) duplicateHook(hooks, script, calls);
    plugins.push({ name: pname, hooks, mode, on_error, priority, conditions: conds, script });
  }
  const requests: Record<string, RequestSpec> = {};
  for (const c of calls) requests[c.request] = REQUESTS[c.request];
  // Payload policies (programmatic on both sides, not YAML): writable fields per hook.
  let policies: Record<string, string[]> | null = null;
  let default_policy: "allow" | "deny" | null = null;
  const p = rng.next();
  if (p < 0.25) {
    policies = {};
    for (const hook of usedHooks) {
      if (rng.chance(0.3)) continue;
      policies[hook] = POLICY_FIELDS[hook].filter(() => rng.chance(0.6));
    }
    if (rng.chance(0.3)) default_policy = rng.pick(["allow", "deny"] as const);
  } else if (p < 0.3) {
    default_policy = "deny";
  }
  return {
    seed,
    index,
    timeout: TIMEOUT,
    yaml: toYaml(plugins, rng),
    plugins,
    requests,
    calls,
    policies,
    default_policy,
  };
}
