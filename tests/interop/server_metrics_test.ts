/**
 * `/metrics` on each plugin server kind (issue 15 item 2): a gateway in this process calls
 * guard plugins hosted by a real server (MCP Streamable HTTP on its own port; gRPC and the Unix
 * socket with the `metricsPort` listener, port 0), then the test scrapes `/metrics` over HTTP,
 * parses it with the official Python client's parser (`prometheus_client`) and checks the exact
 * counts the server recorded for the plugins it hosts: allowed, blocked (with its violation
 * code), failing and timing-out calls absorbed by `on_error: ignore` (fail-open).
 *
 * @module
 */
import assert from "node:assert/strict";
import { CpexMetrics, PluginManager } from "../../mod.ts";
import { ExternalPluginServer, type ServeOptions, type ServerHandle } from "../../server.ts";
import { type Family, parsePrometheus } from "./prometheus_parse.ts";
import { guardPlugins as hostedPlugins, HOOK } from "../helpers/otel_plugins.ts";

type Transport = "grpc" | "unix" | "http";

/** The gateway's entry for plugin `name` hosted at `handle`. */
function entry(transport: Transport, name: string, priority: number, address: string) {
  // An explicit timeout, so the server's 50 ms one of `slow` is not merged in: only the server
  // times out.
  const base = { name, kind: "external", hooks: [HOOK], priority, timeout: 10 };
  if (transport === "grpc") return { ...base, grpc: { target: address } };
  if (transport === "unix") return { ...base, unix_socket: { path: address } };
  // A host name: the gateway refuses loopback IPs in MCP URLs (SSRF protection).
  const port = address.slice(address.lastIndexOf(":") + 1);
  return { ...base, mcp: { proto: "STREAMABLEHTTP", url: `http://localhost:${port}/mcp` } };
}

/** The status line of a raw `GET /metrics` sent with `host` (fetch cannot set Host). */
async function rawGet(address: string, host: string): Promise<string> {
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`GET /metrics HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`),
  );
  const text = await new Response(conn.readable).text();
  return text.slice(0, text.indexOf("\r\n"));
}

async function scrapeAfterCalls(transport: Transport): Promise<Family[]> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-obs-metrics-" });
  // The server's own metrics object, so the counts are exactly its calls.
  const metrics = new CpexMetrics({ histograms: false });
  const server = new ExternalPluginServer({ plugins: hostedPlugins(), manager: { metrics } });
  let handle: ServerHandle | null = null;
  let gateway: PluginManager | null = null;
  try {
    const options: ServeOptions = { transport, printReady: false, handleSignals: false };
    if (transport === "unix") options.path = `${dir}/plugins.sock`;
    else Object.assign(options, { host: "127.0.0.1", port: 0 });
    if (transport !== "http") options.metricsPort = 0;
    handle = await server.serve(options);
    const metricsAddress = transport === "http" ? handle.address : handle.metricsAddress;
    assert.ok(metricsAddress, "a metrics address");
    gateway = new PluginManager(
      {
        plugins: ["guard", "flaky", "slow"].map((name, i) =>
          entry(transport, name, i + 1, handle!.address)
        ),
      } as never,
      { metrics: null },
    );
    await gateway.initialize();
    for (const name of ["read", "read", "read", "delete", "flaky", "slow"]) {
      await gateway.invokeHook(HOOK, { name, args: {} }, { request_id: `r-${name}` });
    }
    const url = `http://${metricsAddress}/metrics`;
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/plain; version=0.0.4; charset=utf-8",
    );
    const text = await response.text();
    // GET only: a POST is refused, another path is not found.
    const post = await fetch(url, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    if (transport === "http") {
      // Behind the loopback server's Host check, like /mcp (no DNS rebinding).
      assert.match(await rawGet(metricsAddress, "evil.example"), /^HTTP\/1\.1 421 /);
    } else {
      const other = await fetch(`http://${metricsAddress}/other`);
      assert.equal(other.status, 404);
      await other.body?.cancel();
    }
    return await parsePrometheus(text);
  } finally {
    await gateway?.shutdown();
    await handle?.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

function checkServerCounts(families: Family[]): void {
  const samples = (name: string) => families.find((f) => f.name === name)?.samples ?? [];
  const calls = samples("cpex_plugin_calls");
  const value = (plugin: string, outcome: string) =>
    calls.filter((s) => s.labels.plugin === plugin && s.labels.outcome === outcome)
      .map((s) => s.value);
  // 6 calls: guard sees all, flaky and slow 5 each (the block ends the chain before them).
  assert.deepEqual(value("guard", "allowed"), [5]);
  assert.deepEqual(value("guard", "blocked"), [1]);
  assert.deepEqual(value("flaky", "allowed"), [4]);
  assert.deepEqual(value("flaky", "error"), [1]);
  assert.deepEqual(value("slow", "allowed"), [4]);
  assert.deepEqual(value("slow", "timeout"), [1]);
  assert.equal(calls.length, 6);
  assert.ok(calls.every((s) => s.labels.hook === HOOK && s.labels.mode === "sequential"));
  assert.deepEqual(samples("cpex_plugin_violations"), [{
    name: "cpex_plugin_violations_total",
    labels: { plugin: "guard", hook: HOOK, code: "DENY_DELETE" },
    value: 1,
  }]);
  assert.deepEqual(samples("cpex_plugin_fail_open"), [
    { name: "cpex_plugin_fail_open_total", labels: { plugin: "flaky", hook: HOOK }, value: 1 },
    { name: "cpex_plugin_fail_open_total", labels: { plugin: "slow", hook: HOOK }, value: 1 },
  ]);
  const counts = samples("cpex_plugin_duration_seconds")
    .filter((s) => s.name === "cpex_plugin_duration_seconds_count")
    .map((s) => [s.labels.plugin, s.value]);
  assert.deepEqual(counts, [["guard", 6], ["flaky", 5], ["slow", 5]]);
}

for (const transport of ["http", "grpc", "unix"] as const) {
  const where = transport === "http" ? "on the MCP HTTP port" : "on the metrics listener";
  Deno.test(`${transport} plugin server: /metrics ${where} has the exact counts of its plugins`, async () => {
    checkServerCounts(await scrapeAfterCalls(transport));
  });
}
