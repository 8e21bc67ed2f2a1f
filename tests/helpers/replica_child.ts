/**
 * A plugin server for the replica tests (issue 14): `replica_child.ts KIND ADDRESS [VARIANT]`
 * serves one plugin, `blocker`, that BLOCKS every `tool_pre_invoke` (violation code
 * `BLOCKED`), on KIND `unix` (ADDRESS: socket path), `grpc` or `http` (ADDRESS:
 * `127.0.0.1:PORT`, PORT 0 picks one; `grpc` also `unix:PATH`). VARIANT `other` serves it with a different priority,
 * so its config disagrees with the others'. Prints `READY <kind> <address>`; stops on SIGTERM,
printing `CALLS <n>` (the hook calls it answered).
 * Run with the transport's documented flags only (see `tests/replicas_test.ts`).
 *
 * @module
 */
import { Plugin, type PluginResult } from "../../mod.ts";
import { ExternalPluginServer, type ServeOptions } from "../../server.ts";

let calls = 0;

/** Blocks every call. */
class Blocker extends Plugin {
  tool_pre_invoke(): PluginResult {
    calls++;
    return {
      continue_processing: false,
      violation: { reason: "blocked", description: "every call is blocked", code: "BLOCKED" },
    };
  }
}

const [kind, address, variant] = Deno.args;
const server = new ExternalPluginServer({
  plugins: [
    new Blocker({
      name: "blocker",
      kind: "inline",
      hooks: ["tool_pre_invoke"],
      priority: variant === "other" ? 7 : 100,
    }),
  ],
  manager: { logger: { warn: () => {} } },
});
let options: ServeOptions;
if (kind === "unix") options = { transport: "unix", path: address };
else if (address.startsWith("unix:")) options = { transport: "grpc", uds: address.slice(5) };
else {
  const port = Number(address.split(":").pop());
  options = { transport: kind === "grpc" ? "grpc" : "http", host: "127.0.0.1", port };
}
const handle = await server.serve(options);
await handle.finished;
console.log(`CALLS ${calls}`);
