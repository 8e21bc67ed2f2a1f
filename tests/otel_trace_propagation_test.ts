/**
 * A gateway and a plugin server, both with Deno's built-in OpenTelemetry (`OTEL_DENO=true`),
 * export to one real OTLP/HTTP receiver started here (issue 15). The gateway reaches two plugins
 * over gRPC and one over MCP Streamable HTTP and makes allowed, blocked, failing and timing-out
 * calls (the failures happen on the server and are absorbed there by `on_error: ignore`). The
 * test checks the server's exact counters and histogram counts, the gateway's, and that every
 * server span is a child of the gateway's span of the same plugin call: same trace id, parent
 * span id = the gateway plugin span's id, or that of the HTTP client span Deno makes under it
 * (W3C `traceparent` in gRPC metadata and in MCP `_meta`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { within } from "./helpers/subprocess.ts";
import {
  assertGuardPoints,
  attrs,
  type OtlpSpan,
  Receiver,
  total,
  valueOf,
} from "./helpers/otlp_receiver.ts";

const SERVER = new URL("./helpers/otel_server_child.ts", import.meta.url).pathname;
const GATEWAY = new URL("./helpers/otel_remote_gateway_child.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const HOOK = "tool_pre_invoke";
const WAIT_MS = 60_000;
/** The variables grpc-js reads (its preflight asks for exactly these). */
const GRPC_ENV = [
  "GRPC_TRACE",
  "GRPC_VERBOSITY",
  "GRPC_NODE_TRACE",
  "GRPC_NODE_VERBOSITY",
  "GRPC_SSL_CIPHER_SUITES",
  "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
  "GRPC_NODE_USE_ALTERNATIVE_RESOLVER",
  "GRPC_NODE_DEBUG_SEND_ERROR_DETAILS",
  "GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION",
];

