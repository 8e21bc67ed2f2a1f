/**
 * Tests of the protobuf codec and the Struct/context converters (wire.md §4.1, §4.2, §4.5,
 * §6.2, §6.5): byte-for-byte comparison with the reference's observed messages, round trips
 * of every message the Unix transport uses, and the conversion rules.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessage,
  type InvokeHookResponse,
  ProtobufDecodeError,
  protoRoot,
  ServingStatus,
} from "../src/external/proto/codec.ts";
import { PLUGIN_SERVICE_PROTO } from "../src/external/proto/proto_source.ts";
import {
  fromStruct,
  globalContextFromProto,
  globalContextToProto,
  MAX_STRUCT_DEPTH,
  pluginContextFromProto,
  pluginContextToProto,
  pluginErrorFromProto,
  type ProtoValue,
  StructConversionError,
  toStruct,
} from "../src/external/proto/struct.ts";
import { replyFromProto } from "../src/external/proto/proto_call.ts";
import type { RemoteReply } from "../src/external/remote_plugin.ts";
import { encodeFrame } from "../src/external/unix/frame.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** One JSON value as a `google.protobuf.Value`, through the live Struct converter. */
function toValue(value: unknown): ProtoValue {
  return toStruct({ v: [value] }).fields!.v.listValue!.values![0];
}

/** One `google.protobuf.Value` back to JSON, through the live Struct converter. */
function fromValue(value: ProtoValue | null | undefined): unknown {
  return (fromStruct({ fields: { v: { listValue: { values: [value as ProtoValue] } } } })
    .v as unknown[])[0];
}

/** Value bytes of `toValue(v)` inside `Struct{ "k": v }` (field 1 entry, value field 2). */
function valueHex(v: unknown): string {
  const bytes = encodeMessage("GetPluginConfigResponse", { config: toStruct({ k: v }) });
  // 12 <len> 0a <len> 0a 01 6b 12 <vlen> <value...>: strip the framing up to the value.
  const h = hex(bytes);
  const at = h.indexOf("0a016b12");
  return h.slice(at + 8 + 2);
}

// Observed bytes from wire.md §4.5 / §6.5 (cpex 0.1.4 reference, deterministic map order).
const INVOKE_REQUEST_HEX =
  "0a0f746f6f6c5f7072655f696e766f6b65120841726747756172641a3c0a1b0a046172677312132a110a0f0a047465787412071a0568656c6c6f0a0d0a0768656164657273120208000a0e0a046e616d6512061a046563686f22100a0e0a057265712d3112057372762d31";
const INVOKE_RESPONSE_HEX =
  "0a0841726747756172641281030a190a13636f6e74696e75655f70726f63657373696e67120220000a100a0a657865637574696f6e73120232000a120a0c687474705f68656164657273120208000a0e0a086d65746164617461120208000a190a136d6f6469666965645f657874656e73696f6e73120208000a160a106d6f6469666965645f7061796c6f6164120208000a1b0a0e72657472795f64656c61795f6d7312091100000000000000000add010a0976696f6c6174696f6e12cf012acc010a160a04636f6465120e1a0c424c4f434b45445f574f52440a380a0b6465736372697074696f6e12291a27417267756d656e742027746578742720636f6e7461696e73206120626c6f636b656420776f72640a1c0a0764657461696c7312112a0f0a0d0a0361726712061a04746578740a120a0c687474705f68656164657273120208000a160a10687474705f7374617475735f636f6465120208000a140a0e6d63705f6572726f725f636f6465120208000a180a06726561736f6e120e1a0c426c6f636b656420776f7264";
const ERROR_RESPONSE_HEX =
  "0a044e6f706522670a54556e61626c6520746f2066696e6420746f6f6c5f7072655f696e766f6b6520666f7220706c7567696e204e6f70652e20204d616b6520737572652074686520706c7567696e20697320726567697374657265642e12044e6f706528a581feffffffffffff01";
const UNKNOWN_MESSAGE_HEX =
  "22270a14556e6b6e6f776e206d65737361676520747970651a0f554e4b4e4f574e5f4d455353414745";

