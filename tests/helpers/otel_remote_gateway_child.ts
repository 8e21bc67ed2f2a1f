/**
 * A gateway for the trace propagation test (issue 15), run with Deno's built-in OpenTelemetry
 * (`OTEL_DENO=true`): `otel_remote_gateway_child.ts GRPC_ADDRESS HTTP_PORT`. Reaches `guard` and
 * `slow` over gRPC and `flaky` over MCP Streamable HTTP on the server of `otel_server_child.ts`,
 * traces with {@linkcode OtelObservability}, makes the calls of `CALLS`, prints `done`, and
 * exits when its stdin closes.
 *
 * @module
 */
import { OtelObservability, PluginManager, withTraceId } from "../../mod.ts";
import { CALLS, HOOK } from "./otel_plugins.ts";

const [grpcAddress, httpPort] = Deno.args;
const entry = (name: string, priority: number, where: Record<string, unknown>) => ({
  name,
  kind: "external",
  hooks: [HOOK],
  priority,
  // Explicit, so the server's 50 ms timeout of `slow` is not merged in: only the server times out.
  timeout: 10,
  ...where,
});
const manager = new PluginManager(
  {
    plugins: [
      entry("guard", 1, { grpc: { target: grpcAddress } }),
      // A host name: the gateway refuses loopback IPs in MCP URLs (SSRF protection).
      entry("flaky", 2, {
        mcp: { proto: "STREAMABLEHTTP", url: `http://localhost:${httpPort}/mcp` },
      }),
      entry("slow", 3, { grpc: { target: grpcAddress } }),
    ],
  } as never,
  { observability: new OtelObservability() },
);
await manager.initialize();
await withTraceId("gateway-trace", async () => {
  for (const name of CALLS) {
    await manager.invokeHook(HOOK, { name, args: {} }, { request_id: `r-${name}` });
  }
});
await manager.shutdown();
console.log("done");
for await (const _ of Deno.stdin.readable) {
  // Wait for the test to close stdin.
}
