/**
 * `registerServerTransport` (issue 10 item 2): a custom server transport is served by
 * `ExternalPluginServer.serve()` like a built-in one, gets the server to answer through, and is
 * closed by `server.close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Plugin } from "../mod.ts";
import { ExternalPluginServer, registerServerTransport, type ServerHandle } from "../server.ts";

class Deny extends Plugin {
  tool_pre_invoke() {
    return { continue_processing: false };
  }
}

Deno.test("a registered server transport is served, answers through the server and is closed", async () => {
  const calls: unknown[] = [];
  let closed = 0;
  registerServerTransport("in_memory_test", () =>
    Promise.resolve(async (server, options) => {
      calls.push(options.path);
      // The transport answers through the server it was given.
      const reply = await server.invokeHook("tool_pre_invoke", "deny", { name: "t" }, {
        global_context: { request_id: "r1" },
      });
      calls.push(reply.result?.continue_processing);
      let stop!: () => void;
      const finished = new Promise<void>((resolve) => stop = resolve);
      const handle: ServerHandle = {
        address: "memory",
        finished,
        close: () => {
          closed++;
          stop();
          return finished;
        },
      };
      return handle;
    }));
  const server = new ExternalPluginServer({
    plugins: [new Deny({ name: "deny", kind: "inline", hooks: ["tool_pre_invoke"] })],
  });
  const handle = await server.serve({ transport: "in_memory_test", path: "/p" });
  assert.equal(handle.address, "memory");
  assert.deepEqual(calls, ["/p", false]);
  await server.close();
  await handle.finished;
  assert.equal(closed, 1);
});

Deno.test("an unknown transport names the registered ones, custom ones included", async () => {
  registerServerTransport("listed_test", () => Promise.reject(new Error("not loaded")));
  const server = new ExternalPluginServer({ plugins: [] });
  await assert.rejects(
    server.serve({ transport: "nope" }),
    /Unknown or missing transport 'nope'.*unix, grpc, http, streamablehttp, mcp, stdio.*listed_test/,
  );
  await server.shutdown();
});
