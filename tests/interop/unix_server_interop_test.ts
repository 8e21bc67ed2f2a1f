/**
 * Direction A of the raw Unix socket interop: the Python reference gateway (cpex 0.1.4
 * `PluginManager` with `kind: external` + `unix_socket:` entries, run by `unix_gateway.py`)
 * against OUR `ExternalPluginServer` serving TypeScript plugins on a Unix socket in this
 * process. Each test starts a server on a fresh socket, runs one gateway scenario and asserts
 * on what the reference gateway saw.
 *
 * Run: `deno task test:interop` (needs `--allow-net` for `unix:` sockets, `--allow-run`).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ExternalPluginServer,
  Plugin,
  type PluginContext,
  PluginError,
  type PluginResult,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
} from "../../mod.ts";
import { INTEROP_DIR, runPythonJson, uniqueSocketPath } from "./unix_helpers.ts";

const GATEWAY = `${INTEROP_DIR}unix_gateway.py`;

type Json = Record<string, unknown>;

/** Allows, and says so in the result metadata. */
class Allow extends Plugin {
  tool_pre_invoke(): PluginResult {
    return { metadata: { allowed_by: "deno" } };
  }
}

/** Upper-cases `args.q` and adds an argument. */
class Modify extends Plugin {
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return {
      modified_payload: {
        ...payload,
        args: { ...payload.args, q: String(payload.args?.q).toUpperCase(), added: true },
      },
      metadata: { modified_by: "deno" },
    };
  }
}

/** Blocks with a full violation. */
class Block extends Plugin {
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult {
    return {
      continue_processing: false,
      violation: {
        reason: "Denied word",
        description: `argument q of ${payload.name} contains a denied word`,
        code: "DENY_WORD",
        details: { word: String(payload.args?.q), positions: [0, 4], nested: { strict: true } },
        mcp_error_code: -32001,
        http_status_code: 403,
      },
    };
  }
}

/** Always throws. */
class Raise extends Plugin {
  tool_pre_invoke(): PluginResult {
    throw new Error("boom from deno");
  }
}

/** Throws a structured PluginError. */
class RaiseStructured extends Plugin {
  tool_pre_invoke(): PluginResult {
    throw new PluginError({
      message: "quota exhausted",
      plugin_name: "RaiseStructured",
      code: "QUOTA",
      details: { limit: 5 },
      mcp_error_code: -32002,
    });
  }
}

/** Writes local and global state in pre, reads its local state back in post. */
class Stateful extends Plugin {
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    context.setState("seen_q", payload.args?.q);
    context.setState("calls", 1);
    context.metadata.phase = "pre";
    (context.global_context.state ??= {}).stateful_seen = true;
    return {
      metadata: {
        saw_global_state: { ...context.global_context.state },
        saw_request_id: context.global_context.request_id,
        saw_server_id: context.global_context.server_id ?? null,
        saw_tenant_id: context.global_context.tenant_id ?? null,
        saw_user: context.global_context.user ?? null,
      },
    };
  }

  tool_post_invoke(_payload: ToolPostInvokePayload, context: PluginContext): PluginResult {
    const before = { ...context.state };
    context.setState("calls", Number(context.getState("calls", 0)) + 1);
    context.metadata.phase = "post";
    return { metadata: { local_state_before_post: before } };
  }
}

/** Echoes what it received in the result metadata. */
class Echo extends Plugin {
  tool_pre_invoke(payload: ToolPreInvokePayload, context: PluginContext): PluginResult {
    const gc = context.global_context;
    return { metadata: { args: payload.args, user: gc.user ?? null, request_id: gc.request_id } };
  }
}

/** Takes 400 ms, then allows. */
class Slow extends Plugin {
  async tool_pre_invoke(): Promise<PluginResult> {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return { metadata: { [this.name]: "done" } };
  }
}

