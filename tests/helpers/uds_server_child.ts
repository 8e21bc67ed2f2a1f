/**
 * Our plugin server (the example `ArgumentValidator`) on a Unix socket, for the socket-file
 * tests: `uds_server_child.ts KIND PATH`, KIND being `unix`, `grpc` or `mcp` (Streamable HTTP
 * over `uds`). Prints `READY`, stops on SIGTERM; a start-up failure is printed on stderr and
 * exits 1.
 *
 * @module
 */
import { ExternalPluginServer, type ServeOptions } from "../../server.ts";
import { hostedPlugins } from "../../examples/plugins/catalog.ts";

const [kind, path] = Deno.args;
const { plugins } = hostedPlugins([]);
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
