/**
 * Cross-checks our protobuf codec and converters against the Python reference (cpex 0.1.4 in
 * `.venv`, created by `tests/interop/setup_venv.sh`): same schema, byte-identical encodings of
 * the messages the reference builds, and each side decoding the other's bytes to the same data.
 *
 * Run: `deno test --sanitize-ops --sanitize-resources --allow-read --allow-run tests/interop/`
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type CpexMessageName,
  decodeMessage,
  encodeMessage,
} from "../../src/external/proto/codec.ts";
import {
  fromStruct,
  pluginContextFromProto,
  pluginContextToProto,
  pluginErrorFromProto,
  toStruct,
} from "../../src/external/proto/struct.ts";
import { replyFromProto } from "../../src/external/proto/proto_call.ts";
import type { GlobalContext, PluginContextData, PluginErrorModel } from "../../src/types.ts";

const ROOT = new URL("../../", import.meta.url);
const PYTHON = new URL(".venv/bin/python", ROOT).pathname;
const SCRIPT = new URL("tests/interop/proto_vectors.py", ROOT).pathname;

type Json = Record<string, unknown>;

interface Vector {
  name: string;
  type: CpexMessageName;
  spec: Json;
  hex: string;
}

async function python(mode: string, stdin?: string): Promise<unknown> {
  try {
    await Deno.stat(PYTHON);
  } catch {
    throw new Error(
      `${PYTHON} not found: the interop suite needs the Python reference. ` +
        "Run `bash tests/interop/setup_venv.sh` first (creates .venv with cpex[grpc]==0.1.4).",
    );
  }
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT, mode],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `proto_vectors.py ${mode} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(text);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The map key order of upb's deterministic serialization: byte order, but when one key is a
 * prefix of the other the longer comes first ("namespace" before "name"). Code-unit order
 * equals UTF-8 byte order for the keys used here.
 */
function upbKeyOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return b.length - a.length;
}

/** Python's deterministic serialization sorts map keys; so do we before comparing bytes. */
function sortKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeys) as T;
  if (v !== null && typeof v === "object") {
    const out: Json = {};
    for (const k of Object.keys(v).sort(upbKeyOrder)) out[k] = sortKeys((v as Json)[k]);
    return out as T;
  }
  return v;
}

function contextOf(dump: Json): PluginContextData {
  const s = sortKeys(dump) as unknown as PluginContextData;
  return s;
}

/** Builds the message a vector describes with our converters, the way our peers will. */
/**
 * `cpex.PluginError` as the reference writes it (empty strings and zero left out). Our server
 * bounds and defaults its errors (`errorToProto`), so the vectors are built here.
 */
function errorToWire(e: PluginErrorModel): Json {
  const p: Json = {};
  if (e.message) p.message = e.message;
  if (e.plugin_name) p.plugin_name = e.plugin_name;
  if (e.code) p.code = e.code;
  if (e.details && Object.keys(e.details).length) p.details = toStruct(e.details);
  if (e.mcp_error_code) p.mcp_error_code = e.mcp_error_code;
  return p;
}

/**
 * `cpex.DenialMetadata` as the published cpex 0.1.4 writes it (booleans, integers, doubles; the
 * rest dropped). Our gateway does not read `result_base` (it takes the `result` Struct), so
 * only these interop vectors need it.
 */
function denialToWire(metadata: Json): Json {
  const fields: Json = {};
  for (const [key, v] of Object.entries(metadata)) {
    if (typeof v === "boolean") fields[key] = { boolean: v };
    else if (typeof v === "number") {
      fields[key] = Number.isSafeInteger(v) ? { integer: v } : { floating: v };
    }
  }
  return { fields };
}

/** A decoded `cpex.DenialMetadata` back as JSON. */
function denialFromWire(p: { fields?: Record<string, Json> } | null | undefined): Json {
  const out: Json = {};
  for (const [key, m] of Object.entries(p?.fields ?? {})) {
    if (Object.hasOwn(m, "boolean")) out[key] = m.boolean === true;
    else if (Object.hasOwn(m, "floating")) out[key] = Number(m.floating);
    else if (Object.hasOwn(m, "integer")) out[key] = Number(String(m.integer));
  }
  return out;
}