/** The blocking result of §2.4/§4.5 as the reference dumps it, keys in sorted order. */
const BLOCKED_RESULT = {
  continue_processing: false,
  executions: [],
  http_headers: null,
  metadata: null,
  modified_extensions: null,
  modified_payload: null,
  retry_delay_ms: 0,
  violation: {
    code: "BLOCKED_WORD",
    description: "Argument 'text' contains a blocked word",
    details: { arg: "text" },
    http_headers: null,
    http_status_code: null,
    mcp_error_code: null,
    reason: "Blocked word",
  },
};

// ---------------------------------------------------------------------------------------------
// Schema

Deno.test("embedded proto source equals proto/plugin_service.proto byte for byte", async () => {
  const onDisk = await Deno.readTextFile(
    new URL("../proto/plugin_service.proto", import.meta.url),
  );
  assert.ok(
    PLUGIN_SERVICE_PROTO === onDisk,
    "src/external/proto/proto_source.ts is stale: run `deno run --allow-read=proto " +
      "--allow-write=src/external/proto/proto_source.ts proto/gen_proto_source.ts`",
  );
});

Deno.test("schema has the reference's services, methods and field numbers", () => {
  const root = protoRoot();
  const svc = root.lookupService("cpex.PluginService");
  assert.deepEqual(
    Object.values(svc.methods).map((m) => [m.name, m.requestType, m.responseType]),
    [
      ["GetPluginConfig", "GetPluginConfigRequest", "GetPluginConfigResponse"],
      ["GetPluginConfigs", "GetPluginConfigsRequest", "GetPluginConfigsResponse"],
      ["InvokeHook", "InvokeHookRequest", "InvokeHookResponse"],
    ],
  );
  const health = root.lookupService("cpex.Health");
  assert.deepEqual(Object.keys(health.methods), ["Check"]);
  const fields = (name: string) =>
    root.lookupType(`cpex.${name}`).fieldsArray.map((f) => `${f.id}:${f.name}:${f.type}`);
  assert.deepEqual(fields("InvokeHookRequest"), [
    "1:hook_type:string",
    "2:plugin_name:string",
    "3:payload:google.protobuf.Struct",
    "4:context:PluginContext",
  ]);
  assert.deepEqual(fields("InvokeHookResponse"), [
    "1:plugin_name:string",
    "2:result:google.protobuf.Struct",
    "3:context:PluginContext",
    "4:error:PluginError",
    "5:result_base:PluginResultBase",
  ]);
  assert.deepEqual(fields("GlobalContext"), [
    "1:request_id:string",
    "2:server_id:string",
    "3:tenant_id:string",
    "4:user_string:string",
    "5:user_struct:google.protobuf.Struct",
    "6:metadata:google.protobuf.Struct",
    "7:state:google.protobuf.Struct",
  ]);
  assert.deepEqual(
    root.lookupType("cpex.GlobalContext").oneofsArray.map((o) => [o.name, o.oneof]),
    [["user_value", ["user_string", "user_struct"]]],
  );
  assert.deepEqual(fields("PluginError"), [
    "1:message:string",
    "2:plugin_name:string",
    "3:code:string",
    "4:details:google.protobuf.Struct",
    "5:mcp_error_code:int32",
  ]);
  assert.deepEqual(fields("PluginViolation"), [
    "1:reason:string",
    "2:description:string",
    "3:code:string",
    "4:plugin_name:string",
    "5:details:google.protobuf.Struct",
    "6:mcp_error_code:int32",
  ]);
  assert.deepEqual(
    root.lookupEnum("cpex.HealthCheckResponse.ServingStatus").values,
    { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 },
  );
});

// ---------------------------------------------------------------------------------------------
// Observed bytes

