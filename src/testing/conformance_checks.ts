/**
 * The conformance scenario set: each check drives a plugin server through its wire
 * (see {@linkcode ConformanceDriver}) and fails with a message naming what differed. Checks
 * marked `probe` need the conformance probe ({@linkcode ConformanceProbe}); the others run
 * against any plugin the server hosts.
 *
 * @module
 */
import type {
  ConformanceDriver,
  ConformanceTransport,
  WireInvoke,
  WireReply,
} from "./conformance_driver.ts";
import type { GlobalContext } from "../types.ts";

/**
 * What a check gets: the driver and what the runner learnt about the server.
 */
export interface CheckContext {
  /** Raw access to the server. */
  readonly driver: ConformanceDriver;
  /** The transport in use. */
  readonly transport: ConformanceTransport;
  /** The plugins the generic checks drive, with their configs (as the server listed them). */
  readonly plugins: readonly Record<string, unknown>[];
  /** The probe's name and hooks, when the server hosts it. */
  readonly probe: { readonly name: string; readonly hooks: readonly string[] } | null;
  /** Calls in flight in the concurrency check. */
  readonly concurrency: number;
  /** Deadline of one wire call in ms. */
  readonly timeoutMs: number;
}

/**
 * One scenario of the conformance set. `run` throws to fail (its message says what differed)
 * and returns `{ skip }` when it does not apply.
 *
 * @example
 * ```ts
 * import { CONFORMANCE_CHECKS } from "@cpex/core/testing";
 * console.log(CONFORMANCE_CHECKS.map((c) => c.id).includes("violation")); // true
 * ```
 */
