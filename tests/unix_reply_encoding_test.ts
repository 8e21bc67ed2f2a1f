/**
 * The Unix server's directly encoded replies (`invokeProtoEncoded`, issue 13) are byte for byte
 * what the generic path writes (`invokeProto` + `encodeMessage`), for the fast shapes and for
 * the ones that fall back (a class instance, a lone surrogate), with and without a context, and
 * for errors and the default allow.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer } from "../server.ts";
import { encodeMessage } from "../src/external/proto/codec.ts";
import { invokeProto, invokeProtoEncoded } from "../src/external/proto/proto_invoke.ts";
import { encodeAllowReply } from "../src/external/proto/allow_reply.ts";
import { pluginContextToProto, toStruct } from "../src/external/proto/struct.ts";
import type { PluginResult } from "../mod.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";

const CASES: Record<string, (payload: Record<string, unknown>) => PluginResult> = {
  allow: () => ({}),
  metadata: () => ({ metadata: { checked_by: "allow", n: 1.5, ok: true, none: null } }),
  transform: (p) => ({ modified_payload: { ...p, name: "new", args: { q: ["é", "日本", 3] } } }),
  block: () => ({
    continue_processing: false,
    violation: { reason: "r", description: "d", code: "C", details: { x: [1] } },
  }),
  // Out of the fast shapes: a Date and a lone surrogate take the generic encoder.
  date: () => ({ metadata: { at: new Date(0) as unknown as string } }),
  surrogate: () => ({ metadata: { s: "\ud800" } }),
  state: (_p) => ({ metadata: { k: "v" } }),
  fails: () => {
    throw new Error("boom");
  },
};

const plugins = Object.entries(CASES).map(([name, behavior]) =>
  new ScriptedPlugin({ name, hooks: ["tool_pre_invoke"] }, (payload, context) => {
    if (name === "state") context.state.seen = { count: 1 };
    return behavior(payload);
  })
);

Deno.test("directly encoded Unix replies equal the generic encoding", async () => {
  const server = new ExternalPluginServer({ plugins });
  await server.initialize();
  try {
    for (const name of [...Object.keys(CASES), "missing"]) {
      const request = () => ({
        payload: toStruct({ name: "search", args: { q: "x", n: 2 } }),
        context: pluginContextToProto({
          global_context: { request_id: `r-${name}` },
          state: {},
          metadata: {},
        }),
      });
      const a = request();
      const generic = await invokeProto(server, "tool_pre_invoke", name, a.payload, a.context);
      const expected = generic === null
        ? encodeAllowReply(name)
        : encodeMessage("InvokeHookResponse", generic);
      const b = request();
      const direct = await invokeProtoEncoded(
        server,
        "tool_pre_invoke",
        name,
        b.payload,
        b.context,
      );
      assert.deepEqual(direct, expected, name);
    }
  } finally {
    await server.shutdown();
  }
});
