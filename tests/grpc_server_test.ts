/**
 * The gRPC transport end to end in one process (wire.md §4, §5): our server
 * (`ExternalPluginServer.serve({ transport: "grpc" })`) and our gateway-side client
 * (`GrpcExternalPlugin`) over TCP and a Unix socket, plus raw grpc-js calls that check the
 * bytes: the three operations, both health services, allow / modify / block / raise / unknown
 * plugin / unknown hook, context round trips, the socket file's lifecycle and the settings
 * precedence.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext, PluginError, type PluginResult } from "../mod.ts";
import { ExternalPluginServer } from "../server.ts";
import { decodeMessage, encodeMessage } from "../src/external/proto/codec.ts";
import type { GrpcExternalPlugin } from "../src/external/grpc/client.ts";
import { resolveGrpcServerSettings } from "../src/external/grpc/server.ts";
import { fromStruct, pluginContextToProto, toStruct } from "../src/external/proto/struct.ts";
import {
  connectPlugin,
  RawGrpcClient,
  type RunningGrpcServer,
  socketPath,
  startGrpcServer,
  within,
} from "./helpers/grpc_fixtures.ts";
import { ScriptedPlugin } from "./helpers/plugins.ts";
import { withEnv } from "./helpers/context_plugins.ts";
import { createTestPki } from "./helpers/tls_pki.ts";

const HOOKS = ["tool_pre_invoke", "tool_post_invoke"];

function plugins(): ScriptedPlugin[] {
  return [
    new ScriptedPlugin({ name: "Allow", hooks: HOOKS, config: { level: 3 } }),
    new ScriptedPlugin(
      { name: "Modify", hooks: HOOKS },
      (payload) => ({ modified_payload: { ...payload, args: { text: "yikes" } } }),
    ),
    new ScriptedPlugin({ name: "Block", hooks: HOOKS }, () => ({
      continue_processing: false,
      violation: {
        reason: "Blocked word",
        description: "Argument 'text' contains a blocked word",
        code: "BLOCKED_WORD",
        details: { arg: "text", count: 2 },
        mcp_error_code: -32001,
        http_status_code: 403,
      },
    })),
    new ScriptedPlugin({ name: "Raise", hooks: HOOKS }, () => {
      throw new TypeError("Sadly! boom");
    }),
    new ScriptedPlugin({ name: "Ctx", hooks: HOOKS }, (_payload, context) => {
      const seen = (context.state.seen as number | undefined) ?? 0;
      context.state.seen = seen + 1;
      context.metadata.by = "Ctx";
      (context.global_context.state ??= {}).shared = `from-${context.global_context.request_id}`;
      return { metadata: { user: context.global_context.user ?? null } };
    }),
  ];
}

const signal = new AbortController().signal;
const callOptions = { signal, extensions: null };

async function invoke(
  plugin: GrpcExternalPlugin,
  context: PluginContext,
  text = "hello",
): Promise<PluginResult> {
  return await plugin.handleHook(
    "tool_pre_invoke",
    { name: "echo", args: { text } },
    context,
    callOptions,
  );
}

/** Runs `body` against a server on TCP and on a Unix socket. */
function bothTransports(
  name: string,
  body: (server: RunningGrpcServer, address: string) => Promise<void>,
): void {
  for (const kind of ["tcp", "uds"] as const) {
    Deno.test(`${name} (${kind})`, async () => {
      const server = await startGrpcServer(
        plugins(),
        kind === "uds" ? { uds: socketPath("srv") } : { port: 0 },
      );
      try {
        await body(server, server.address);
      } finally {
        await server.close();
      }
    });
  }
}

bothTransports("allow, modify and block round trip through the client", async (_s, address) => {
  const allow = await connectPlugin(address, { name: "Allow" });
  const modify = await connectPlugin(address, { name: "Modify" });
  const block = await connectPlugin(address, { name: "Block" });
  try {
    const ctx = new PluginContext({ request_id: "req-1" });
    const allowed = await invoke(allow, ctx);
    assert.equal(allowed.continue_processing, true);
    assert.equal(allowed.modified_payload, null);

    const modified = await invoke(modify, ctx);
    assert.equal(modified.continue_processing, true);
    assert.deepEqual(modified.modified_payload, {
      name: "echo",
      args: { text: "yikes" },
      headers: null,
    });

    const blocked = await invoke(block, ctx);
    assert.equal(blocked.continue_processing, false);
    assert.equal(blocked.modified_payload, null);
    assert.equal(blocked.metadata, null, "a blocked result carries no metadata on the wire");
    assert.deepEqual(blocked.violation, {
      reason: "Blocked word",
      description: "Argument 'text' contains a blocked word",
      code: "BLOCKED_WORD",
      details: { arg: "text", count: 2 },
      mcp_error_code: -32001,
      http_status_code: 403,
      http_headers: null,
    });
  } finally {
    await Promise.all([allow.shutdown(), modify.shutdown(), block.shutdown()]);
  }
});