export interface ConformanceCheck {
  /** Stable id (what `--check` selects and reports name). */
  readonly id: string;
  /** One line saying what is checked. */
  readonly title: string;
  /** True when the check needs the conformance probe. */
  readonly probe: boolean;
  /** Runs the check. */
  run(context: CheckContext): Promise<void | { skip: string }>;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Sample payloads of every built-in hook family (valid for the reference's models). */
export const SAMPLE_PAYLOADS: Readonly<Record<string, Record<string, unknown>>> = {
  tool_pre_invoke: { name: "conformance_tool", args: { q: "hello" } },
  tool_post_invoke: {
    name: "conformance_tool",
    result: { content: [{ type: "text", text: "ok" }], isError: false },
  },
  prompt_pre_fetch: { prompt_id: "conformance_prompt", args: { user: "alice" } },
  prompt_post_fetch: {
    prompt_id: "conformance_prompt",
    result: { messages: [{ role: "user", content: { type: "text", text: "Hi" } }] },
  },
  resource_pre_fetch: { uri: "file:///conformance.txt", metadata: { k: "v" } },
  resource_post_fetch: {
    uri: "file:///conformance.txt",
    content: { type: "resource", uri: "file:///conformance.txt", text: "hello" },
  },
  agent_pre_invoke: {
    agent_id: "planner",
    messages: [{ role: "user", content: "plan my week" }],
    model: "conformance-model",
  },
  agent_post_invoke: {
    agent_id: "planner",
    messages: [{ role: "assistant", content: "done" }],
    tool_calls: [{ name: "calendar", arguments: { day: "monday" } }],
  },
  http_pre_request: {
    path: "/api/tools",
    method: "GET",
    client_host: "10.0.0.1",
    client_port: 5000,
    headers: { "x-conformance": "1" },
  },
  http_post_request: {
    path: "/api/tools",
    method: "GET",
    client_host: "10.0.0.1",
    client_port: 5000,
    headers: { "x-conformance": "1" },
    response_headers: { "x-request-id": "r1" },
    status_code: 200,
  },
  http_auth_resolve_user: {
    credentials: { scheme: "bearer", token: "t" },
    headers: { authorization: "Bearer t" },
    client_host: "10.0.0.1",
  },
  http_auth_check_permission: {
    user_email: "alice@example.com",
    permission: "tools.execute",
    resource_type: "tool",
    is_admin: false,
  },
};

function globalContext(extra: Partial<GlobalContext> = {}): GlobalContext {
  return {
    request_id: `conformance-${crypto.randomUUID()}`,
    server_id: "conformance-server",
    state: {},
    metadata: {},
    ...extra,
  } as GlobalContext;
}

function request(
  hook: string,
  plugin: string,
  payload: Record<string, unknown>,
  context: Partial<WireInvoke["context"]> = {},
): WireInvoke {
  return {
    hook_type: hook,
    plugin_name: plugin,
    payload,
    context: {
      state: context.state ?? {},
      metadata: context.metadata ?? {},
      global_context: context.global_context ?? globalContext(),
    },
  };
}

async function call(c: CheckContext, req: WireInvoke): Promise<WireReply> {
  return await c.driver.invoke(req, AbortSignal.timeout(c.timeoutMs));
}

/** A failed expectation (the message is what the report shows). */
export class CheckFailure extends Error {
  /** Creates the failure. */
  constructor(message: string) {
    super(message);
    this.name = "CheckFailure";
  }
}

function fail(message: string): never {
  throw new CheckFailure(message);
}

function show(value: unknown): string {
  if (typeof value === "number" && Object.is(value, -0)) return "-0";
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

interface CompareOptions {
  /** Keys of `actual` objects that `expected` lacks are allowed (defaults filled in). */
  subset?: boolean;
  /** -0 must come back as -0. */
  signedZero?: boolean;
}

/** The first difference between `expected` and `actual` as `path: detail`, or null. */
export function jsonDifference(
  expected: unknown,
  actual: unknown,
  options: CompareOptions = {},
  path = "",
): string | null {
  const at = path || "(root)";
  if (typeof expected === "number") {
    if (typeof actual !== "number") return `${at}: expected ${show(expected)}, got ${show(actual)}`;
    const same = options.signedZero ? Object.is(expected, actual) : expected === actual;
    return same ? null : `${at}: expected ${show(expected)}, got ${show(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at}: expected a list, got ${show(actual)}`;
    if (actual.length !== expected.length) {
      return `${at}: expected ${expected.length} items, got ${actual.length}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const d = jsonDifference(expected[i], actual[i], options, `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return `${at}: expected an object, got ${show(actual)}`;
    for (const key of Object.keys(expected)) {
      const sub = path ? `${path}.${key}` : key;
      if (!Object.hasOwn(actual, key)) return `${sub}: missing`;
      const d = jsonDifference(expected[key], actual[key], options, sub);
      if (d) return d;
    }
    if (!options.subset) {
      for (const key of Object.keys(actual)) {
        if (!Object.hasOwn(expected, key)) {
          return `${path ? `${path}.${key}` : key}: unexpected`;
        }
      }
    }
    return null;
  }
  return expected === actual ? null : `${at}: expected ${show(expected)}, got ${show(actual)}`;
}

function expectSame(
  what: string,
  expected: unknown,
  actual: unknown,
  options: CompareOptions = {},
): void {
  const d = jsonDifference(expected, actual, options);
  if (d) fail(`${what}: ${d}`);
}

function expectResult(reply: WireReply, what: string): Record<string, unknown> {
  if (reply.error) fail(`${what}: expected a result, got error ${show(reply.error)}`);
  if (!isObject(reply.result)) fail(`${what}: the reply has no result`);
  return reply.result;
}

function expectError(reply: WireReply, what: string): Record<string, unknown> {
  if (reply.result) fail(`${what}: expected an error, got result ${show(reply.result)}`);
  if (!isObject(reply.error)) fail(`${what}: the reply has no error`);
  const message = reply.error.message;
  if (typeof message !== "string" || message === "") {
    fail(`${what}: the error has no message: ${show(reply.error)}`);
  }
  return reply.error;
}

function probeOrSkip(c: CheckContext, hook = "tool_pre_invoke"): string | { skip: string } {
  if (!c.probe) return { skip: "the server hosts no conformance probe" };
  if (!c.probe.hooks.includes(hook)) return { skip: `the probe does not declare ${hook}` };
  return c.probe.name;
}

function isProtobuf(t: ConformanceTransport): boolean {
  return t === "grpc" || t === "unix";
}

async function echo(
  c: CheckContext,
  probe: string,
  payload: Record<string, unknown>,
  what: string,
  options: CompareOptions = {},
): Promise<void> {
  const reply = await call(c, request("tool_pre_invoke", probe, payload));
  const result = expectResult(reply, what);
  if (result.continue_processing === false) fail(`${what}: continue_processing is false`);
  expectSame(`${what} (modified_payload)`, payload, result.modified_payload, {
    subset: true,
    ...options,
  });
}

// ---------------------------------------------------------------------------------------------
// Checks that need no special plugin

const configList: ConformanceCheck = {
  id: "config.list",
  title: "get_plugin_configs lists entries with a name and a hook list",
  probe: false,
  async run(c) {
    const configs = await c.driver.listConfigs(AbortSignal.timeout(c.timeoutMs));
    if (configs.length === 0) return { skip: "the server lists no plugin" };
    for (const config of configs) {
      if (typeof config.name !== "string" || config.name === "") {
        fail(`an entry has no name: ${show(config)}`);
      }
      const hooks = config.hooks ?? [];
      if (!Array.isArray(hooks) || hooks.some((h) => typeof h !== "string")) {
        fail(`${config.name}: hooks is not a list of strings: ${show(config.hooks)}`);
      }
    }
  },
};

const configGet: ConformanceCheck = {
  id: "config.get",
  title: "get_plugin_config answers each plugin's entry (name matched case-insensitively)",
  probe: false,
  async run(c) {
    if (c.plugins.length === 0) return { skip: "no plugin to ask for" };
    for (const listed of c.plugins) {
      const name = String(listed.name);
      for (const asked of [name, name.toUpperCase()]) {
        const config = await c.driver.getConfig(asked, AbortSignal.timeout(c.timeoutMs));
        if (!config) fail(`get_plugin_config(${show(asked)}) found nothing`);
        if (String(config.name).toLowerCase() !== name.toLowerCase()) {
          fail(`get_plugin_config(${show(asked)}) answered ${show(config.name)}`);
        }
      }
    }
  },
};

const configUnknown: ConformanceCheck = {
  id: "config.unknown",
  title: "get_plugin_config of an unknown plugin answers not found",
  probe: false,
  async run(c) {
    const name = `conformance-no-such-plugin-${crypto.randomUUID().slice(0, 8)}`;
    const config = await c.driver.getConfig(name, AbortSignal.timeout(c.timeoutMs));
    if (config) fail(`answered an entry: ${show(config)}`);
  },
};

const unknownPlugin: ConformanceCheck = {
  id: "invoke.unknown_plugin",
  title: "invoke_hook of an unknown plugin answers an error (no result)",
  probe: false,
  async run(c) {
    const name = `conformance-no-such-plugin-${crypto.randomUUID().slice(0, 8)}`;
    const reply = await call(c, request("tool_pre_invoke", name, SAMPLE_PAYLOADS.tool_pre_invoke));
    expectError(reply, "unknown plugin");
  },
};

const unknownHook: ConformanceCheck = {
  id: "invoke.unknown_hook",
  title: "invoke_hook of a hook the plugin does not declare (or nobody knows) answers an error",
  probe: false,
  async run(c) {
    const targets = c.plugins.length > 0 ? c.plugins : c.probe ? [{ name: c.probe.name }] : [];
    if (targets.length === 0) return { skip: "no plugin to drive" };
    for (const config of targets) {
      const name = String(config.name);
      const reply = await call(c, request("conformance_no_such_hook", name, { name: "x" }));
      expectError(reply, `hook conformance_no_such_hook of ${name}`);
      // A built-in hook the plugin does not declare (wire.md §1.2: "Unable to find ...").
      const declared = Array.isArray(config.hooks) ? config.hooks : [];
      const other = Object.keys(SAMPLE_PAYLOADS).find((h) => !declared.includes(h));
      if (!other || !Array.isArray(config.hooks)) continue;
      const undeclared = await call(
        c,
        request(other, name, structuredClone(SAMPLE_PAYLOADS[other])),
      );
      expectError(undeclared, `undeclared hook ${other} of ${name}`);
    }
  },
};

const answerShape: ConformanceCheck = {
  id: "invoke.shape",
  title: "each plugin answers its first hook with a result or an error of the wire shape",
  probe: false,
  async run(c) {
    let driven = 0;
    for (const config of c.plugins) {
      const name = String(config.name);
      const hook = (Array.isArray(config.hooks) ? config.hooks : []).find((h) =>
        typeof h === "string" && Object.hasOwn(SAMPLE_PAYLOADS, h)
      ) as string | undefined;
      if (!hook) continue;
      driven++;
      const reply = await call(c, request(hook, name, structuredClone(SAMPLE_PAYLOADS[hook])));
      if (reply.result && reply.error) fail(`${name}: the reply has both a result and an error`);
      if (reply.error) {
        expectError(reply, `${name}.${hook}`);
        continue;
      }
      const result = expectResult(reply, `${name}.${hook}`);
      if (typeof result.continue_processing !== "boolean") {
        fail(`${name}.${hook}: continue_processing is ${show(result.continue_processing)}`);
      }
      const v = result.violation;
      if (v != null && (!isObject(v) || typeof v.code !== "string")) {
        fail(`${name}.${hook}: malformed violation ${show(v)}`);
      }
      if (result.continue_processing === false && v == null) {
        fail(`${name}.${hook}: blocked without a violation`);
      }
    }
    if (driven === 0) return { skip: "no plugin declares a built-in hook" };
  },
};

// ---------------------------------------------------------------------------------------------
// Checks that need the probe

function hookCheck(hook: string): ConformanceCheck {
  return {
    id: `hook.${hook}`,
    title: `${hook}: the payload arrives and the result comes back`,
    probe: true,
    async run(c) {
      const probe = probeOrSkip(c, hook);
      if (typeof probe !== "string") return probe;
      const payload = structuredClone(SAMPLE_PAYLOADS[hook]);
      const reply = await call(c, request(hook, probe, payload));
      const result = expectResult(reply, hook);
      if (result.continue_processing !== true) {
        fail(`${hook}: continue_processing is ${show(result.continue_processing)}`);
      }
      const metadata = result.metadata;
      if (!isObject(metadata)) fail(`${hook}: the result has no metadata`);
      if (hook === "tool_pre_invoke") {
        if (metadata.probe !== "echo") fail(`${hook}: metadata.probe is ${show(metadata.probe)}`);
        expectSame(`${hook} (modified_payload)`, payload, result.modified_payload, {
          subset: true,
        });
        return;
      }
      if (metadata.probe !== hook) fail(`${hook}: metadata.probe is ${show(metadata.probe)}`);
      expectSame(`${hook} (payload seen by the plugin)`, payload, metadata.seen, { subset: true });
    },
  };
}

const violation: ConformanceCheck = {
  id: "violation",
  title: "a violation's code, reason, description, details and error codes survive",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    const details = {
      word: "forbidden",
      positions: [0, 4],
      nested: { strict: true, ratio: 0.25, none: null },
      "ünïcödé": "✓",
    };
    const args = {
      op: "block",
      reason: "Denied word",
      description: "argument q contains a denied word",
      code: "CONFORMANCE_DENY",
      details,
      mcp_error_code: -32001,
      http_status_code: 403,
    };
    const reply = await call(c, request("tool_pre_invoke", probe, { name: "t", args }));
    const result = expectResult(reply, "block");
    if (result.continue_processing !== false) {
      fail(`continue_processing is ${show(result.continue_processing)}, expected false`);
    }
    const v = result.violation;
    if (!isObject(v)) fail(`no violation in ${show(result)}`);
    expectSame(
      "violation",
      {
        reason: args.reason,
        description: args.description,
        code: args.code,
        details,
        mcp_error_code: -32001,
        http_status_code: 403,
      },
      v,
      { subset: true },
    );
  },
};

const pluginError: ConformanceCheck = {
  id: "error.plugin_error",
  title: "a PluginError's message, code, plugin name, details and mcp_error_code survive",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    const details = { limit: 5, scope: ["tools"], "ключ": "значение" };
    const args = {
      op: "raise",
      message: "quota exhausted ✗",
      code: "CONFORMANCE_QUOTA",
      details,
      mcp_error_code: -32002,
    };
    const error = expectError(
      await call(c, request("tool_pre_invoke", probe, { name: "t", args })),
      "raise",
    );
    expectSame(
      "error",
      {
        message: args.message,
        code: args.code,
        mcp_error_code: args.mcp_error_code,
      },
      error,
      { subset: true },
    );
    if (error.plugin_name !== probe) {
      fail(`error.plugin_name is ${show(error.plugin_name)}, expected ${show(probe)}`);
    }
    // The reference's raw Unix server drops an error's details (wire.md §6.2): allowed there.
    const d = error.details;
    const dropped = d === undefined || (isObject(d) && Object.keys(d).length === 0);
    if (c.transport === "unix" && dropped) return;
    expectSame("error.details", details, d);
  },
};

const exceptionError: ConformanceCheck = {
  id: "error.exception",
  title: "a plain exception answers an error carrying its message (no result)",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    const message = `conformance failure ${crypto.randomUUID().slice(0, 8)}`;
    const error = expectError(
      await call(
        c,
        request("tool_pre_invoke", probe, {
          name: "t",
          args: { op: "raise_plain", message },
        }),
      ),
      "raise_plain",
    );
    if (!String(error.message).includes(message)) {
      fail(`error.message ${show(error.message)} does not contain ${show(message)}`);
    }
  },
};

const contextRoundTrip: ConformanceCheck = {
  id: "context.round_trip",
  title: "local state and metadata, global state and ids reach the plugin and come back",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    const state = { a: 1, nested: { b: [1, "two", null] } };
    const metadata = { m: "x" };
    const global = globalContext({
      tenant_id: "conformance-tenant",
      user: "alice",
      state: { g: true },
      metadata: { gm: "meta" },
    });
    const first = await call(
      c,
      request("tool_pre_invoke", probe, { name: "t", args: { op: "context", value: "v1" } }, {
        state,
        metadata,
        global_context: global,
      }),
    );
    const result = expectResult(first, "first call");
    const seen = isObject(result.metadata) ? result.metadata.seen : undefined;
    expectSame("what the plugin saw", {
      state,
      metadata,
      global_state: { g: true },
      request_id: global.request_id,
      server_id: global.server_id,
      tenant_id: "conformance-tenant",
      user: "alice",
    }, seen);
    const back = first.context;
    if (!isObject(back)) fail("the reply carries no context although the plugin set state");
    expectSame("returned context.state", { ...state, probe: "v1" }, back.state);
    expectSame("returned context.metadata", { ...metadata, probe: "v1" }, back.metadata);
    const backGlobal = isObject(back.global_context) ? back.global_context.state : undefined;
    expectSame("returned global state", { g: true, probe: "v1" }, backGlobal);
    // Second call: the gateway sends back what it got; the plugin must see it.
    const second = await call(
      c,
      request("tool_pre_invoke", probe, { name: "t", args: { op: "context", value: "v2" } }, {
        state: back.state as Record<string, unknown>,
        metadata: back.metadata as Record<string, unknown>,
        global_context: { ...global, state: backGlobal as Record<string, unknown> },
      }),
    );
    const seen2 = expectResult(second, "second call").metadata;
    expectSame(
      "what the plugin saw on the second call",
      {
        seen: { state: { probe: "v1" }, global_state: { probe: "v1" } },
      },
      seen2,
      { subset: true },
    );
  },
};