function buildOurs(v: Vector): Json {
  const s = v.spec;
  switch (v.name.split("/")[0]) {
    case "invoke_request":
      return {
        hook_type: s.hook_type,
        plugin_name: s.plugin_name,
        payload: toStruct(sortKeys(s.payload as Json)),
        context: pluginContextToProto(contextOf(s.context as Json)),
      };
    case "invoke_response": {
      const msg: Json = { plugin_name: s.plugin_name };
      if (s.result) {
        const { denial_metadata, ...rest } = s.result as Json;
        msg.result = toStruct(sortKeys(rest));
        if (denial_metadata != null) {
          msg.result_base = {
            denial_metadata: denialToWire(sortKeys(denial_metadata as Json)),
          };
        }
      }
      if (s.context) msg.context = pluginContextToProto(contextOf(s.context as Json));
      if (s.error) msg.error = errorToWire(s.error as unknown as PluginErrorModel);
      return msg;
    }
    case "config_response":
      return s.found ? { found: true, config: toStruct(sortKeys(s.config as Json)) } : {};
    case "configs_response":
      return { configs: (s.configs as Json[]).map((c) => toStruct(sortKeys(c))) };
    case "health_request":
      return {};
    default:
      return s;
  }
}

let vectorsCache: Vector[] | undefined;
async function vectors(): Promise<Vector[]> {
  return vectorsCache ??= await python("vectors") as Vector[];
}

Deno.test("our proto compiles to exactly the reference's schema descriptor", async () => {
  const d = await python("descriptor") as { reference?: Json; ours?: Json; skipped?: string };
  if (d.skipped) throw new Error(`descriptor comparison impossible: ${d.skipped}`);
  assert.deepEqual(d.ours, d.reference);
});

Deno.test("we encode every reference message byte for byte", async () => {
  for (const v of await vectors()) {
    const ours = encodeMessage(v.type, buildOurs(v) as never);
    assert.equal(hex(ours), v.hex, `${v.name}: bytes differ from the reference`);
  }
});

Deno.test("we decode every reference message to the data it was built from", async () => {
  for (const v of await vectors()) {
    const msg = decodeMessage(v.type, fromHex(v.hex)) as Json;
    const s = v.spec;
    switch (v.type) {
      case "InvokeHookRequest": {
        assert.equal(msg.hook_type, s.hook_type, v.name);
        assert.equal(msg.plugin_name, s.plugin_name, v.name);
        assert.deepEqual(fromStruct(msg.payload as never), s.payload, v.name);
        const ctx = pluginContextFromProto(msg.context as never);
        const want = s.context as { global_context: GlobalContext } & Json;
        const g = want.global_context;
        assert.deepEqual(ctx, {
          global_context: {
            request_id: g.request_id,
            user: g.user ?? null,
            tenant_id: g.tenant_id ?? null,
            server_id: g.server_id ?? null,
            state: g.state,
            metadata: g.metadata,
          },
          state: want.state,
          metadata: want.metadata,
        }, v.name);
        break;
      }
      case "InvokeHookResponse": {
        if (s.error) {
          assert.deepEqual(pluginErrorFromProto(msg.error as never, "x"), s.error, v.name);
          break;
        }
        const { denial_metadata, ...rest } = s.result as Json;
        assert.deepEqual(fromStruct(msg.result as never), rest, v.name);
        const base = msg.result_base as { denial_metadata?: never } | null;
        if (denial_metadata != null) {
          assert.deepEqual(denialFromWire(base?.denial_metadata), denial_metadata, v.name);
        } else {
          assert.equal(base, null, v.name);
        }
        if (s.context) {
          const reply = replyFromProto({ context: msg.context as never }, "x");
          const got = "context" in reply ? reply.context : null;
          const want = s.context as PluginContextData;
          assert.deepEqual(got?.state, want.state, v.name);
          assert.deepEqual(got?.metadata, want.metadata, v.name);
          assert.deepEqual(got?.globalState ?? {}, want.global_context.state ?? {}, v.name);
        }
        break;
      }
      case "GetPluginConfigResponse":
        assert.equal(msg.found, s.found === true, v.name);
        if (s.found) assert.deepEqual(fromStruct(msg.config as never), s.config, v.name);
        break;
      case "GetPluginConfigsResponse":
        assert.deepEqual((msg.configs as never[]).map((c) => fromStruct(c)), s.configs, v.name);
        break;
      case "GetPluginConfigRequest":
        assert.equal(msg.name, s.name, v.name);
        break;
      case "HealthCheckResponse":
        assert.equal(msg.status, s.status, v.name);
        break;
    }
  }
});

