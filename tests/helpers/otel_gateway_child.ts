/**
 * A gateway for the OpenTelemetry export test (issue 15): a PluginManager with in-process guard
 * plugins, run with Deno's built-in OpenTelemetry (`OTEL_DENO=true`), that makes a known mix of
 * allowed, blocked, failing and timing-out calls, prints `done`, and exits when its stdin closes.
 * It stays up meanwhile because Deno reads observable instruments (the counters) only at its
 * periodic collections, not in the flush at exit; spans are flushed at exit.
 *
 * @module
 */
import { OtelObservability, PluginManager, withTraceId } from "../../mod.ts";
import { CALLS, guardPlugins, HOOK } from "./otel_plugins.ts";

const manager = new PluginManager(null, { observability: new OtelObservability() });
await manager.initialize();
for (const plugin of guardPlugins()) await manager.registerPlugin(plugin);
// 3 allowed, 1 blocked, 1 failing (absorbed), 1 timing out (absorbed).
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