Deno.test("tool_pre_invoke request encodes to the reference's observed 107 bytes", () => {
  const bytes = encodeMessage("InvokeHookRequest", {
    hook_type: "tool_pre_invoke",
    plugin_name: "ArgGuard",
    payload: toStruct({ args: { text: "hello" }, headers: null, name: "echo" }),
    context: pluginContextToProto({
      global_context: { request_id: "req-1", server_id: "srv-1", state: {}, metadata: {} },
      state: {},
      metadata: {},
    }),
  });
  assert.equal(bytes.byteLength, 107);
  assert.equal(hex(bytes), INVOKE_REQUEST_HEX);
  assert.equal(hex(encodeFrame(bytes).subarray(0, 4)), "0000006b");
});

Deno.test("the reference's tool_pre_invoke request decodes to its payload and context", () => {
  const req = decodeMessage("InvokeHookRequest", fromHex(INVOKE_REQUEST_HEX));
  assert.equal(req.hook_type, "tool_pre_invoke");
  assert.equal(req.plugin_name, "ArgGuard");
  assert.deepEqual(fromStruct(req.payload), {
    args: { text: "hello" },
    headers: null,
    name: "echo",
  });
  const ctx = pluginContextFromProto(req.context);
  assert.deepEqual(ctx, {
    global_context: {
      request_id: "req-1",
      user: null,
      tenant_id: null,
      server_id: "srv-1",
      state: {},
      metadata: {},
    },
    state: {},
    metadata: {},
  });
});

Deno.test("blocking result response encodes to the reference's observed 398 bytes", () => {
  const bytes = encodeMessage("InvokeHookResponse", {
    plugin_name: "ArgGuard",
    result: toStruct(BLOCKED_RESULT),
  });
  assert.equal(bytes.byteLength, 398);
  assert.equal(hex(bytes), INVOKE_RESPONSE_HEX);
  assert.equal(hex(encodeFrame(bytes).subarray(0, 4)), "0000018e");
});

Deno.test("the reference's blocking result decodes with numbers as plain numbers", () => {
  const res = decodeMessage("InvokeHookResponse", fromHex(INVOKE_RESPONSE_HEX));
  assert.equal(res.plugin_name, "ArgGuard");
  assert.equal(res.context, null, "no context field");
  assert.equal(res.error, null, "no error field");
  assert.equal(res.result_base, null);
  assert.deepEqual(fromStruct(res.result), BLOCKED_RESULT);
});

Deno.test("unknown-plugin error response matches the reference's bytes both ways", () => {
  const message =
    "Unable to find tool_pre_invoke for plugin Nope.  Make sure the plugin is registered.";
  const bytes = encodeMessage("InvokeHookResponse", {
    plugin_name: "Nope",
    error: { message, plugin_name: "Nope", mcp_error_code: -32603 },
  });
  assert.equal(hex(bytes), ERROR_RESPONSE_HEX);
  assert.equal(hex(encodeFrame(bytes).subarray(0, 4)), "0000006f");
  const res = decodeMessage("InvokeHookResponse", bytes);
  assert.equal(res.result, null);
  assert.deepEqual(pluginErrorFromProto(res.error!, "ignored"), {
    message,
    plugin_name: "Nope",
    code: "",
    details: {},
    mcp_error_code: -32603,
  });
});

Deno.test("negative mcp_error_code is a 10-byte varint", () => {
  const bytes = encodeMessage("PluginError", { mcp_error_code: -32603 });
  assert.equal(hex(bytes), "28a581feffffffffffff01");
});

Deno.test("unknown-message-type reply matches the reference's bytes", () => {
  const bytes = encodeMessage("InvokeHookResponse", {
    error: { message: "Unknown message type", code: "UNKNOWN_MESSAGE" },
  });
  assert.equal(hex(bytes), UNKNOWN_MESSAGE_HEX);
  const err = decodeMessage("InvokeHookResponse", bytes).error!;
  assert.deepEqual(pluginErrorFromProto(err, "ArgGuard"), {
    message: "Unknown message type",
    plugin_name: "ArgGuard",
    code: "UNKNOWN_MESSAGE",
    details: {},
    mcp_error_code: 0,
  });
});

