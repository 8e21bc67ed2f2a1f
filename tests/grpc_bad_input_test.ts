/**
 * Bad input on the gRPC server (design decision 9): payloads that are not valid for the hook,
 * unknown hook types, messages over the 4 MiB receive limit, clients that go away mid-call,
 * garbage bytes on every method, unknown methods and absurdly nested Structs. Each gets a gRPC
 * status or an `error` field, and the server keeps serving every other client.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext, PluginError } from "../mod.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import { fromStruct, toStruct } from "../src/external/proto/struct.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import {
  connectPlugin,
  freePort,
  RawGrpcClient,
  type RunningGrpcServer,
  startGrpcServer,
  Subprocess,
  within,
} from "./helpers/grpc_fixtures.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";

const INVOKE = "/cpex.PluginService/InvokeHook";

function invokeBytes(
  payload: Record<string, unknown>,
  hook = "tool_pre_invoke",
  plugin = "Allow",
): Uint8Array {
  return encodeMessage("InvokeHookRequest", {
    hook_type: hook,
    plugin_name: plugin,
    payload: toStruct(payload),
    context: { global_context: { request_id: "req-1" } },
  });
}

/** The server still answers a normal call from a fresh client. */
async function assertServing(server: RunningGrpcServer): Promise<void> {
  const raw = await RawGrpcClient.connect(server.address);
  try {
    const out = await raw.call(INVOKE, invokeBytes({ name: "ok", args: {} }));
    assert.equal(out.code, 0, out.details);
    const response = decodeMessage("InvokeHookResponse", out.bytes!);
    assert.equal(fromStruct(response.result).continue_processing, true);
  } finally {
    raw.close();
  }
}

async function withServer(
  body: (server: RunningGrpcServer, gate: { release(): void }) => Promise<void>,
): Promise<void> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const server = await startGrpcServer([
    new ScriptedPlugin({ name: "Allow", hooks: ["tool_pre_invoke", "tool_post_invoke"] }),
    new ScriptedPlugin({ name: "Hang", hooks: ["tool_pre_invoke"] }, async () => {
      await gate;
      return {};
    }),
  ]);
  try {
    await body(server, { release });
    await assertServing(server);
  } finally {
    release();
    await server.close();
  }
}

Deno.test("a payload that is not valid for the hook gets an error field naming the field", async () => {
  await withServer(async (server) => {
    const raw = await RawGrpcClient.connect(server.address);
    try {
      for (const payload of [{ args: {} }, { name: 42 }, { name: "t", args: "not an object" }]) {
        const out = await raw.call(INVOKE, invokeBytes(payload));
        assert.equal(out.code, 0);
        const response = decodeMessage("InvokeHookResponse", out.bytes!);
        assert.equal(response.result, null);
        assert.equal(response.plugin_name, "Allow");
        assert.ok(response.error?.message, JSON.stringify(payload));
        assert.match(response.error.message, /name|args/, response.error.message);
      }
    } finally {
      raw.close();
    }
  });
});

Deno.test("an unknown hook type gets the reference's 'Unable to find' error field", async () => {
  await withServer(async (server) => {
    const raw = await RawGrpcClient.connect(server.address);
    try {
      const out = await raw.call(INVOKE, invokeBytes({ name: "t" }, "no_such_hook"));
      const response = decodeMessage("InvokeHookResponse", out.bytes!);
      assert.equal(
        response.error?.message,
        "Unable to find no_such_hook for plugin Allow.  Make sure the plugin is registered.",
      );
      assert.equal(response.error?.mcp_error_code, -32603);
      const empty = await raw.call(INVOKE, new Uint8Array(0));
      assert.equal(empty.code, 0);
      assert.match(
        decodeMessage("InvokeHookResponse", empty.bytes!).error?.message ?? "",
        /Unable to find/,
      );
    } finally {
      raw.close();
    }
  });
});

Deno.test("a message over the 4 MiB limit gets RESOURCE_EXHAUSTED; the server keeps serving", async () => {
  // The server runs in its own process (the example server): with client and server sessions in
  // one process, Deno 2.9.6's node:http2 occasionally aborts on an nghttp2 assertion
  // (find_stream_on_goaway_func) after this exchange; across processes it was not seen.
  const port = freePort();
  const address = `127.0.0.1:${port}`;
  const server = new Subprocess([
    "run",
    "--no-prompt",
    `--allow-net=${address}`,
    GRPC_ENV_FLAG,
    new URL("../examples/grpc_server.ts", import.meta.url).pathname,
    address,
  ]);
  try {
    await within(server.ready, "example server READY", 60_000);
    const big = { name: "t", args: { query: "x".repeat(5 * 1024 * 1024) } };
    const raw = await RawGrpcClient.connect(address);
    try {
      const out = await raw.call(INVOKE, invokeBytes(big, "tool_pre_invoke", "ArgumentValidator"));
      assert.equal(out.code, 8, `RESOURCE_EXHAUSTED expected, got ${out.code} ${out.details}`);
      const after = await raw.call(
        INVOKE,
        invokeBytes({ name: "ok", args: {} }, "tool_pre_invoke", "ArgumentValidator"),
      );
      assert.equal(after.code, 0, "the same channel keeps working");
    } finally {
      raw.close();
    }
    const plugin = await connectPlugin(address, { name: "ArgumentValidator" });
    try {
      const call = (payload: Record<string, unknown>) =>
        plugin.handleHook("tool_pre_invoke", payload, new PluginContext({ request_id: "r" }), {
          signal: new AbortController().signal,
          extensions: null,
        });
      const error = await call(big).catch((e) => e);
      assert.ok(error instanceof PluginError);
      assert.match(error.error.message, /RESOURCE_EXHAUSTED/);
      assert.equal((await call({ name: "ok", args: { query: "fine" } })).continue_processing, true);
    } finally {
      await plugin.shutdown();
    }
    server.kill("SIGTERM");
    const { status, stderr } = await server.finish();
    assert.equal(status.code, 0, stderr);
  } finally {
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
  }
});

