/**
 * A gRPC plugin server (the example `ArgumentValidator`) with connection limits from the
 * command line, for the resource-limit tests: `grpc_limits_child.ts ADDRESS LIMITS_JSON
 * [TLS_JSON]`, where ADDRESS is `HOST:PORT` or `unix:PATH`. Prints `READY`, stops on SIGTERM.
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { hostedPlugins } from "../../examples/plugins/catalog.ts";
import { serveGrpc } from "../../src/external/grpc/server.ts";

const [address, limitsJson, tlsJson] = Deno.args;
const { plugins } = hostedPlugins([]);
const server = new ExternalPluginServer({ plugins });
const where = address.startsWith("unix:")
  ? { uds: address.slice("unix:".length) }
  : { host: address.slice(0, address.lastIndexOf(":")), port: Number(address.split(":").pop()) };
const handle = await serveGrpc(server, {
  ...where,
  ...JSON.parse(limitsJson ?? "{}"),
  tls: tlsJson ? JSON.parse(tlsJson) : null,
});
await handle.finished;
await server.close();