Deno.test("config query messages match the reference's bytes", () => {
  const req = encodeMessage("GetPluginConfigRequest", { name: "ArgGuard" });
  assert.equal(hex(req), "0a084172674775617264");
  assert.equal(hex(encodeFrame(req)), "0000000a0a084172674775617264");
  assert.equal(encodeMessage("GetPluginConfigResponse", {}).byteLength, 0, "not found");
  assert.equal(encodeMessage("GetPluginConfigsRequest", {}).byteLength, 0);
  const found = encodeMessage("GetPluginConfigResponse", {
    found: true,
    config: toStruct({ priority: 10 }),
  });
  assert.equal(hex(found.subarray(0, 3)), "0801" + "12");
  const cfg = decodeMessage("GetPluginConfigResponse", found);
  assert.equal(cfg.found, true);
  assert.deepEqual(fromStruct(cfg.config), { priority: 10 });
  const empty = decodeMessage("GetPluginConfigResponse", new Uint8Array(0));
  assert.equal(empty.found, false);
  assert.equal(empty.config, null);
});

// ---------------------------------------------------------------------------------------------
// Round trips of the Unix transport's messages

Deno.test("every Unix transport message round-trips", () => {
  const configs = [
    { name: "A", hooks: ["tool_pre_invoke"], priority: 10, config: { words: ["x"] } },
    { name: "B", hooks: [], mode: "audit", conditions: [] },
  ];
  const cases = {
    GetPluginConfigRequest: { name: "ArgGuard" },
    GetPluginConfigResponse: { found: true, config: toStruct(configs[0]) },
    GetPluginConfigsRequest: {},
    GetPluginConfigsResponse: { configs: configs.map((c) => toStruct(c)) },
    InvokeHookRequest: {
      hook_type: "prompt_pre_fetch",
      plugin_name: "P",
      payload: toStruct({ prompt_id: "p1", args: { a: "b" } }),
      context: pluginContextToProto({
        global_context: {
          request_id: "r",
          user: { email: "a@b.c", roles: ["x"] },
          tenant_id: "t",
          server_id: "s",
          state: { g: 1 },
          metadata: { m: true },
        },
        state: { local: [1, 2] },
        metadata: { lm: "v" },
      }),
    },
    InvokeHookResponse: {
      plugin_name: "P",
      result: toStruct({ continue_processing: true, modified_payload: { prompt_id: "p2" } }),
      context: pluginContextToProto({
        global_context: { request_id: "r", state: { g: 2 } },
        state: { seen: true },
        metadata: {},
      }),
      error: {
        message: "m",
        plugin_name: "P",
        code: "C",
        details: toStruct({ d: 1 }),
        mcp_error_code: -32000,
      },
    },
    HealthCheckRequest: { service: "cpex.PluginService" },
    HealthCheckResponse: { status: ServingStatus.SERVING },
  } as const;
  for (const [name, msg] of Object.entries(cases)) {
    const typeName = name as keyof typeof cases;
    const bytes = encodeMessage(typeName, msg);
    const back = decodeMessage(typeName, bytes);
    assert.equal(hex(encodeMessage(typeName, back)), hex(bytes), `${name} re-encodes identically`);
    assert.ok(name === "GetPluginConfigsRequest" || bytes.byteLength > 0, name);
  }
  const res = decodeMessage(
    "GetPluginConfigsResponse",
    encodeMessage("GetPluginConfigsResponse", cases.GetPluginConfigsResponse),
  );
  assert.deepEqual(res.configs!.map((s) => fromStruct(s)), configs);
  const inv = decodeMessage(
    "InvokeHookRequest",
    encodeMessage("InvokeHookRequest", cases.InvokeHookRequest),
  );
  assert.equal(inv.hook_type, "prompt_pre_fetch");
  assert.deepEqual(fromStruct(inv.payload), { prompt_id: "p1", args: { a: "b" } });
  assert.deepEqual(pluginContextFromProto(inv.context), {
    global_context: {
      request_id: "r",
      user: { email: "a@b.c", roles: ["x"] },
      tenant_id: "t",
      server_id: "s",
      state: { g: 1 },
      metadata: { m: true },
    },
    state: { local: [1, 2] },
    metadata: { lm: "v" },
  });
  const out = decodeMessage(
    "InvokeHookResponse",
    encodeMessage("InvokeHookResponse", cases.InvokeHookResponse),
  );
  assert.deepEqual(fromStruct(out.result), {
    continue_processing: true,
    modified_payload: { prompt_id: "p2" },
  });
  assert.deepEqual(pluginErrorFromProto(out.error!), {
    message: "m",
    plugin_name: "P",
    code: "C",
    details: { d: 1 },
    mcp_error_code: -32000,
  });
  assert.deepEqual(pluginContextFromProto(out.context).state, { seen: true });
  assert.equal(
    decodeMessage("HealthCheckResponse", encodeMessage("HealthCheckResponse", { status: 1 }))
      .status,
    ServingStatus.SERVING,
  );
});