Deno.test("a client that disconnects mid-call does not disturb the server", async () => {
  await withServer(async (server, gate) => {
    // Cancelled call.
    const raw = await RawGrpcClient.connect(server.address);
    const controller = new AbortController();
    const pending = raw.call(
      INVOKE,
      invokeBytes({ name: "t" }, "tool_pre_invoke", "Hang"),
      controller.signal,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    assert.equal((await within(pending, "cancelled call")).code, 1, "CANCELLED");
    // Closed channel with a call in flight.
    const gone = await RawGrpcClient.connect(server.address);
    const orphan = gone.call(INVOKE, invokeBytes({ name: "t" }, "tool_pre_invoke", "Hang"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    gone.close();
    await assertServing(server);
    // The hanging hooks finish after their clients left: the server does not mind.
    gate.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.close();
    await within(orphan, "orphaned call settles");
  });
});

Deno.test("garbage bytes on every method get a gRPC status or an error field, never a crash", async () => {
  await withServer(async (server) => {
    const raw = await RawGrpcClient.connect(server.address);
    try {
      const garbage = [
        new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]),
        new Uint8Array([0x0a, 0x7f, 0x41]), // a string running past the end
        new Uint8Array([0x1a, 0x03, 0x0a, 0x01]), // truncated nested Struct
        crypto.getRandomValues(new Uint8Array(4096)),
      ];
      for (
        const path of [
          INVOKE,
          "/cpex.PluginService/GetPluginConfig",
          "/cpex.PluginService/GetPluginConfigs",
          "/cpex.Health/Check",
          "/grpc.health.v1.Health/Check",
        ]
      ) {
        for (const bytes of garbage) {
          const out = await raw.call(path, bytes);
          if (out.code === 0 && path === INVOKE) {
            assert.ok(decodeMessage("InvokeHookResponse", out.bytes!).error?.message);
          } else if (out.code !== 0) {
            // INVALID_ARGUMENT / INTERNAL, or NOT_FOUND from the standard health service when
            // the garbage happens to decode as a service name.
            assert.ok([3, 5, 13].includes(out.code), `${path}: ${out.code} ${out.details}`);
          }
        }
      }
      const unknown = await raw.call("/cpex.PluginService/Nope", new Uint8Array(0));
      assert.equal(unknown.code, 12, "UNIMPLEMENTED");
    } finally {
      raw.close();
    }
  });
});

Deno.test("a Struct nested thousands of levels deep is refused without a crash", async () => {
  await withServer(async (server) => {
    // Value{struct_value: Struct{fields: {"a": Value{...}}}} nested by hand, innermost first.
    let value: Uint8Array = new Uint8Array([0x08, 0x00]); // null_value
    const varint = (n: number) => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    for (let i = 0; i < 3000; i++) {
      const entry = [0x0a, 0x01, 0x61, 0x12, ...varint(value.length), ...value];
      const struct = [0x0a, ...varint(entry.length), ...entry];
      value = new Uint8Array([0x2a, ...varint(struct.length), ...struct]);
    }
    const entry = [
      0x0a,
      0x04,
      ...new TextEncoder().encode("name"),
      0x12,
      ...varint(value.length),
      ...value,
    ];
    const payload = [0x0a, ...varint(entry.length), ...entry];
    const request = new Uint8Array([
      ...encodeMessage("InvokeHookRequest", { hook_type: "tool_pre_invoke", plugin_name: "Allow" }),
      0x1a,
      ...varint(payload.length),
      ...payload,
    ]);
    const raw = await RawGrpcClient.connect(server.address);
    try {
      const out = await raw.call(INVOKE, request);
      if (out.code === 0) {
        assert.ok(decodeMessage("InvokeHookResponse", out.bytes!).error?.message);
      } else {
        assert.ok([3, 13].includes(out.code), `${out.code} ${out.details}`);
      }
    } finally {
      raw.close();
    }
  });
});
