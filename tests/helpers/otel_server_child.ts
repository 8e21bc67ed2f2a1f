/**
 * A plugin server for the trace propagation test (issue 15), run with Deno's built-in
 * OpenTelemetry (`OTEL_DENO=true`): hosts the guard plugins of `otel_plugins.ts` on gRPC and on
 * MCP Streamable HTTP (both loopback, port 0), prints `GRPC host:port` and `HTTP host:port`, and
 * exits when its stdin closes (it stays up so Deno's periodic collection reads the counters).
 *
 * @module
 */
import { ExternalPluginServer } from "../../server.ts";
import { guardPlugins } from "./otel_plugins.ts";

const server = new ExternalPluginServer({ plugins: guardPlugins() });
const common = { host: "127.0.0.1", port: 0, printReady: false, handleSignals: false };
const grpc = await server.serve({ transport: "grpc", ...common });
const http = await server.serve({ transport: "http", ...common });
console.log(`GRPC ${grpc.address}`);
console.log(`HTTP ${http.address}`);
for await (const _ of Deno.stdin.readable) {
  // Wait for the test to close stdin.
}
await server.close();