Deno.test("decoded messages read absent fields as proto3 defaults", () => {
  const req = decodeMessage("InvokeHookRequest", new Uint8Array(0));
  assert.equal(req.hook_type, "");
  assert.equal(req.plugin_name, "");
  assert.equal(req.payload, null);
  assert.equal(req.context, null);
  const res: InvokeHookResponse = decodeMessage("InvokeHookResponse", new Uint8Array(0));
  assert.equal(res.error, null);
  assert.equal(decodeMessage("HealthCheckResponse", new Uint8Array(0)).status, 0);
});

Deno.test("server dispatch order aliases a config request as a hook request without plugin", () => {
  // §6.2: GetPluginConfigRequest{name} parses as InvokeHookRequest{hook_type: name}.
  const bytes = encodeMessage("GetPluginConfigRequest", { name: "ArgGuard" });
  const asInvoke = decodeMessage("InvokeHookRequest", bytes);
  assert.equal(asInvoke.hook_type, "ArgGuard");
  assert.equal(asInvoke.plugin_name, "");
  assert.equal(decodeMessage("GetPluginConfigRequest", bytes).name, "ArgGuard");
  // An empty frame is a valid GetPluginConfigsRequest.
  assert.deepEqual(Object.keys(decodeMessage("GetPluginConfigsRequest", new Uint8Array(0))), []);
});

Deno.test("malformed bytes raise ProtobufDecodeError naming the type", () => {
  for (const bad of ["ffffffffff", "0a05", "08", "1a05"]) {
    assert.throws(() => decodeMessage("InvokeHookRequest", fromHex(bad)), (e: unknown) => {
      assert.ok(e instanceof ProtobufDecodeError, `${bad}: ${e}`);
      assert.equal(e.typeName, "InvokeHookRequest");
      assert.match(e.message, /^cannot decode cpex\.InvokeHookRequest: /);
      return true;
    });
  }
  // A string running past the end of the message is refused, not truncated.
  assert.throws(() => decodeMessage("GetPluginConfigRequest", fromHex("0a0941726747756172")));
  assert.throws(
    () => encodeMessage("Nope" as "GetPluginConfigRequest", {}),
    /unknown message type/,
  );
});

Deno.test("decoded frames that are views into a larger buffer decode correctly", () => {
  const body = fromHex(INVOKE_REQUEST_HEX);
  const big = new Uint8Array(body.byteLength + 20);
  big.set(body, 7);
  const req = decodeMessage("InvokeHookRequest", big.subarray(7, 7 + body.byteLength));
  assert.equal(req.plugin_name, "ArgGuard");
  assert.equal(fromStruct(req.payload).name, "echo");
});

// ---------------------------------------------------------------------------------------------
// Struct conversion (§4.2)

Deno.test("JSON scalars map to the Value kinds with the reference's bytes", () => {
  assert.equal(valueHex(null), "0800");
  assert.equal(valueHex(false), "2000");
  assert.equal(valueHex(true), "2001");
  assert.equal(valueHex([]), "3200");
  assert.equal(valueHex({}), "2a00");
  assert.equal(valueHex(""), "1a00");
  assert.equal(valueHex(0), "110000000000000000");
  assert.equal(valueHex(3), "110000000000000840");
  assert.equal(valueHex("hi"), "1a026869");
});