function plugins(): Plugin[] {
  const sequential = { kind: "inline", mode: "sequential", on_error: "fail" } as const;
  return [
    new Allow({ ...sequential, name: "Allow", hooks: ["tool_pre_invoke"], priority: 10 }),
    new Modify({ ...sequential, name: "Modify", hooks: ["tool_pre_invoke"] }),
    new Block({ ...sequential, name: "Block", hooks: ["tool_pre_invoke"] }),
    new Raise({ ...sequential, name: "Raise", hooks: ["tool_pre_invoke"] }),
    new RaiseStructured({ ...sequential, name: "RaiseStructured", hooks: ["tool_pre_invoke"] }),
    // Server-side transform mode: the server itself suppresses the violation.
    new Block({ ...sequential, name: "BlockSoft", hooks: ["tool_pre_invoke"], mode: "transform" }),
    new Echo({ ...sequential, name: "Echo", hooks: ["tool_pre_invoke"] }),
    ...[1, 2, 3].map((i) =>
      new Slow({ ...sequential, name: `Slow${i}`, hooks: ["tool_pre_invoke"] })
    ),
    new Stateful({
      ...sequential,
      name: "Stateful",
      hooks: ["tool_pre_invoke", "tool_post_invoke"],
    }),
  ];
}

/** Serves the test plugins on a fresh socket, runs one gateway scenario, always closes. */
async function gateway(scenario: string): Promise<Json> {
  const path = uniqueSocketPath("a");
  const server = new ExternalPluginServer({ plugins: plugins() });
  try {
    const handle = await server.serve({ transport: "unix", path, printReady: false });
    assert.equal(handle.address, path);
    return await runPythonJson([GATEWAY, path, scenario]);
  } finally {
    await server.close();
  }
}

const sanitize = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "python gateway: an allowing deno plugin lets the request through with its metadata",
  ...sanitize,
  async fn() {
    const out = await gateway("allow");
    assert.equal(out.plugin_count, 1);
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.equal(result.modified_payload, null);
    assert.equal(result.violation, null);
    assert.deepEqual(result.metadata, { allowed_by: "deno" });
  },
});

Deno.test({
  name: "python gateway: a deno plugin's modified payload reaches the gateway as the new payload",
  ...sanitize,
  async fn() {
    const out = await gateway("modify");
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.modified_payload, {
      name: "search",
      // `n: 3` travels as a protobuf double both ways (3.0 in Python, 3 again in JSON).
      args: { q: "HELLO", n: 3, tags: ["a", "b"], added: true },
      headers: null,
    });
    assert.deepEqual(result.metadata, { modified_by: "deno" });
  },
});

Deno.test({
  name: "python gateway: a deno violation keeps code, reason, details and mcp_error_code",
  ...sanitize,
  async fn() {
    const out = await gateway("block");
    const result = out.result as Json;
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload, null);
    const violation = result.violation as Json;
    assert.equal(violation.code, "DENY_WORD");
    assert.equal(violation.reason, "Denied word");
    assert.equal(violation.description, "argument q of search contains a denied word");
    assert.deepEqual(violation.details, {
      word: "hello",
      positions: [0, 4],
      nested: { strict: true },
    });
    assert.equal(violation.mcp_error_code, -32001);
    assert.equal(violation.http_status_code, 403);
    // Stamped by the gateway's executor from its own config.
    assert.equal(violation.plugin_name, "Block");
  },
});

Deno.test({
  name: "python gateway: a throwing deno plugin fails the hook when the gateway says on_error fail",
  ...sanitize,
  async fn() {
    const out = await gateway("raise_fail");
    assert.equal(out.result, undefined);
    const error = out.error as Json;
    assert.equal(error.message, "Error('boom from deno')");
    assert.equal(error.plugin_name, "Raise");
    assert.equal(error.mcp_error_code, -32603);
  },
});

Deno.test({
  name: "python gateway: a throwing deno plugin is skipped when the gateway says on_error ignore",
  ...sanitize,
  async fn() {
    const out = await gateway("raise_ignore");
    assert.equal(out.error, undefined);
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
    assert.equal(result.modified_payload, null);
  },
});

Deno.test({
  name: "python gateway: a deno PluginError keeps its message, code and mcp_error_code",
  ...sanitize,
  async fn() {
    const out = await gateway("raise_structured");
    const error = out.error as Json;
    assert.equal(error.message, "quota exhausted");
    assert.equal(error.plugin_name, "RaiseStructured");
    assert.equal(error.code, "QUOTA");
    assert.equal(error.mcp_error_code, -32002);
  },
});