bothTransports(
  "a raising plugin, an unknown plugin and an unknown hook come back as PluginError",
  async (_s, address) => {
    const raise = await connectPlugin(address, { name: "Raise" });
    const allow = await connectPlugin(address, { name: "Allow" });
    try {
      const ctx = new PluginContext({ request_id: "req-1" });
      const raised = await invoke(raise, ctx).catch((e) => e);
      assert.ok(raised instanceof PluginError, String(raised));
      assert.equal(raised.error.message, "TypeError('Sadly! boom')");
      assert.equal(raised.error.plugin_name, "Raise");

      // A hook the server's plugin does not declare.
      const unknownHook = await allow.handleHook(
        "prompt_pre_fetch",
        { prompt_id: "p", args: {} },
        ctx,
        callOptions,
      ).catch((e) => e);
      assert.ok(unknownHook instanceof PluginError);
      assert.equal(
        unknownHook.error.message,
        "Unable to find prompt_pre_fetch for plugin Allow.  Make sure the plugin is registered.",
      );
    } finally {
      await Promise.all([raise.shutdown(), allow.shutdown()]);
    }

    // An unknown plugin: the config fetch already fails.
    const missing = await connectPlugin(address, { name: "Nope" }).catch((e) => e);
    assert.ok(missing instanceof PluginError);
    assert.equal(missing.error.message, "Unable to retrieve configuration for external plugin");

    // Invoking it anyway (raw) gives the reference's error bytes.
    const raw = await RawGrpcClient.connect(address);
    try {
      const out = await raw.call(
        "/cpex.PluginService/InvokeHook",
        encodeMessage("InvokeHookRequest", {
          hook_type: "tool_pre_invoke",
          plugin_name: "Nope",
          payload: toStruct({ name: "echo", args: { text: "hello" }, headers: null }),
          context: { global_context: { request_id: "req-1", server_id: "srv-1" } },
        }),
      );
      assert.equal(out.code, 0);
      assert.equal(
        Array.from(out.bytes!, (b) => b.toString(16).padStart(2, "0")).join(""),
        "0a044e6f706522670a54556e61626c6520746f2066696e6420746f6f6c5f7072655f696e766f6b6520666f7220706c7567696e204e6f70652e20204d616b6520737572652074686520706c7567696e20697320726567697374657265642e12044e6f706528a581feffffffffffff01",
      );
    } finally {
      raw.close();
    }
  },
);

bothTransports(
  "the plugin context round-trips: local state and metadata, global state",
  async (_s, address) => {
    const plugin = await connectPlugin(address, { name: "Ctx" });
    try {
      const ctx = new PluginContext({ request_id: "req-7", user: "alice" }, { seen: 41 });
      const result = await invoke(plugin, ctx);
      assert.deepEqual(result.metadata, { user: "alice" });
      assert.deepEqual(ctx.state, { seen: 42 });
      assert.deepEqual(ctx.metadata, { by: "Ctx" });
      assert.deepEqual(ctx.global_context.state, { shared: "from-req-7" });
      await invoke(plugin, ctx);
      assert.deepEqual(ctx.state, { seen: 43 }, "state kept across calls");

      // Raw: a context-free plugin's reply has no context field; Ctx's has one.
      const raw = await RawGrpcClient.connect(address);
      try {
        const request = (name: string) =>
          encodeMessage("InvokeHookRequest", {
            hook_type: "tool_pre_invoke",
            plugin_name: name,
            payload: toStruct({ name: "echo", args: {} }),
            context: pluginContextToProto({ global_context: { request_id: "r" } }),
          });
        const allow = decodeMessage(
          "InvokeHookResponse",
          (await raw.call("/cpex.PluginService/InvokeHook", request("Allow"))).bytes!,
        );
        assert.equal(allow.context, null);
        assert.equal(allow.plugin_name, "Allow");
        assert.equal(fromStruct(allow.result).continue_processing, true);
        const withCtx = decodeMessage(
          "InvokeHookResponse",
          (await raw.call("/cpex.PluginService/InvokeHook", request("Ctx"))).bytes!,
        );
        assert.deepEqual(fromStruct(withCtx.context!.state), { seen: 1 });
      } finally {
        raw.close();
      }
    } finally {
      await plugin.shutdown();
    }
  },
);