Deno.test("integers travel as doubles and come back as numbers", () => {
  const obj = { i: 3, z: 0, neg: -7, f: 0.1, big: 2 ** 60, unsafe: 2 ** 53 + 1, tiny: 5e-324 };
  const back = fromStruct(
    decodeMessage(
      "GetPluginConfigResponse",
      encodeMessage("GetPluginConfigResponse", { config: toStruct(obj) }),
    ).config,
  );
  assert.deepEqual(back, { ...obj, unsafe: 2 ** 53 }); // 2^53+1 is not a double already in JS
  assert.equal(Object.is(fromValue({ numberValue: -0 }), -0), true);
  assert.equal(toValue(12n).numberValue, 12);
  assert.equal(toValue(2n ** 64n).numberValue, 18446744073709552000);
});

Deno.test("nested lists and structs round-trip", () => {
  const obj = {
    a: [1, "two", null, true, [[], [{}]], { x: [{ y: { z: [false] } }] }],
    empty: {},
    list: [],
    deep: { l1: { l2: { l3: { l4: "bottom" } } } },
  };
  const msg = { config: toStruct(obj) };
  const back = decodeMessage(
    "GetPluginConfigResponse",
    encodeMessage("GetPluginConfigResponse", msg),
  );
  assert.deepEqual(fromStruct(back.config), obj);
  assert.deepEqual(toStruct({ l: [1, null] }), {
    fields: { l: { listValue: { values: [{ numberValue: 1 }, { nullValue: 0 }] } } },
  });
});

Deno.test("unicode strings and keys survive the wire", () => {
  const obj = {
    "ключ": "значение",
    "中文": "字符串",
    emoji: "🎉👍🏽 family 👨‍👩‍👧",
    "🔑": "\u0000nul\ttab\nnl",
    accents: "ünïcødé",
  };
  const bytes = encodeMessage("GetPluginConfigResponse", { config: toStruct(obj) });
  assert.deepEqual(fromStruct(decodeMessage("GetPluginConfigResponse", bytes).config), obj);
  // UTF-8 on the wire: "é" is c3 a9.
  assert.equal(valueHex("é"), "1a02c3a9");
});

Deno.test("undefined, functions and symbols are skipped in objects and null in arrays", () => {
  assert.deepEqual(fromStruct(toStruct({ a: undefined, b: () => 1, c: Symbol("s"), d: 1 })), {
    d: 1,
  });
  assert.deepEqual(fromValue(toValue([undefined, () => 1, 2])), [null, null, 2]);
  assert.deepEqual(toValue(undefined), { nullValue: 0 });
});

Deno.test("objects with toJSON are converted through it", () => {
  const d = new Date("2024-01-02T03:04:05.000Z");
  assert.deepEqual(fromStruct(toStruct({ when: d })), { when: "2024-01-02T03:04:05.000Z" });
  class Money {
    constructor(readonly cents: number) {}
    toJSON() {
      return { cents: this.cents };
    }
  }
  assert.deepEqual(fromStruct(toStruct({ m: new Money(5) })), { m: { cents: 5 } });
});

Deno.test("non-JSON values are refused with the path to them", () => {
  const cases: [unknown, RegExp][] = [
    [{ args: { n: NaN } }, /non-finite number NaN at args\.n/],
    [{ a: [1, Infinity] }, /non-finite number Infinity at a\[1\]/],
    [{ a: [{ b: -Infinity }] }, /at a\[0\]\.b/],
    [{ blob: new Uint8Array(2) }, /cannot send bytes .* at blob/],
    [{ m: new Map() }, /cannot send a Map .* at m/],
    [{ s: new Set() }, /cannot send a Set/],
  ];
  for (const [obj, re] of cases) {
    assert.throws(() => toStruct(obj as Record<string, unknown>), (e: unknown) => {
      assert.ok(e instanceof StructConversionError);
      assert.ok(e instanceof TypeError);
      assert.match(e.message, re);
      return true;
    });
  }
  const err = (() => {
    try {
      toStruct({ a: [{ b: NaN }] });
    } catch (e) {
      return e as StructConversionError;
    }
  })();
  assert.deepEqual(err?.path, ["a", 0, "b"]);
});