Deno.test({
  name: "python gateway: an unknown plugin name gets the reference's 'Unable to find' error",
  ...sanitize,
  async fn() {
    const out = await gateway("unknown_plugin");
    const error = out.error as Json;
    assert.equal(
      error.message,
      "Unable to find tool_pre_invoke for plugin Nope.  Make sure the plugin is registered.",
    );
    assert.equal(error.plugin_name, "Nope");
  },
});

Deno.test({
  name: "python gateway: a hook the deno plugin does not declare gets the 'Unable to find' error",
  ...sanitize,
  async fn() {
    const out = await gateway("unknown_hook");
    const error = out.error as Json;
    assert.equal(
      error.message,
      "Unable to find tool_post_invoke for plugin Allow.  Make sure the plugin is registered.",
    );
    assert.equal(error.plugin_name, "Allow");
  },
});

Deno.test({
  name: "python gateway: local and global context state round-trips across pre and post hooks",
  ...sanitize,
  async fn() {
    const out = await gateway("context");
    const pre = out.pre as Json;
    assert.equal(pre.continue_processing, true);
    assert.deepEqual(pre.metadata, {
      saw_global_state: { gateway_seed: "seed", stateful_seen: true },
      saw_request_id: "req-1",
      saw_server_id: "srv-1",
      saw_tenant_id: "ten-1",
      saw_user: "alice",
    });
    // The global state written on our server is merged into the gateway's global context.
    assert.deepEqual(out.global_state_after_pre, { gateway_seed: "seed", stateful_seen: true });
    // The local context comes back into the gateway's context table...
    assert.deepEqual(out.local_after_pre, [
      { state: { seen_q: "hello", calls: 1 }, metadata: { phase: "pre" } },
    ]);
    // ...and is sent again with the post hook, where the plugin finds it.
    const post = out.post as Json;
    assert.deepEqual(post.metadata, { local_state_before_post: { seen_q: "hello", calls: 1 } });
    assert.deepEqual(out.local_after_post, [
      { state: { seen_q: "hello", calls: 2 }, metadata: { phase: "post" } },
    ]);
    assert.deepEqual(out.global_state_after_post, { gateway_seed: "seed", stateful_seen: true });
  },
});

Deno.test({
  name: "python gateway: config queries on the socket are answered case-insensitively and validate",
  ...sanitize,
  async fn() {
    const out = await gateway("config");
    const allow = out.allow as Json;
    assert.equal(allow.found, true);
    const validated = allow.validated as Json;
    assert.equal(validated.name, "Allow");
    assert.deepEqual(validated.hooks, ["tool_pre_invoke"]);
    assert.equal(validated.mode, "sequential");
    assert.equal(validated.priority, 10);
    assert.deepEqual(out.Missing, { found: false });
    assert.deepEqual(out.all_names, [
      "Allow",
      "Modify",
      "Block",
      "Raise",
      "RaiseStructured",
      "BlockSoft",
      "Echo",
      "Slow1",
      "Slow2",
      "Slow3",
      "Stateful",
    ]);
  },
});

Deno.test({
  name: "python gateway: a violation of a deno plugin in server-side transform mode is suppressed",
  ...sanitize,
  async fn() {
    const out = await gateway("block_server_transform");
    const result = out.result as Json;
    // wire.md §1.2 step 4: the server applies its own mode, whatever the gateway says.
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
  },
});

Deno.test({
  name: "python gateway: a structured user, unicode and nulls reach the deno plugin unchanged",
  ...sanitize,
  async fn() {
    const out = await gateway("echo");
    const result = out.result as Json;
    assert.deepEqual(result.metadata, {
      args: { text: "h\u00e9llo \u2713 \u{1f600}", none: null, flag: false, list: [1.5, "x"] },
      user: { id: "u1", roles: ["admin"], active: true },
      request_id: "req-1",
    });
  },
});

Deno.test({
  name: "python gateway: concurrent-mode plugins are served in parallel over separate connections",
  ...sanitize,
  async fn() {
    const out = await gateway("concurrent");
    const result = out.result as Json;
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.metadata, { Slow1: "done", Slow2: "done", Slow3: "done" });
    // Three 400 ms plugins one after another would take 1.2 s.
    assert.ok(Number(out.elapsed_s) < 1.0, `took ${out.elapsed_s} s`);
  },
});