function start(script: string, args: string[], service: string, endpoint: string) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1,localhost",
      `--allow-env=${GRPC_ENV.join(",")}`,
      script,
      ...args,
    ],
    cwd: ROOT,
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      NO_COLOR: "1",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads stdout until every pattern matched; returns what was read. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  patterns: RegExp[],
): Promise<string> {
  let out = "";
  while (!patterns.every((p) => p.test(out))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stdout ended: ${out}`);
    out += value;
  }
  return out;
}

async function stop(child: Deno.ChildProcess, what: string, stderr: Promise<string>) {
  await child.stdin.close().catch(() => {});
  const status = await within(child.status, `${what} exit`, WAIT_MS);
  const err = await stderr;
  assert.equal(status.code, 0, `${what} failed:\n${err}`);
}

Deno.test("a plugin server's spans join the gateway's trace over gRPC and MCP; both export exact counters", async () => {
  const receiver = new Receiver();
  const server = start(SERVER, [], "cpex-plugin-server", receiver.url);
  const serverErr = new Response(server.stderr).text();
  const serverOut = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let gateway: Deno.ChildProcess | null = null;
  let gatewayErr: Promise<string> = Promise.resolve("");
  try {
    const lines = await within(
      readUntil(serverOut, [/^GRPC \S+$/m, /^HTTP \S+$/m]),
      "server addresses",
      WAIT_MS,
    );
    const grpc = /^GRPC (\S+)$/m.exec(lines)![1];
    const httpPort = /^HTTP \S+:(\d+)$/m.exec(lines)![1];
    gateway = start(GATEWAY, [grpc, httpPort], "cpex-gateway", receiver.url);
    gatewayErr = new Response(gateway.stderr).text();
    const gatewayOut = gateway.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await within(readUntil(gatewayOut, [/^done$/m]), "gateway calls", WAIT_MS);
    await gatewayOut.cancel();
    // 6 calls: guard sees 6, flaky and slow 5 each, on both sides.
    await within(
      (async () => {
        while (
          total(receiver.points("cpex.plugin.calls", "cpex-plugin-server")) < 16 ||
          total(receiver.points("cpex.plugin.calls", "cpex-gateway")) < 16
        ) {
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      "the counters of every call exported by both processes",
      WAIT_MS,
    );
  } finally {
    if (gateway) await stop(gateway, "gateway", gatewayErr);
    await serverOut.cancel();
    await stop(server, "server", serverErr);
    await receiver.close();
  }

  // The server counted what its plugins did.
  const server_ = "cpex-plugin-server";
  assertGuardPoints(receiver, server_);

  // The gateway saw the absorbed failures as allowed replies; its remote latency per transport.
  const gw = "cpex-gateway";
  const gatewayCalls = receiver.points("cpex.plugin.calls", gw);
  const g = (plugin: string, outcome: string) =>
    valueOf(gatewayCalls, { plugin, hook: HOOK, mode: "sequential", outcome });
  assert.equal(g("guard", "allowed"), 5);
  assert.equal(g("guard", "blocked"), 1);
  assert.equal(g("flaky", "allowed"), 5);
  assert.equal(g("slow", "allowed"), 5);
  assert.equal(gatewayCalls.length, 4);
  const remote = receiver.points("cpex.remote.duration", gw);
  assert.equal(valueOf(remote, { plugin: "guard", transport: "grpc" }), 6);
  assert.equal(valueOf(remote, { plugin: "flaky", transport: "mcp" }), 5);
  assert.equal(valueOf(remote, { plugin: "slow", transport: "grpc" }), 5);
  assert.deepEqual(receiver.points("cpex.hook.duration", gw), [
    { attributes: { hook: HOOK }, value: 6 },
  ]);

  // Every server span is the child of the gateway's span of the same plugin call.
  const gatewaySpans = receiver.spans(gw);
  const serverSpans = receiver.spans(server_);
  const allGateway = receiver.spans(gw, null);
  const byName = (spans: OtlpSpan[], name: string) =>
    spans.filter((s) => s.name === `plugin.execute.${name}`);
  for (const [plugin, count] of [["guard", 6], ["flaky", 5], ["slow", 5]] as const) {
    const mine = byName(serverSpans, plugin);
    assert.equal(mine.length, count, `${plugin}: one server span per call`);
    const parents = byName(gatewaySpans, plugin);
    assert.equal(parents.length, count);
    const linked = new Set<string>();
    for (const span of mine) {
      // The parent is the plugin span, or the runtime's HTTP client span of the request (Deno
      // instruments HTTP/2 and fetch and sends its own `traceparent`), a child of the plugin span.
      const direct = parents.find((p) => p.spanId === span.parentSpanId);
      const client = allGateway.find((s) => s.spanId === span.parentSpanId);
      const parent = direct ?? parents.find((p) => p.spanId === client?.parentSpanId);
      assert.ok(parent, `${plugin}: the server span descends from a gateway plugin span`);
      assert.equal(span.traceId, parent.traceId, "same trace");
      assert.equal(span.kind, 2, "a SERVER span");
      assert.equal(attrs(span.attributes)["plugin.hook.type"], HOOK);
      linked.add(parent.spanId);
    }
    assert.equal(linked.size, count, "one server span per gateway plugin span");
  }
  assert.equal(serverSpans.length, 16);
  // Failures end the server spans with an error status (2).
  assert.deepEqual(
    byName(serverSpans, "slow").map((s) => s.status?.code ?? 0).sort(),
    [1, 1, 1, 1, 2],
  );
  // Six calls, six traces: each chain's spans share its trace id across both processes.
  const chains = gatewaySpans.filter((s) => s.name === "plugin.hook.invoke");
  assert.equal(chains.length, 6);
  assert.equal(new Set(serverSpans.map((s) => s.traceId)).size, 6);
  for (const span of serverSpans) {
    assert.ok(chains.some((c) => c.traceId === span.traceId), "a gateway chain's trace");
  }
});