Deno.test("a received non-finite number is refused like the reference does", () => {
  // number_value NaN (f8 7f): the reference's decoder raises "Fail to serialize NaN".
  assert.throws(
    () => fromStruct({ fields: { x: { numberValue: NaN } } }),
    /non-finite number NaN at x/,
  );
});

Deno.test("cyclic and too deep values are refused, not overflowing the stack", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => toStruct(cyclic), /nesting deeper than 100 levels/);
  let deep: unknown = "leaf";
  for (let i = 0; i < MAX_STRUCT_DEPTH + 5; i++) deep = [deep];
  assert.throws(() => toValue(deep), StructConversionError);
  let ok: unknown = "leaf";
  for (let i = 0; i < 40; i++) ok = { n: ok };
  const bytes = encodeMessage("InvokeHookRequest", { payload: toStruct({ ok }) });
  assert.deepEqual(fromStruct(decodeMessage("InvokeHookRequest", bytes).payload), { ok });
});

Deno.test("a __proto__ key is carried as data and never sets a prototype", () => {
  const obj = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
  const s = toStruct(obj);
  assert.ok(Object.hasOwn(s.fields!, "__proto__"));
  const bytes = encodeMessage("GetPluginConfigResponse", { config: s });
  const back = fromStruct(decodeMessage("GetPluginConfigResponse", bytes).config);
  assert.ok(Object.hasOwn(back, "__proto__"));
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.deepEqual(Object.keys(back), ["__proto__", "a"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("absent or kindless Values and Structs decode to null and {}", () => {
  assert.equal(fromValue({}), null);
  assert.equal(fromValue(null), null);
  assert.equal(fromValue({ nullValue: 0 }), null);
  assert.equal(fromValue({ stringValue: "" }), "");
  assert.equal(fromValue({ boolValue: false }), false);
  assert.equal(fromValue({ numberValue: 0 }), 0);
  assert.deepEqual(fromValue({ structValue: {} }), {});
  assert.deepEqual(fromValue({ listValue: {} }), []);
  assert.deepEqual(fromStruct(null), {});
  assert.deepEqual(fromStruct({}), {});
  // Decoded zero values (own properties over prototype defaults) keep their kind.
  const bytes = encodeMessage("GetPluginConfigResponse", {
    config: toStruct({ s: "", n: 0, b: false, z: null, o: {}, l: [] }),
  });
  assert.deepEqual(fromStruct(decodeMessage("GetPluginConfigResponse", bytes).config), {
    s: "",
    n: 0,
    b: false,
    z: null,
    o: {},
    l: [],
  });
});

// ---------------------------------------------------------------------------------------------
// Contexts, violations, results, errors (§4.2)

Deno.test("global context: user string, struct and null select the oneof member", () => {
  const enc = (user: unknown) =>
    hex(encodeMessage("GlobalContext", globalContextToProto({ request_id: "r", user } as never)));
  assert.equal(enc("alice"), "0a0172" + "2205616c696365");
  assert.equal(enc(""), "0a0172" + "2200", "empty string user is still sent");
  assert.equal(enc({}), "0a0172" + "2a00", "empty object user is still sent");
  assert.equal(enc(null), "0a0172");
  assert.equal(enc(undefined), "0a0172");
  assert.deepEqual(
    globalContextFromProto(globalContextToProto({ request_id: "r", user: "" })).user,
    "",
  );
  assert.deepEqual(
    globalContextFromProto(globalContextToProto({ request_id: "r", user: { id: 1 } })).user,
    { id: 1 },
  );
  const decoded = decodeMessage("GlobalContext", fromHex("0a01722200"));
  assert.equal(globalContextFromProto(decoded).user, "");
  assert.equal(
    globalContextFromProto(decodeMessage("GlobalContext", fromHex("0a0172"))).user,
    null,
  );
  assert.deepEqual(
    globalContextFromProto(decodeMessage("GlobalContext", fromHex("0a01722a00"))).user,
    {},
  );
});

Deno.test("global context: empty optionals are not sent and come back as null or {}", () => {
  const p = globalContextToProto({
    request_id: "req-1",
    server_id: null,
    tenant_id: "",
    user: null,
    state: {},
    metadata: {},
    user_context: { user_id: "u" },
    content_type: "text/plain",
  });
  assert.deepEqual(p, { request_id: "req-1" }, "user_context and content_type are dropped");
  assert.deepEqual(
    globalContextFromProto(decodeMessage("GlobalContext", encodeMessage("GlobalContext", p))),
    {
      request_id: "req-1",
      user: null,
      tenant_id: null,
      server_id: null,
      state: {},
      metadata: {},
    },
  );
  const full = globalContextToProto({
    request_id: "r",
    server_id: "s",
    tenant_id: "t",
    user: "u",
    state: { a: 1 },
    metadata: { b: [true] },
  });
  assert.deepEqual(globalContextFromProto(full), {
    request_id: "r",
    user: "u",
    tenant_id: "t",
    server_id: "s",
    state: { a: 1 },
    metadata: { b: [true] },
  });
  assert.deepEqual(globalContextFromProto(null).request_id, "");
});

Deno.test("plugin context: empty local state and metadata are not sent", () => {
  const gc = { request_id: "r" };
  assert.deepEqual(pluginContextToProto({ global_context: gc, state: {}, metadata: {} }), {
    global_context: { request_id: "r" },
  });
  const p = pluginContextToProto({ global_context: gc, state: { s: 1 }, metadata: { m: "x" } });
  assert.deepEqual(pluginContextFromProto(p), {
    global_context: {
      request_id: "r",
      user: null,
      tenant_id: null,
      server_id: null,
      state: {},
      metadata: {},
    },
    state: { s: 1 },
    metadata: { m: "x" },
  });
  assert.deepEqual(pluginContextFromProto(null).state, {});
});

/** The context part of a gateway reply. */
function contextOf(reply: RemoteReply): unknown {
  return "context" in reply ? reply.context : undefined;
}

Deno.test("returned context replaces local state and metadata but not empty global state", () => {
  // Absent local parts clear local state/metadata; empty global state leaves it alone.
  assert.deepEqual(
    contextOf(replyFromProto({ context: { global_context: { request_id: "r" } } }, "P")),
    { state: {}, metadata: {}, globalState: undefined },
  );
  const returned = decodeMessage(
    "PluginContext",
    encodeMessage("PluginContext", {
      global_context: {
        request_id: "other",
        state: toStruct({ g: 2 }),
        metadata: toStruct({ x: 1 }),
        user_string: "v",
      },
      state: toStruct({ s: true }),
      metadata: toStruct({ m: 1 }),
    }),
  );
  assert.deepEqual(contextOf(replyFromProto({ context: returned }, "P")), {
    state: { s: true },
    metadata: { m: 1 },
    globalState: { g: 2 },
  });
});

Deno.test("plugin error: plugin name falls back, details come back as JSON", () => {
  const e = {
    message: "boom",
    plugin_name: "",
    code: "X",
    details: { a: 1 },
    mcp_error_code: -32603,
  };
  const p = { message: "boom", code: "X", details: toStruct({ a: 1 }), mcp_error_code: -32603 };
  assert.deepEqual(pluginErrorFromProto(p, "Local"), { ...e, plugin_name: "Local" });
  assert.deepEqual(pluginErrorFromProto({ message: "boom" }, "Local"), {
    message: "boom",
    plugin_name: "Local",
    code: "",
    details: {},
    mcp_error_code: 0,
  });
});
