/**
 * The config keys of issue 14 items 1-3: `grpc.targets`, `unix_socket.paths`, `mcp.urls`,
 * `health_check`, `circuit_breaker` and `retry_on_connection_loss` (ours), their defaults and exclusions, and that an
 * entry without them parses exactly as before (no new key appears). Plus the replica
 * expansion and the resilience defaults the core derives from an entry.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "../src/config/schema.ts";
import type { PluginConfig } from "../src/types.ts";
import { replicaConfigs, resilienceOf } from "../src/external/replica_config.ts";
import { CircuitBreaker } from "../src/external/circuit_breaker.ts";
import { expectIssue } from "./config_test_helpers.ts";

const one = (plugin: Record<string, unknown>): PluginConfig =>
  parseConfig({ plugins: [{ kind: "external", ...plugin }] }).plugins[0];
const bad = (plugin: Record<string, unknown>) => () =>
  parseConfig({ plugins: [{ kind: "external", ...plugin }] });

Deno.test("single-endpoint entries parse as before: no replica or resilience key appears", () => {
  const grpc = one({ name: "g", grpc: { target: "localhost:50051" } });
  assert.deepEqual(Object.keys(grpc.grpc!).sort(), ["target", "tls", "uds"]);
  const unix = one({ name: "u", unix_socket: { path: "/tmp/u.sock" } });
  assert.deepEqual(Object.keys(unix.unix_socket!).sort(), [
    "path",
    "reconnect_attempts",
    "reconnect_delay",
    "timeout",
  ]);
  const mcp = one({ name: "m", mcp: { proto: "STREAMABLEHTTP", url: "http://localhost:1/mcp" } });
  assert.equal("urls" in mcp.mcp!, false);
  for (const p of [grpc, unix, mcp]) {
    assert.equal("health_check" in p, false);
    assert.equal("circuit_breaker" in p, false);
    assert.deepEqual(resilienceOf(p, replicaConfigs(p).length), {
      healthCheck: null,
      circuitBreaker: null,
      retryOnConnectionLoss: false,
    });
  }
});

Deno.test("several endpoints: each replica gets the single-endpoint key; checks and breaker on by default", () => {
  const p = one({ name: "g", grpc: { targets: ["localhost:1", "localhost:2"] } });
  assert.deepEqual(replicaConfigs(p).map((c) => c.grpc), [
    { target: "localhost:1", uds: null, tls: null },
    { target: "localhost:2", uds: null, tls: null },
  ]);
  assert.deepEqual(resilienceOf(p, 2), {
    healthCheck: { interval: 5, timeout: 1, unhealthy_threshold: 3, healthy_threshold: 2 },
    circuitBreaker: { failure_threshold: 5, reset_timeout: 10 },
    retryOnConnectionLoss: true,
  });
  const u = one({ name: "u", unix_socket: { paths: ["/tmp/a.sock", "/tmp/b.sock"] } });
  assert.deepEqual(replicaConfigs(u).map((c) => c.unix_socket!.path), [
    "/tmp/a.sock",
    "/tmp/b.sock",
  ]);
  assert.equal(replicaConfigs(u).some((c) => "paths" in c.unix_socket!), false);
  const m = one({
    name: "m",
    mcp: { proto: "STREAMABLEHTTP", urls: ["http://localhost:1/mcp", "http://localhost:2/mcp"] },
  });
  assert.deepEqual(replicaConfigs(m).map((c) => c.mcp!.url), [
    "http://localhost:1/mcp",
    "http://localhost:2/mcp",
  ]);
});

Deno.test("health_check and circuit_breaker fill their defaults and check their values", () => {
  const p = one({
    name: "u",
    unix_socket: { path: "/tmp/u.sock" },
    health_check: { interval: 0.5 },
    circuit_breaker: {},
  });
  assert.deepEqual(p.health_check, {
    interval: 0.5,
    timeout: 1,
    unhealthy_threshold: 3,
    healthy_threshold: 2,
  });
  assert.deepEqual(p.circuit_breaker, { failure_threshold: 5, reset_timeout: 10 });
  const u = { unix_socket: { path: "/tmp/u.sock" } };
  expectIssue(
    bad({ name: "p", ...u, health_check: { interval: 0 } }),
    "plugins[0].health_check.interval",
  );
  expectIssue(
    bad({ name: "p", ...u, circuit_breaker: { failure_threshold: 0 } }),
    "plugins[0].circuit_breaker.failure_threshold",
  );
  expectIssue(
    () => parseConfig({ plugins: [{ name: "p", kind: "plugins.a.A", circuit_breaker: {} }] }),
    "plugins[0].circuit_breaker",
    /only allowed on external plugins/,
  );
});

Deno.test("endpoint lists exclude the single keys and are checked like them", () => {
  expectIssue(
    bad({ name: "p", grpc: { target: "localhost:1", targets: ["localhost:2"] } }),
    "plugins[0].grpc.targets",
  );
  expectIssue(
    bad({ name: "p", grpc: { targets: ["nocolon"] } }),
    "plugins[0].grpc.targets[0]",
    /host:port/,
  );
  expectIssue(bad({ name: "p", grpc: { targets: [] } }), "plugins[0].grpc.targets");
  expectIssue(
    bad({ name: "p", unix_socket: { path: "/tmp/a.sock", paths: ["/tmp/b.sock"] } }),
    "plugins[0].unix_socket",
    /both/,
  );
  expectIssue(
    bad({ name: "p", unix_socket: { paths: ["rel.sock"] } }),
    "plugins[0].unix_socket.paths[0]",
    /absolute/,
  );
  expectIssue(
    bad({
      name: "p",
      mcp: {
        proto: "STREAMABLEHTTP",
        url: "http://localhost:1/mcp",
        urls: ["http://localhost:2/mcp"],
      },
    }),
    "plugins[0].mcp.urls",
  );
  expectIssue(
    bad({ name: "p", mcp: { proto: "STDIO", cmd: ["x"], urls: ["http://localhost:2/mcp"] } }),
    "plugins[0].mcp.urls",
  );
});

Deno.test("the breaker opens after failure_threshold failures, lets one probe through after reset_timeout", () => {
  const breaker = new CircuitBreaker({ failure_threshold: 2, reset_timeout: 1 });
  assert.equal(breaker.acquire(0), true);
  breaker.failure(0);
  assert.equal(breaker.state, "closed");
  breaker.failure(10);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.acquire(500), false);
  assert.equal(breaker.acquire(1010), true); // the probe
  assert.equal(breaker.state, "half_open");
  assert.equal(breaker.acquire(1011), false); // only one probe
  breaker.failure(1200);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.acquire(2100), false);
  assert.equal(breaker.acquire(2200), true);
  breaker.success();
  assert.equal(breaker.state, "closed");
  breaker.failure(2300);
  assert.equal(breaker.state, "closed", "a success resets the count");
});

Deno.test("a cancelled call counts neither way; a cancelled probe lets the next call probe", () => {
  const breaker = new CircuitBreaker({ failure_threshold: 1, reset_timeout: 1 });
  breaker.cancelled();
  assert.equal(breaker.state, "closed");
  breaker.failure(0);
  assert.equal(breaker.acquire(1000), true); // the probe
  breaker.cancelled();
  assert.equal(breaker.state, "open");
  assert.equal(breaker.acquire(1001), true, "the next call probes at once");
});

Deno.test("grpc.targets may name servers on Unix sockets (unix:/path), never with tls", () => {
  const dir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "cpex-res-replicas-" });
  try {
    const p = one({ name: "g", grpc: { targets: [`unix:${dir}/a.sock`, "localhost:2"] } });
    assert.deepEqual(replicaConfigs(p).map((c) => [c.grpc!.target, c.grpc!.uds]), [
      [null, `${Deno.realPathSync(dir)}/a.sock`],
      ["localhost:2", null],
    ]);
    expectIssue(
      bad({ name: "g", grpc: { targets: [`unix:${dir}/a.sock`], tls: {} } }),
      "plugins[0].grpc.tls",
      /uds/,
    );
    expectIssue(
      bad({ name: "g", grpc: { targets: ["unix:rel.sock"] } }),
      "plugins[0].grpc.targets[0]",
      /absolute/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("retry_on_connection_loss: on by default with several endpoints, off with one, external only", () => {
  const several = { grpc: { targets: ["localhost:1", "localhost:2"] } };
  const off = one({ name: "g", ...several, retry_on_connection_loss: false });
  assert.equal(off.retry_on_connection_loss, false);
  assert.equal(resilienceOf(off, 2).retryOnConnectionLoss, false);
  // One endpoint: a delivered call is never sent to the same server twice (issue 9).
  const single = one({
    name: "s",
    grpc: { target: "localhost:1" },
    retry_on_connection_loss: true,
  });
  assert.equal(resilienceOf(single, 1).retryOnConnectionLoss, false);
  expectIssue(
    bad({ name: "g", ...several, retry_on_connection_loss: "sometimes" }),
    "plugins[0].retry_on_connection_loss",
  );
  expectIssue(
    () =>
      parseConfig({
        plugins: [{ name: "p", kind: "plugins.a.A", retry_on_connection_loss: true }],
      }),
    "plugins[0].retry_on_connection_loss",
    /only allowed on external plugins/,
  );
});
