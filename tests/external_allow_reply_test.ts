import assert from "node:assert/strict";
import {
  encodeAllowReply,
  isAllowReply,
  isDefaultAllow,
} from "../src/external/proto/allow_reply.ts";
import { allowResult } from "../src/external/decode_result.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { dumpResult } from "../src/external/dump.ts";
import { fromStruct, toStruct } from "../src/external/proto/struct.ts";

Deno.test("the pre-encoded allow reply equals the generically encoded one", () => {
  for (const name of ["p", "ArgGuard", "x".repeat(300)]) {
    const generic = encodeMessage("InvokeHookResponse", {
      plugin_name: name,
      result: toStruct(dumpResult({})),
    });
    assert.deepEqual(encodeAllowReply(name), generic);
  }
});

Deno.test("the pre-encoded allow reply decodes to the default allow result", () => {
  const decoded = decodeMessage("InvokeHookResponse", encodeAllowReply("p"));
  assert.equal(decoded.plugin_name, "p");
  assert.deepEqual(fromStruct(decoded.result), dumpResult({}));
});

Deno.test("only an exact allow reply is recognised as one", () => {
  assert.equal(isAllowReply(encodeAllowReply("long-".repeat(40))), true);
  const modified = encodeMessage("InvokeHookResponse", {
    plugin_name: "p",
    result: toStruct(dumpResult({ modified_payload: { name: "x" } })),
  });
  assert.equal(isAllowReply(modified), false);
  const withContext = encodeMessage("InvokeHookResponse", {
    plugin_name: "p",
    result: toStruct(dumpResult({})),
    context: { global_context: { request_id: "r" }, state: toStruct({ a: 1 }) },
  });
  assert.equal(isAllowReply(withContext), false);
  assert.equal(isAllowReply(new Uint8Array(0)), false);
});

Deno.test("only a result with every field at its default is a default allow", () => {
  assert.equal(isDefaultAllow(dumpResult({})), true);
  assert.equal(isDefaultAllow(dumpResult({ metadata: { a: 1 } })), false);
  assert.equal(isDefaultAllow(dumpResult({ retry_delay_ms: 5 })), false);
  assert.equal(isDefaultAllow(dumpResult({ continue_processing: false })), false);
  assert.equal(isDefaultAllow({ ...dumpResult({}), metadata: null }), false);
  assert.deepEqual(allowResult(), {
    continue_processing: true,
    modified_payload: null,
    modified_extensions: null,
    violation: null,
    metadata: {},
    http_headers: null,
    retry_delay_ms: 0,
  });
});
