/**
 * A plugin server for the hot-reload tests: `reload_server_child.ts KIND PATH LABEL` serves two
 * plugins, `LABEL1` (allows, tags the metadata) and `LABEL2` (tags it and BLOCKS with code
 * LABEL), on a Unix socket (KIND `unix`), or gRPC (`grpc`) or MCP Streamable HTTP (`mcp`) over
 * a Unix socket. Each call takes a few milliseconds, so reloads overlap calls in flight. Prints
 * `READY`, stops on SIGTERM.
 *
 * @module
 */
import { Plugin, type PluginResult } from "../../mod.ts";
import { ExternalPluginServer, type ServeOptions } from "../../server.ts";

const [kind, path, label] = Deno.args;

/** Tags `metadata` with its name after a short wait; the second one blocks. */
class Tagger extends Plugin {
  async tool_pre_invoke(): Promise<PluginResult> {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const metadata = { [this.name]: true };
    if (this.name.endsWith("1")) return { metadata };
    return {
      continue_processing: false,
      violation: { reason: "blocked", description: `blocked by ${label}`, code: label },
      metadata,
    };
  }
}

const plugins = [1, 2].map((i) =>
  new Tagger({ name: `${label}${i}`, kind: "reload.Tagger", hooks: ["tool_pre_invoke"] })
);
const server = new ExternalPluginServer({ plugins });
const options: ServeOptions = kind === "unix"
  ? { transport: "unix", path }
  : { transport: kind === "grpc" ? "grpc" : "http", uds: path };
try {
  const handle = await server.serve(options);
  await handle.finished;
  await server.close();
} catch (error) {
  await server.shutdown();
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