bothTransports(
  "config queries: one (case-insensitive), all, and not found as an empty message",
  async (_s, address) => {
    const raw = await RawGrpcClient.connect(address);
    try {
      const one = await raw.call(
        "/cpex.PluginService/GetPluginConfig",
        encodeMessage("GetPluginConfigRequest", { name: "allow" }),
      );
      const found = decodeMessage("GetPluginConfigResponse", one.bytes!);
      assert.equal(found.found, true);
      const config = fromStruct(found.config);
      assert.equal(config.name, "Allow");
      assert.deepEqual(config.config, { level: 3 });
      assert.deepEqual(config.hooks, HOOKS);

      const none = await raw.call(
        "/cpex.PluginService/GetPluginConfig",
        encodeMessage("GetPluginConfigRequest", { name: "nope" }),
      );
      assert.equal(none.code, 0);
      assert.equal(none.bytes!.length, 0, "not found is the empty message");

      const all = await raw.call("/cpex.PluginService/GetPluginConfigs", new Uint8Array(0));
      const configs = decodeMessage("GetPluginConfigsResponse", all.bytes!).configs ?? [];
      assert.deepEqual(configs.map((c) => fromStruct(c).name), [
        "Allow",
        "Modify",
        "Block",
        "Raise",
        "Ctx",
      ]);
    } finally {
      raw.close();
    }
  },
);

bothTransports("cpex.Health and grpc.health.v1.Health both answer SERVING", async (_s, address) => {
  const raw = await RawGrpcClient.connect(address);
  try {
    const cpex = await raw.call(
      "/cpex.Health/Check",
      encodeMessage("HealthCheckRequest", { service: "anything" }),
    );
    assert.equal(decodeMessage("HealthCheckResponse", cpex.bytes!).status, 1);

    for (const service of ["", "cpex.PluginService"]) {
      const std = await raw.call(
        "/grpc.health.v1.Health/Check",
        service
          ? new Uint8Array([0x0a, service.length, ...new TextEncoder().encode(service)])
          : new Uint8Array(0),
      );
      assert.equal(std.code, 0, std.details);
      assert.deepEqual([...std.bytes!], [0x08, 0x01], "status SERVING");
    }
    const unknown = await raw.call(
      "/grpc.health.v1.Health/Check",
      new Uint8Array([0x0a, 0x03, 0x66, 0x6f, 0x6f]),
    );
    assert.equal(unknown.code, 5, "NOT_FOUND for an unknown service, as grpc.health.v1 says");
    const watch = await raw.call("/grpc.health.v1.Health/Watch", new Uint8Array(0));
    assert.equal(watch.code, 12, "Watch is not implemented");
  } finally {
    raw.close();
  }
});

Deno.test("concurrent hook calls multiplex on the plugin's one channel", async () => {
  let inFlight = 0;
  let peak = 0;
  let release!: () => void;
  const allIn = new Promise<void>((resolve) => release = resolve);
  const slow = new ScriptedPlugin({ name: "Slow", hooks: HOOKS }, async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    if (inFlight === 16) release();
    await allIn;
    inFlight--;
    return {};
  });
  const server = await startGrpcServer([slow]);
  const plugin = await connectPlugin(server.address, { name: "Slow" });
  try {
    const results = await within(
      Promise.all(
        Array.from(
          { length: 16 },
          (_, i) => invoke(plugin, new PluginContext({ request_id: `r${i}` })),
        ),
      ),
      "16 concurrent calls",
    );
    assert.equal(results.length, 16);
    assert.equal(peak, 16, "all 16 calls were on the server at once");
  } finally {
    await plugin.shutdown();
    await server.close();
  }
});

