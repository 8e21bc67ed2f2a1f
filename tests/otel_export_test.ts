/**
 * End to end through Deno's built-in OpenTelemetry (issue 15): a gateway subprocess run with
 * `OTEL_DENO=true` exports to a real OTLP/HTTP receiver started here (loopback, port 0,
 * `http/json`, which Deno 2.9 supports), after allowed, blocked, failing and timing-out calls
 * with in-process plugins. The test decodes the OTLP JSON and checks the exact counter values,
 * the histogram counts, and the spans' names, attributes, status and parentage.
 *
 * @module
 */
import assert from "node:assert/strict";
import { within } from "./helpers/subprocess.ts";
import { assertGuardPoints, attrs, Receiver, total } from "./helpers/otlp_receiver.ts";

const CHILD = new URL("./helpers/otel_gateway_child.ts", import.meta.url);
const HOOK = "tool_pre_invoke";

Deno.test("a gateway with OTEL_DENO exports the plugin counters, histograms and spans over OTLP", async () => {
  const receiver = new Receiver();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", CHILD.pathname],
    cwd: new URL("../", import.meta.url).pathname,
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "cpex-gateway-test",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      NO_COLOR: "1",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  try {
    // 6 calls: guard sees 6, flaky and slow 5 each (the block ends the chain before them).
    await within(
      (async () => {
        while (total(receiver.points("cpex.plugin.calls")) < 16) {
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      "the counters of every call exported",
      60_000,
    );
  } finally {
    await child.stdin.close();
    const status = await within(child.status, "gateway exit", 60_000);
    const [out, err] = await Promise.all([stdout, stderr]);
    await receiver.close();
    assert.equal(status.code, 0, `gateway failed:\n${out}\n${err}`);
    assert.match(out, /done/);
  }

  assertGuardPoints(receiver);
  assert.deepEqual(receiver.points("cpex.hook.duration"), [
    { attributes: { hook: HOOK }, value: 6 },
  ]);

  const spans = receiver.spans();
  const chains = spans.filter((s) => s.name === "plugin.hook.invoke");
  assert.equal(chains.length, 6);
  const byName = (name: string) => spans.filter((s) => s.name === `plugin.execute.${name}`);
  assert.equal(byName("guard").length, 6);
  assert.equal(byName("flaky").length, 5);
  assert.equal(byName("slow").length, 5);
  assert.equal(spans.length, 22);
  for (const span of spans) {
    if (span.name === "plugin.hook.invoke") continue;
    const parent = chains.find((c) => c.spanId === span.parentSpanId);
    assert.ok(parent, `${span.name} is a child of a chain span`);
    assert.equal(span.traceId, parent.traceId);
  }
  const stopped = chains.map((s) => attrs(s.attributes)).filter((a) => a["plugin.chain.stopped"]);
  assert.deepEqual(stopped.map((a) => a["plugin.chain.stopped_by"]), ["guard"]);
  assert.equal(attrs(chains[0].attributes)["plugin.hook.type"], HOOK);
  const guard = byName("guard").map((s) => attrs(s.attributes));
  assert.equal(guard.filter((a) => a["plugin.had_violation"] === true).length, 1);
  assert.equal(guard[0]["plugin.name"], "guard");
  assert.equal(guard[0]["plugin.mode"], "sequential");
  // Failed calls end with an error status (2), the rest OK (1).
  assert.deepEqual(byName("slow").map((s) => s.status?.code ?? 0).sort(), [1, 1, 1, 1, 2]);
  assert.deepEqual(byName("flaky").map((s) => s.status?.code ?? 0).sort(), [1, 1, 1, 1, 2]);
});