const unicode: ConformanceCheck = {
  id: "unicode",
  title: "non-ASCII text (names, keys, emoji, RTL, combining, controls) survives unchanged",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    await echo(c, probe, {
      name: "tööl-名前-🔧",
      args: {
        op: "echo",
        latin: "héllo wörld — ü ß ø æ",
        cjk: "日本語のテキスト 中文 한국어",
        emoji: "🦕👩🏽‍💻🏳️‍🌈",
        rtl: "مرحبا بالعالم שלום",
        combining: "e\u0301 a\u0308",
        invisible: "a\u200bb\u2060c\ufeff",
        controls: "tab\tnewline\ncr\r nul\u0000 bell\u0007",
        quotes: "\"quoted\" 'single' \\ back/slash",
        astral: "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈",
        "ключ-🔑": { "内側": ["α", "β", "γ"] },
      },
    }, "echo");
  },
};

const numbers: ConformanceCheck = {
  id: "numbers",
  title: "integers up to 2^53, 2^60, floats, extremes, booleans and null survive",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    await echo(c, probe, {
      name: "t",
      args: {
        op: "echo",
        zero: 0,
        int: 3,
        neg: -7,
        i32: 2147483648,
        max_safe: Number.MAX_SAFE_INTEGER,
        min_safe: Number.MIN_SAFE_INTEGER,
        p60: 2 ** 60,
        half: 1.5,
        tenth: 0.1,
        third: 1 / 3,
        exp: -2.5e-8,
        tiny: Number.MIN_VALUE,
        huge: Number.MAX_VALUE,
        list: [1, 2.5, -3, 0],
        t: true,
        f: false,
        nil: null,
      },
    }, "echo");
  },
};