Deno.test("the Unix socket is 0600, removed on close, a stale one is replaced, a live one or a file refused", async () => {
  const path = socketPath("life");
  const first = await startGrpcServer(plugins(), { uds: path });
  try {
    const info = await Deno.lstat(path);
    assert.ok(info.isSocket);
    assert.equal(info.mode! & 0o777, 0o600);
    await assert.rejects(
      startGrpcServer(plugins(), { uds: path }),
      (e: Error) => e instanceof Deno.errors.AddrInUse && e.message.includes(path),
    );
  } finally {
    await first.close();
  }
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "removed on close");

  // A stale socket file (nobody listening) is replaced.
  const stale = Deno.listen({ transport: "unix", path });
  // Closing a Deno listener removes its file; recreate a dead one by renaming.
  const other = `${path}.dead`;
  const dead = Deno.listen({ transport: "unix", path: other });
  stale.close();
  await Deno.link(other, path);
  dead.close();
  await Deno.remove(other).catch(() => {});
  assert.ok((await Deno.lstat(path)).isSocket, "a dead socket file exists");
  const second = await startGrpcServer(plugins(), { uds: path });
  try {
    const plugin = await connectPlugin(path, { name: "Allow" });
    await invoke(plugin, new PluginContext({ request_id: "r" }));
    await plugin.shutdown();
  } finally {
    await second.close();
  }

  // A regular file is never replaced.
  await Deno.writeTextFile(path, "not a socket");
  try {
    await assert.rejects(startGrpcServer(plugins(), { uds: path }), /is not a socket/);
    assert.equal(await Deno.readTextFile(path), "not a socket");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("TLS over a Unix socket is refused with a clear error", async () => {
  await using pki = await createTestPki();
  const server = new ExternalPluginServer({ plugins: plugins() });
  try {
    await assert.rejects(
      server.serve({
        transport: "grpc",
        uds: socketPath("tls"),
        tls: { certfile: pki.serverCert, keyfile: pki.serverKey, client_auth: "none" },
        printReady: false,
        handleSignals: false,
      }),
      /TLS over a Unix socket is not supported/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("server settings: YAML block wins over PLUGINS_GRPC_SERVER_*, env over defaults, options over both", async () => {
  assert.deepEqual(
    await withEnv(
      { PLUGINS_GRPC_SERVER_HOST: undefined, PLUGINS_GRPC_SERVER_PORT: undefined },
      () => Promise.resolve(resolveGrpcServerSettings(null)),
    ),
    { host: "127.0.0.1", port: 50051, uds: null, tls: null },
  );
  await withEnv(
    { PLUGINS_GRPC_SERVER_HOST: "0.0.0.0", PLUGINS_GRPC_SERVER_PORT: "6000" },
    () => {
      assert.deepEqual(resolveGrpcServerSettings(null), {
        host: "0.0.0.0",
        port: 6000,
        uds: null,
        tls: null,
      });
      const yaml = { host: "127.0.0.2", port: 7000, uds: null, tls: null };
      assert.deepEqual(resolveGrpcServerSettings(yaml), yaml, "YAML ignores the env entirely");
      assert.deepEqual(resolveGrpcServerSettings(yaml, { port: 0 }), { ...yaml, port: 0 });
      assert.deepEqual(resolveGrpcServerSettings(yaml, { uds: "/tmp/x.sock" }), {
        ...yaml,
        uds: "/tmp/x.sock",
      });
      const udsYaml = { host: "127.0.0.1", port: 50051, uds: "/tmp/y.sock", tls: null };
      assert.equal(resolveGrpcServerSettings(udsYaml).uds, "/tmp/y.sock");
      assert.equal(resolveGrpcServerSettings(udsYaml, { host: "127.0.0.1" }).uds, null);
      return Promise.resolve();
    },
  );
  await withEnv({ PLUGINS_GRPC_SERVER_UDS: "/tmp/z.sock" }, () => {
    assert.equal(resolveGrpcServerSettings(null).uds, "/tmp/z.sock");
    return Promise.resolve();
  });
  assert.throws(
    () => resolveGrpcServerSettings(null, { port: 0, tls: { certfile: "/nonexistent.crt" } }),
    /tls\.certfile: file not found/,
  );
});

Deno.test("the YAML grpc_server_settings block is used by serve()", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-gy-" });
  const path = `${dir}/s.sock`;
  try {
    await Deno.writeTextFile(
      `${dir}/plugins.ts`,
      `import { Plugin } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};\n` +
        "export class Allow extends Plugin { tool_pre_invoke() { return {}; } }\n",
    );
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        "plugins:",
        "  - name: Allow",
        "    kind: ./plugins.ts#Allow",
        "    hooks: [tool_pre_invoke]",
        "grpc_server_settings:",
        `  uds: ${path}`,
      ].join("\n") + "\n",
    );
    const server = new ExternalPluginServer({ config: `${dir}/config.yaml` });
    const handle = await server.serve({
      transport: "grpc",
      printReady: false,
      handleSignals: false,
    });
    try {
      assert.equal(handle.address, path);
      const plugin = await connectPlugin(path, { name: "Allow" });
      assert.equal(
        (await invoke(plugin, new PluginContext({ request_id: "r" }))).continue_processing,
        true,
      );
      await plugin.shutdown();
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