Deno.test("the reference decodes what we encode to the same data", async () => {
  const payload = {
    name: "search",
    args: {
      q: "ünïcødé 中文 🎉",
      limit: 10,
      ratio: 0.25,
      neg: -3,
      l: [1, "a", null, true, {}, []],
    },
    headers: null,
  };
  const context: PluginContextData = {
    global_context: {
      request_id: "req-9",
      server_id: "srv",
      tenant_id: "t",
      user: { email: "a@b.c" },
      state: { g: [1, 2] },
      metadata: { m: { deep: true } },
      user_context: { user_id: "dropped" },
      content_type: "dropped",
    },
    state: { local: "s" },
    metadata: {},
  };
  const items = [
    {
      name: "request",
      type: "InvokeHookRequest",
      hex: hex(encodeMessage("InvokeHookRequest", {
        hook_type: "tool_pre_invoke",
        plugin_name: "P",
        payload: toStruct(payload),
        context: pluginContextToProto(context),
      })),
    },
    {
      name: "response",
      type: "InvokeHookResponse",
      hex: hex(encodeMessage("InvokeHookResponse", {
        plugin_name: "P",
        result: toStruct({ continue_processing: true, modified_payload: payload, metadata: {} }),
        context: pluginContextToProto({
          global_context: { request_id: "x", state: { seen: 1 } },
          state: { calls: 2 },
          metadata: { note: "n" },
        }),
        result_base: { denial_metadata: denialToWire({ score: 0.5, n: 7, ok: true }) },
      })),
    },
    {
      name: "error",
      type: "InvokeHookResponse",
      hex: hex(encodeMessage("InvokeHookResponse", {
        plugin_name: "P",
        error: errorToWire({
          message: "boom",
          plugin_name: "P",
          code: "INTERNAL_ERROR",
          details: { k: 1 },
          mcp_error_code: -32603,
        }),
      })),
    },
  ];
  const seen = await python("decode", JSON.stringify(items)) as Json[];
  const [req, res, err] = seen;
  assert.equal(req.parse_error, undefined);
  assert.deepEqual(req.payload, payload);
  assert.deepEqual(req.context, {
    state: { local: "s" },
    metadata: {},
    global_context: {
      request_id: "req-9",
      user: { email: "a@b.c" },
      user_context: null,
      tenant_id: "t",
      server_id: "srv",
      content_type: null,
      state: { g: [1, 2] },
      metadata: { m: { deep: true } },
    },
  });
  assert.deepEqual(res.result, {
    continue_processing: true,
    modified_payload: payload,
    metadata: {},
    denial_metadata: { score: 0.5, n: 7, ok: true },
  });
  assert.deepEqual(res.context, {
    state: { calls: 2 },
    metadata: { note: "n" },
    global_context: {
      request_id: "gateway",
      user: null,
      user_context: null,
      tenant_id: null,
      server_id: null,
      content_type: null,
      state: { seen: 1 },
      metadata: {},
    },
  });
  assert.deepEqual((err.dict as Json).error, {
    message: "boom",
    plugin_name: "P",
    code: "INTERNAL_ERROR",
    details: { k: 1 },
    mcp_error_code: -32603,
  });
});
