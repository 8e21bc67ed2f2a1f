/**
 * A manager built with its own {@linkcode HookRegistry} uses it end to end, over every external
 * transport (issue 10 item 3): the gateway-side proxy decodes and validates the remote result
 * with the manager's registry (not the process-wide default), and a server built with the same
 * registry validates the payload with it. A hook the manager's registry does not know is
 * refused with a clear error before anything is sent.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type ExternalPluginContext,
  HookRegistry,
  parseConfig,
  Plugin,
  type PluginConfigInput,
  PluginError,
  PluginManager,
  type PluginResult,
  registerExternalTransport,
} from "../mod.ts";
import { createUnixSocketPlugin } from "../src/external/unix/client.ts";
import { EMAIL_PRE_SEND, type EmailPayload, emailRegistry } from "./helpers/email_hooks.ts";
import { type Served, serveOn } from "./helpers/email_served.ts";
import { within } from "./helpers/unix_fixtures.ts";

const CHILD = new URL("./helpers/email_hooks.ts", import.meta.url).pathname;

function serveStdio(): Served {
  return {
    entry: {
      name: "EmailGuard",
      kind: "external",
      mcp: { proto: "STDIO", cmd: [Deno.execPath(), "run", "--no-prompt", CHILD] },
    },
    close: () => Promise.resolve(),
  };
}

async function gatewayFor(entry: PluginConfigInput, withRegistry: boolean): Promise<PluginManager> {
  const manager = new PluginManager(
    parseConfig({ plugins: [entry] }),
    withRegistry ? { hookRegistry: emailRegistry(), failOnPluginError: true } : {
      failOnPluginError: true,
    },
  );
  await within(manager.initialize(), "gateway initialize");
  return manager;
}

for (const transport of ["unix", "grpc", "http", "stdio"] as const) {
  Deno.test(`a manager with its own hook registry runs a custom hook over ${transport}`, async () => {
    const served = transport === "stdio" ? serveStdio() : await serveOn(transport);
    const manager = await gatewayFor(served.entry, true);
    try {
      const payload = { recipient: "ana@example.com" } as EmailPayload;
      const [allowed] = await within(
        manager.invokeHook(EMAIL_PRE_SEND, payload, { request_id: "r1" }),
        "allowed call",
      );
      assert.equal(allowed.continue_processing, true, JSON.stringify(allowed.executions));
      // "" came from the server validating with the custom schema (its default).
      assert.deepEqual(allowed.modified_payload, {
        recipient: "ana@example.com",
        subject: "[checked] ",
      });
      const [blocked] = await within(
        manager.invokeHook(EMAIL_PRE_SEND, { recipient: "x@evil.example", subject: "hi" }, {
          request_id: "r2",
        }),
        "blocked call",
      );
      assert.equal(blocked.continue_processing, false);
      assert.equal(blocked.violation?.code, "EVIL");
      assert.equal(blocked.violation?.plugin_name, "EmailGuard");
    } finally {
      await manager.shutdown();
      await served.close();
    }
  });
}

Deno.test("a hook unknown to the manager's own registry is refused by the proxy, clearly", async () => {
  const served = await serveOn("unix");
  // The gateway's registry lacks email_pre_send (the default one): the proxy refuses it.
  const manager = await gatewayFor(served.entry, false);
  try {
    await assert.rejects(
      manager.invokeHook(EMAIL_PRE_SEND, { recipient: "ana@example.com", subject: "" }, {
        request_id: "r3",
      }),
      (error: unknown) => {
        assert.ok(error instanceof PluginError);
        assert.match(error.message, /No result type registered for hook: email_pre_send/);
        assert.equal(error.error.plugin_name, "EmailGuard");
        return true;
      },
    );
  } finally {
    await manager.shutdown();
    await served.close();
  }
});

Deno.test("a transport registered by the user gets the loading manager's hook registry", async () => {
  const seen: ExternalPluginContext[] = [];
  registerExternalTransport("unix_socket", () =>
    Promise.resolve((config, context) => {
      seen.push(context);
      return new (class extends Plugin {
        override handleHook(): Promise<PluginResult> {
          return Promise.resolve({});
        }
      })(config);
    }));
  try {
    const hooks = HookRegistry.withBuiltins();
    const manager = new PluginManager(
      parseConfig({
        plugins: [{
          name: "remote",
          kind: "external",
          hooks: ["tool_pre_invoke"],
          unix_socket: { path: "/tmp/cpex-never-used.sock" },
        }],
      }),
      { hookRegistry: hooks, failOnPluginError: true },
    );
    await manager.initialize();
    await manager.shutdown();
    assert.equal(seen.length, 1);
    assert.equal(seen[0].hookRegistry, hooks);
  } finally {
    registerExternalTransport("unix_socket", () => Promise.resolve(createUnixSocketPlugin));
  }
});
