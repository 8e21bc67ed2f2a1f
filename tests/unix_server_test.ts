/**
 * Tests of the raw Unix socket plugin server (wire.md §6) over real sockets, in process:
 * `ExternalPluginServer.serve({ transport: "unix" })` answered by raw length-prefixed protobuf
 * frames. Covers the three operations, the trial-and-error dispatch order, error replies,
 * context round trips, the socket file's lifecycle and many concurrent connections.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { PluginResult } from "../mod.ts";
import { ExternalPluginServer, type ServerHandle } from "../server.ts";
import {
  decodeMessage,
  encodeMessage,
  type InvokeHookResponse,
} from "../src/external/proto/codec.ts";
import { FrameReader, writeFrame } from "../src/external/unix/frame.ts";
import {
  fromStruct,
  pluginContextFromProto,
  pluginContextToProto,
  toStruct,
} from "../src/external/proto/struct.ts";
import type { PluginContextData } from "../src/types.ts";
import { ArgumentValidator } from "../examples/plugins/argument_validator.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";

/** Every wait in this file is bounded by this. */
const WAIT_MS = 10_000;

/** A unique socket path under /tmp (short: socket paths are limited to ~100 bytes). */
function socketPath(label: string): string {
  return `/tmp/cpex-us-${label}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/** Resolves like `promise`, or rejects after `ms` naming `what`; the timer is always cleared. */
async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A raw frame client: one request frame out, one reply frame in. */
class FrameClient {
  readonly #conn: Deno.UnixConn;
  readonly #reader: FrameReader;
  #closed = false;

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.#reader = new FrameReader(conn);
  }

  static async connect(path: string): Promise<FrameClient> {
    return new FrameClient(await within(Deno.connect({ transport: "unix", path }), "connect"));
  }

  /** Sends `request` as one frame and returns the reply frame's payload. */
  async call(request: Uint8Array): Promise<Uint8Array> {
    await writeFrame(this.#conn, request);
    const reply = await within(this.#reader.read(), "reply frame");
    assert.notEqual(reply, null, "the server closed the connection instead of replying");
    return reply!;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }
}

/** Opens a client, runs `fn`, closes the client. */
async function withClient<T>(path: string, fn: (c: FrameClient) => Promise<T>): Promise<T> {
  const client = await FrameClient.connect(path);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

function invokeRequest(
  hookType: string,
  pluginName: string,
  payload: Record<string, unknown>,
  context: Partial<PluginContextData> & { global_context: PluginContextData["global_context"] },
): Uint8Array {
  return encodeMessage("InvokeHookRequest", {
    hook_type: hookType,
    plugin_name: pluginName,
    payload: toStruct(payload),
    context: pluginContextToProto(context),
  });
}

/** The decoded parts of an `InvokeHookResponse`, as JSON. */
interface DecodedInvoke {
  plugin_name: string;
  result: Record<string, unknown> | null;
  context: PluginContextData | null;
  error: InvokeHookResponse["error"];
}

function decodeInvoke(bytes: Uint8Array): DecodedInvoke {
  const r = decodeMessage("InvokeHookResponse", bytes);
  return {
    plugin_name: r.plugin_name ?? "",
    result: r.result ? fromStruct(r.result) : null,
    context: r.context ? pluginContextFromProto(r.context) : null,
    error: r.error ?? null,
  };
}

function configName(bytes: Uint8Array): string | null {
  const r = decodeMessage("GetPluginConfigResponse", bytes);
  if (!r.found) return null;
  return String(fromStruct(r.config).name);
}

function configNames(bytes: Uint8Array): string[] {
  const r = decodeMessage("GetPluginConfigsResponse", bytes);
  return (r.configs ?? []).map((c) => String(fromStruct(c).name));
}

/** The plugins every test here serves. */
function testPlugins(): ScriptedPlugin[] {
  return [
    new ScriptedPlugin({ name: "Modifier", hooks: ["tool_pre_invoke"] }, (payload) => ({
      modified_payload: {
        ...payload,
        args: { ...payload.args, text: String(payload.args?.text ?? "").toUpperCase() },
      },
    })),
    new ScriptedPlugin(
      { name: "Blocker", hooks: ["tool_pre_invoke"] },
      (): PluginResult => ({
        continue_processing: false,
        violation: {
          reason: "Blocked word",
          description: "Argument 'text' contains a blocked word",
          code: "BLOCKED_WORD",
          details: { arg: "text", hits: 2, nested: { words: ["crap"] } },
          mcp_error_code: -32001,
        },
      }),
    ),
    new ScriptedPlugin({ name: "Raiser", hooks: ["tool_pre_invoke"] }, () => {
      throw new TypeError("Sadly! boom");
    }),
    new ScriptedPlugin({ name: "Stateful", hooks: ["tool_pre_invoke"] }, (_payload, ctx) => {
      ctx.setState("count", (ctx.getState<number>("count") ?? 0) + 1);
      ctx.global_context.state = { ...ctx.global_context.state, seen_by: "Stateful" };
      return {};
    }),
    new ScriptedPlugin({ name: "Echo", hooks: ["tool_pre_invoke"] }, (payload, ctx) => ({
      modified_payload: {
        ...payload,
        args: { ...payload.args, rid: ctx.global_context.request_id },
      },
    })),
  ];
}

/** Serves `testPlugins()` plus the example ArgumentValidator on a fresh socket. */
async function withServer(
  label: string,
  fn: (path: string, handle: ServerHandle, server: ExternalPluginServer) => Promise<void>,
): Promise<void> {
  const path = socketPath(label);
  const server = new ExternalPluginServer({
    plugins: [
      new ArgumentValidator({
        name: "ArgGuard",
        kind: "example",
        hooks: ["tool_pre_invoke"],
        config: { max_length: 10 },
      }),
      ...testPlugins(),
    ],
  });
  let handle: ServerHandle | undefined;
  try {
    handle = await server.serve({ transport: "unix", path, printReady: false });
    await fn(path, handle, server);
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
}

const GC = { request_id: "req-1", server_id: "srv-1" };

Deno.test("allowed tool call answers continue_processing true with no violation", async () => {
  await withServer("allow", async (path) => {
    const reply = decodeInvoke(
      await withClient(path, (c) =>
        c.call(
          invokeRequest("tool_pre_invoke", "ArgGuard", { name: "echo", args: { text: "hi" } }, {
            global_context: GC,
          }),
        )),
    );
    assert.equal(reply.plugin_name, "ArgGuard");
    assert.equal(reply.error, null);
    assert.equal(reply.context, null);
    assert.deepEqual(reply.result, {
      continue_processing: true,
      modified_payload: null,
      modified_extensions: null,
      violation: null,
      metadata: {},
      http_headers: null,
      retry_delay_ms: 0,
      executions: [],
    });
  });
});

Deno.test("modified payload comes back in the result Struct", async () => {
  await withServer("modify", async (path) => {
    const reply = decodeInvoke(
      await withClient(path, (c) =>
        c.call(
          invokeRequest("tool_pre_invoke", "Modifier", { name: "echo", args: { text: "hi" } }, {
            global_context: GC,
          }),
        )),
    );
    assert.equal(reply.error, null);
    assert.equal(reply.result?.continue_processing, true);
    assert.deepEqual(reply.result?.modified_payload, {
      name: "echo",
      args: { text: "HI" },
      headers: null,
    });
  });
});

Deno.test("blocking violation keeps code, reason, details and mcp_error_code on the wire", async () => {
  await withServer("block", async (path) => {
    const reply = decodeInvoke(
      await withClient(path, (c) =>
        c.call(
          invokeRequest("tool_pre_invoke", "Blocker", { name: "echo", args: { text: "crap" } }, {
            global_context: GC,
          }),
        )),
    );
    assert.equal(reply.plugin_name, "Blocker");
    assert.equal(reply.error, null);
    const result = reply.result!;
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload, null);
    assert.equal(result.metadata, null, "a blocked result carries metadata null (reference)");
    assert.deepEqual(result.violation, {
      reason: "Blocked word",
      description: "Argument 'text' contains a blocked word",
      code: "BLOCKED_WORD",
      details: { arg: "text", hits: 2, nested: { words: ["crap"] } },
      mcp_error_code: -32001,
      http_status_code: null,
      http_headers: null,
    });
  });
});

Deno.test("example ArgumentValidator blocks a too-long argument over the socket", async () => {
  await withServer("argguard", async (path) => {
    const reply = decodeInvoke(
      await withClient(path, (c) =>
        c.call(
          invokeRequest(
            "tool_pre_invoke",
            "ArgGuard",
            { name: "search", args: { query: "far longer than ten" } },
            { global_context: GC },
          ),
        )),
    );
    const violation = reply.result?.violation as Record<string, unknown>;
    assert.equal(reply.result?.continue_processing, false);
    assert.equal(violation.code, "ARGUMENT_TOO_LONG");
    assert.deepEqual(violation.details, { argument: "query", length: 19, max_length: 10 });
  });
});

Deno.test("plugin that raises answers an error reply with the exception's repr", async () => {
  await withServer("raise", async (path) => {
    const reply = decodeInvoke(
      await withClient(
        path,
        (c) =>
          c.call(
            invokeRequest("tool_pre_invoke", "Raiser", { name: "echo" }, { global_context: GC }),
          ),
      ),
    );
    assert.equal(reply.plugin_name, "Raiser");
    assert.equal(reply.result, null);
    assert.equal(reply.error?.message, "TypeError('Sadly! boom')");
    assert.equal(reply.error?.plugin_name, "Raiser");
    assert.equal(reply.error?.mcp_error_code, -32603);
  });
});

Deno.test("unknown plugin answers 'Unable to find ...' with two spaces", async () => {
  await withServer("noplugin", async (path) => {
    const bytes = await withClient(path, (c) =>
      c.call(
        invokeRequest("tool_pre_invoke", "Nope", { name: "echo", args: { text: "hello" } }, {
          global_context: GC,
        }),
      ));
    const reply = decodeInvoke(bytes);
    assert.equal(reply.plugin_name, "Nope");
    assert.equal(reply.result, null);
    assert.equal(
      reply.error?.message,
      "Unable to find tool_pre_invoke for plugin Nope.  Make sure the plugin is registered.",
    );
    assert.equal(reply.error?.plugin_name, "Nope");
    assert.equal(reply.error?.mcp_error_code, -32603);
    // Byte-identical to the reference's reply (wire.md §4.5 error example, 111 bytes on §6.5).
    assert.equal(bytes.byteLength, 0x6f);
    assert.equal(
      Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
      "0a044e6f706522670a54556e61626c6520746f2066696e6420746f6f6c5f7072655f696e766f6b6520666f7220706c7567696e204e6f70652e20204d616b6520737572652074686520706c7567696e20697320726567697374657265642e12044e6f706528a581feffffffffffff01",
    );
  });
});

Deno.test("hook the plugin does not declare answers 'Unable to find ...'", async () => {
  await withServer("nohook", async (path) => {
    const reply = decodeInvoke(
      await withClient(path, (c) =>
        c.call(
          invokeRequest("tool_post_invoke", "ArgGuard", { name: "echo", result: "x" }, {
            global_context: GC,
          }),
        )),
    );
    assert.equal(reply.result, null);
    assert.equal(
      reply.error?.message,
      "Unable to find tool_post_invoke for plugin ArgGuard.  Make sure the plugin is registered.",
    );
  });
});

Deno.test("plugin names are case-sensitive for invocation", async () => {
  await withServer("case-invoke", async (path) => {
    const reply = decodeInvoke(
      await withClient(
        path,
        (c) =>
          c.call(
            invokeRequest("tool_pre_invoke", "argguard", { name: "e" }, { global_context: GC }),
          ),
      ),
    );
    assert.match(
      String(reply.error?.message),
      /^Unable to find tool_pre_invoke for plugin argguard/,
    );
  });
});

Deno.test("config lookup by name is case-insensitive", async () => {
  await withServer("case-config", async (path) => {
    await withClient(path, async (c) => {
      for (const name of ["ArgGuard", "argguard", "ARGGUARD"]) {
        const reply = decodeMessage(
          "GetPluginConfigResponse",
          await c.call(encodeMessage("GetPluginConfigRequest", { name })),
        );
        assert.equal(reply.found, true, name);
        const config = fromStruct(reply.config);
        assert.equal(config.name, "ArgGuard");
        assert.deepEqual(config.hooks, ["tool_pre_invoke"]);
        assert.deepEqual(config.config, { max_length: 10 });
      }
    });
  });
});

Deno.test("config query for an unknown plugin answers a zero-length frame", async () => {
  await withServer("config-missing", async (path) => {
    const reply = await withClient(
      path,
      (c) => c.call(encodeMessage("GetPluginConfigRequest", { name: "Nope" })),
    );
    assert.equal(reply.byteLength, 0);
  });
});

Deno.test("empty frame and the 2-byte frame 08 01 both answer GetPluginConfigsResponse", async () => {
  await withServer("configs", async (path) => {
    await withClient(path, async (c) => {
      const expected = ["ArgGuard", "Modifier", "Blocker", "Raiser", "Stateful", "Echo"];
      assert.deepEqual(configNames(await c.call(new Uint8Array(0))), expected);
      assert.deepEqual(configNames(await c.call(new Uint8Array([0x08, 0x01]))), expected);
      // The connection is still usable afterwards.
      assert.equal(
        configName(await c.call(encodeMessage("GetPluginConfigRequest", { name: "echo" }))),
        "Echo",
      );
    });
  });
});

Deno.test("InvokeHookRequest without plugin_name is answered as a config query", async () => {
  await withServer("alias", async (path) => {
    const reply = await withClient(
      path,
      (c) => c.call(encodeMessage("InvokeHookRequest", { hook_type: "ArgGuard" })),
    );
    assert.equal(configName(reply), "ArgGuard");
  });
});

Deno.test("local state and global state round-trip through the context", async () => {
  await withServer("context", async (path) => {
    await withClient(path, async (c) => {
      const reply = decodeInvoke(
        await c.call(
          invokeRequest("tool_pre_invoke", "Stateful", { name: "echo" }, {
            global_context: { ...GC, user: "alice", state: { tenant_flag: true } },
            state: { count: 41 },
            metadata: { trace: "t-1" },
          }),
        ),
      );
      assert.equal(reply.error, null);
      assert.ok(reply.context, "a context with data comes back");
      assert.deepEqual(reply.context.state, { count: 42 });
      assert.deepEqual(reply.context.metadata, { trace: "t-1" });
      assert.equal(reply.context.global_context.request_id, "req-1");
      assert.equal(reply.context.global_context.server_id, "srv-1");
      assert.equal(reply.context.global_context.user, "alice");
      assert.deepEqual(reply.context.global_context.state, {
        tenant_flag: true,
        seen_by: "Stateful",
      });

      // A plugin that leaves an empty context alone gets no context back (field 3 omitted).
      const quiet = decodeMessage(
        "InvokeHookResponse",
        await c.call(
          invokeRequest("tool_pre_invoke", "ArgGuard", { name: "echo" }, { global_context: GC }),
        ),
      );
      assert.equal(quiet.context, null);
      assert.ok(quiet.result);
    });
  });
});

Deno.test("socket file is created with mode 0600 and close() removes it", async () => {
  const path = socketPath("mode");
  const server = new ExternalPluginServer({ plugins: testPlugins() });
  try {
    const handle = await server.serve({ transport: "unix", path, printReady: false });
    assert.equal(handle.address, path);
    const info = await Deno.lstat(path);
    assert.ok(info.isSocket);
    assert.equal(info.mode! & 0o777, 0o600);
    await handle.close();
    await within(handle.finished, "finished");
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("ExternalPluginServer.close() stops the transport and removes the socket", async () => {
  const path = socketPath("close");
  const server = new ExternalPluginServer({ plugins: testPlugins() });
  try {
    const handle = await server.serve({ transport: "unix", path, printReady: false });
    const client = await FrameClient.connect(path);
    try {
      assert.equal(configNames(await client.call(new Uint8Array(0))).length, 5);
      await within(server.close(), "server.close()");
      await within(handle.finished, "finished");
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
      await assert.rejects(Deno.connect({ transport: "unix", path }));
    } finally {
      client.close();
    }
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("stale socket file left by a dead server is replaced", async () => {
  const path = socketPath("stale");
  // Make a socket file nobody listens on: bind elsewhere, move the file, stop listening.
  const aside = `${path}.aside`;
  const old = Deno.listen({ transport: "unix", path: aside });
  await Deno.rename(aside, path);
  old.close();
  assert.ok((await Deno.lstat(path)).isSocket);
  await assert.rejects(Deno.connect({ transport: "unix", path }));

  const server = new ExternalPluginServer({ plugins: testPlugins() });
  try {
    await server.serve({ transport: "unix", path, printReady: false });
    const names = await withClient(path, async (c) => configNames(await c.call(new Uint8Array(0))));
    assert.equal(names.length, 5);
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
    await Deno.remove(aside).catch(() => {});
  }
});

Deno.test("a socket another server listens on is refused with AddrInUse", async () => {
  const path = socketPath("live");
  const other = Deno.listen({ transport: "unix", path });
  // The server probes the path by connecting; accept and drop that probe.
  const probe = other.accept().then((conn) => conn.close(), () => {});
  const server = new ExternalPluginServer({ plugins: testPlugins() });
  try {
    await assert.rejects(
      server.serve({ transport: "unix", path, printReady: false }),
      Deno.errors.AddrInUse,
    );
    await within(probe, "probe connection");
    // The other server's socket is untouched and still answers.
    assert.ok((await Deno.lstat(path)).isSocket);
    const conn = await Deno.connect({ transport: "unix", path });
    const accepted = await within(other.accept(), "accept");
    accepted.close();
    conn.close();
  } finally {
    await server.close();
    other.close();
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("a regular file at the socket path is refused and left intact", async () => {
  const path = socketPath("file");
  await Deno.writeTextFile(path, "precious data");
  const server = new ExternalPluginServer({ plugins: testPlugins() });
  try {
    await assert.rejects(
      server.serve({ transport: "unix", path, printReady: false }),
      /is not a socket/,
    );
    assert.equal(await Deno.readTextFile(path), "precious data");
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("50 concurrent connections x 20 requests each get their own answers", async () => {
  await withServer("many", async (path) => {
    const CONNECTIONS = 50;
    const REQUESTS = 20;
    const clients = await Promise.all(
      Array.from({ length: CONNECTIONS }, () => FrameClient.connect(path)),
    );
    try {
      const results = await within(
        Promise.all(clients.map(async (client, ci) => {
          let ok = 0;
          for (let ri = 0; ri < REQUESTS; ri++) {
            const rid = `c${ci}-r${ri}`;
            // Mix the operations so a mixed-up reply cannot pass as the right one.
            if (ri % 5 === 4) {
              const name = ["ArgGuard", "Modifier", "Blocker", "Raiser", "Stateful"][ci % 5];
              const reply = await client.call(encodeMessage("GetPluginConfigRequest", { name }));
              assert.equal(configName(reply), name);
            } else {
              const reply = decodeInvoke(
                await client.call(
                  invokeRequest(
                    "tool_pre_invoke",
                    "Echo",
                    { name: `tool-${ci}`, args: { n: ri } },
                    { global_context: { request_id: rid } },
                  ),
                ),
              );
              assert.equal(reply.error, null);
              assert.deepEqual(reply.result?.modified_payload, {
                name: `tool-${ci}`,
                args: { n: ri, rid },
                headers: null,
              });
            }
            ok++;
          }
          return ok;
        })),
        "1,000 requests",
        30_000,
      );
      assert.equal(results.reduce((a, b) => a + b, 0), CONNECTIONS * REQUESTS);
    } finally {
      for (const client of clients) client.close();
    }
  });
});

Deno.test("a hook still running on one connection does not hold up the others", async () => {
  const path = socketPath("gate");
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => entered = resolve);
  const server = new ExternalPluginServer({
    plugins: [
      new ScriptedPlugin({ name: "Gate", hooks: ["tool_pre_invoke"] }, async () => {
        entered();
        await gate;
        return { metadata: { released: true } };
      }),
      ...testPlugins(),
    ],
  });
  try {
    await server.serve({ transport: "unix", path, printReady: false });
    const slow = await FrameClient.connect(path);
    try {
      const pending = slow.call(
        invokeRequest("tool_pre_invoke", "Gate", { name: "echo" }, { global_context: GC }),
      );
      await within(inside, "Gate hook entered");
      // Other connections are answered while Gate waits.
      for (let i = 0; i < 5; i++) {
        const reply = decodeInvoke(
          await withClient(path, (c) =>
            c.call(
              invokeRequest("tool_pre_invoke", "Echo", { name: "echo" }, {
                global_context: { request_id: `other-${i}` },
              }),
            )),
        );
        assert.deepEqual(reply.result?.modified_payload, {
          name: "echo",
          args: { rid: `other-${i}` },
          headers: null,
        });
      }
      release();
      const reply = decodeInvoke(await pending);
      assert.equal(reply.plugin_name, "Gate");
      assert.deepEqual(reply.result?.metadata, { released: true });
    } finally {
      release();
      slow.close();
    }
  } finally {
    await server.close();
    await Deno.remove(path).catch(() => {});
  }
});
