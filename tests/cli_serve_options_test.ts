/**
 * How `cpex serve` flags become `serve()` options: only what the command line sets is passed
 * (the transport applies YAML > env > defaults to the rest), and the TLS flags map to each
 * transport's TLS block (gRPC `client_auth`, MCP `ssl_cert_reqs`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import { resolveServePlan, SERVE_SPEC } from "../src/cli/serve_options.ts";

// Any existing files do: the TLS schema checks that they exist, the server reads them later.
const CERT = "tests/fixtures/cli/serve_plugins.yaml";
const KEY = "tests/fixtures/cli/plan_order.yaml";
const CA = "tests/fixtures/configs/empty.yaml";

const plan = (...args: string[]) => resolveServePlan(parseArgs(args, SERVE_SPEC));

Deno.test("serve passes on only the settings the command line gives", () => {
  assert.deepEqual(plan("-c", "p.yaml", "-t", "grpc"), {
    config: "p.yaml",
    transport: "grpc",
    allowPartial: false,
    log: { level: "info", format: "text" },
    options: { transport: "grpc" },
  });
  assert.equal(plan("-c", "p.yaml", "-t", "unix", "--allow-partial").allowPartial, true);
  assert.deepEqual(
    plan("-c", "p.yaml", "-t", "unix", "--log-level", "debug", "--log-format", "json").log,
    { level: "debug", format: "json" },
  );
  assert.deepEqual(plan("-c", "p.yaml", "-t", "http", "-p", "0").options, {
    transport: "http",
    port: 0,
  });
  assert.deepEqual(plan("-c", "p.yaml", "-t", "grpc", "--uds", "/tmp/g.sock").options, {
    transport: "grpc",
    uds: "/tmp/g.sock",
  });
  assert.deepEqual(plan("--config=p.yaml", "--transport=unix", "--path=/tmp/u.sock").options, {
    transport: "unix",
    path: "/tmp/u.sock",
  });
});

Deno.test("serve TLS flags become gRPC client_auth and MCP ssl_cert_reqs", () => {
  const tls = ["--tls-cert", CERT, "--tls-key", KEY];
  const grpc = plan("-t", "grpc", ...tls).options.tls!;
  assert.equal(grpc.certfile, CERT);
  assert.equal(grpc.keyfile, KEY);
  assert.equal(grpc.client_auth, "none");
  assert.equal(plan("-t", "grpc", ...tls, "--tls-ca", CA).options.tls!.client_auth, "require");
  assert.equal(
    plan("-t", "grpc", ...tls, "--tls-ca", CA, "--client-auth", "optional").options.tls!
      .client_auth,
    "optional",
  );
  assert.equal(plan("-t", "mcp", ...tls).options.tls!.ssl_cert_reqs, 0);
  assert.equal(plan("-t", "mcp", ...tls, "--tls-ca", CA).options.tls!.ssl_cert_reqs, 2);
  assert.equal(
    plan("-t", "mcp", ...tls, "--tls-ca", CA, "--client-auth", "optional").options.tls!
      .ssl_cert_reqs,
    1,
  );
});

Deno.test("serve refuses TLS with --uds and for transports without TLS", () => {
  assert.throws(
    () => plan("-t", "grpc", "--uds", "/tmp/g.sock", "--tls-cert", CERT, "--tls-key", KEY),
    (e: unknown) => e instanceof UsageError && /TLS cannot be combined with --uds/.test(e.message),
  );
  assert.throws(
    () => plan("-t", "unix", "--tls-cert", CERT),
    (e: unknown) => e instanceof UsageError && e.command === "serve",
  );
});

Deno.test("serve --metrics-port / --metrics-host become the metrics listener's options", () => {
  assert.deepEqual(plan("-t", "unix", "--metrics-port", "9464").options, {
    transport: "unix",
    metricsPort: 9464,
  });
  assert.deepEqual(
    plan("-t", "grpc", "--metrics-port", "0", "--metrics-host", "0.0.0.0").options,
    { transport: "grpc", metricsPort: 0, metricsHost: "0.0.0.0" },
  );
  for (
    const [args, message] of [
      [["--metrics-port", "x"], /--metrics-port must be an integer in 0\.\.65535, got 'x'/],
      [["--metrics-port", "70000"], /--metrics-port must be an integer/],
      [["--metrics-host", "127.0.0.1"], /--metrics-host needs --metrics-port/],
      [["--metrics-port", "1", "--metrics-host", " "], /--metrics-host must not be empty/],
    ] as const
  ) {
    assert.throws(() => plan("-t", "grpc", ...args), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, message);
      return true;
    });
  }
});
