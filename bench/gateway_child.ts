/**
 * Child process of `grpc_rss.ts`: our gateway (a `PluginManager` with the `kind: external`
 * plugin entries given as JSON) in a process of its own, so its memory can be read. Speaks the
 * driver protocol of `stack_driver.ts` (the same as `python_gateway.py`): prints `READY` after
 * `initialize()` and one checked call; then each stdin line `<in_flight> <ms>` runs that many
 * concurrent callers back to back for that long, each call on a payload parsed afresh, and
 * prints one JSON line `{"calls", "seconds", "latencies_ms"}`. End of stdin shuts the manager
 * down and exits. Needs only the transport's flags, e.g. for gRPC over TCP:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:PORT --allow-env=GRPC_TRACE,... bench/gateway_child.ts '[...]'
 * ```
 *
 * @module
 */
import { parseConfig, PluginManager } from "../mod.ts";
import { printReady } from "./children.ts";
import { freshGlobalContext, PAYLOAD_TEXT } from "./harness.ts";
import { freshPayload } from "./payloads.ts";

const entries = JSON.parse(Deno.args[0] ?? "[]") as Record<string, unknown>[];
const manager = new PluginManager(parseConfig({ plugins: entries }));
await manager.initialize();
if (manager.pluginCount !== entries.length) {
  console.error(`only ${manager.pluginCount} of ${entries.length} plugins loaded`);
  Deno.exit(1);
}

async function call(): Promise<void> {
  const [result] = await manager.invokeHook(
    "tool_pre_invoke",
    freshPayload(PAYLOAD_TEXT),
    freshGlobalContext(),
  );
  if (!result.continue_processing) throw new Error(`blocked: ${JSON.stringify(result.violation)}`);
}

await call();
await printReady();

const encoder = new TextEncoder();
let buffered = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffered += chunk;
  let end;
  while ((end = buffered.indexOf("\n")) >= 0) {
    const [inFlight, ms] = buffered.slice(0, end).split(" ").map(Number);
    buffered = buffered.slice(end + 1);
    const latencies: number[] = [];
    const started = performance.now();
    const until = started + ms;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      let now = performance.now();
      while (now < until) {
        await call();
        const after = performance.now();
        latencies.push(after - now);
        now = after;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const line = JSON.stringify({
      calls: latencies.length,
      seconds,
      latencies_ms: latencies,
      memory: Deno.memoryUsage(),
    });
    await Deno.stdout.write(encoder.encode(`${line}\n`));
  }
}
await manager.shutdown();
Deno.exit(0);