const negativeZero: ConformanceCheck = {
  id: "numbers.negative_zero",
  title: "-0 keeps its sign on protobuf transports (JSON sends 0)",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    // JSON.stringify(-0) is "0": over MCP the sign is gone before the request leaves.
    await echo(c, probe, { name: "t", args: { op: "echo", neg_zero: -0, list: [-0] } }, "echo", {
      signedZero: isProtobuf(c.transport),
    });
  },
};

const nonFinite: ConformanceCheck = {
  id: "numbers.non_finite",
  title: "NaN and ±Infinity: sent as null over JSON (protobuf clients refuse them)",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    if (isProtobuf(c.transport)) {
      return { skip: "not sendable: a Struct with NaN breaks the receiver (wire.md §4.2)" };
    }
    const payload = { name: "t", args: { op: "echo", nan: NaN, inf: Infinity, ninf: -Infinity } };
    const reply = await call(c, request("tool_pre_invoke", probe, payload));
    const result = expectResult(reply, "echo");
    expectSame(
      "modified_payload",
      {
        name: "t",
        args: { op: "echo", nan: null, inf: null, ninf: null },
      },
      result.modified_payload,
      { subset: true },
    );
  },
};

const concurrency: ConformanceCheck = {
  id: "concurrency",
  title: "calls in flight at once are all answered, each matched to its request",
  probe: true,
  async run(c) {
    const probe = probeOrSkip(c);
    if (typeof probe !== "string") return probe;
    const n = c.concurrency;
    const tag = crypto.randomUUID();
    // Later calls sleep less, so answers come back out of order.
    const replies = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        call(
          c,
          request("tool_pre_invoke", probe, {
            name: `t${i}`,
            args: { op: "sleep", ms: ((n - i) * 7) % 50, id: i, tag },
          }),
        )),
    );
    const wrong: string[] = [];
    replies.forEach((settled, i) => {
      if (settled.status === "rejected") {
        wrong.push(
          `#${i}: ${settled.reason instanceof Error ? settled.reason.message : settled.reason}`,
        );
        return;
      }
      const result = settled.value.result;
      const p = isObject(result) ? result.modified_payload : undefined;
      const args = isObject(p) ? p.args : undefined;
      if (
        !isObject(p) || p.name !== `t${i}` || !isObject(args) || args.id !== i || args.tag !== tag
      ) {
        wrong.push(`#${i}: got ${show(settled.value)}`);
      }
    });
    if (wrong.length) {
      fail(`${wrong.length} of ${n} calls answered wrongly: ${wrong.slice(0, 3).join("; ")}`);
    }
  },
};

/**
 * The conformance checks, in the order they run.
 *
 * @example
 * ```ts
 * import { CONFORMANCE_CHECKS } from "@cpex/core/testing";
 * for (const check of CONFORMANCE_CHECKS) console.log(check.id, check.title);
 * ```
 */
export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [
  configList,
  configGet,
  configUnknown,
  unknownPlugin,
  unknownHook,
  answerShape,
  ...Object.keys(SAMPLE_PAYLOADS).map(hookCheck),
  violation,
  pluginError,
  exceptionError,
  contextRoundTrip,
  unicode,
  numbers,
  negativeZero,
  nonFinite,
  concurrency,
];
