/**
 * `cpex conformance` and `runConformance` (issue 17 item 4) against our own plugin servers:
 * every check passes over unix, gRPC (TCP and Unix socket) and MCP Streamable HTTP (servers
 * in-process on port 0 / sockets under /tmp) and over MCP STDIO (the CLI starts our server as a
 * child); a server without the probe still gets the generic checks; deliberately broken
 * servers fail, naming exactly the check that catches them, and the CLI exits 1; TLS (gRPC
 * mTLS through the CLI flags, MCP over https) and `--plugin` selection.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ExternalPluginServer, type ServerHandle } from "../server.ts";
import {
  CONFORMANCE_CHECKS,
  ConformanceProbe,
  type ConformanceReport,
  type ConformanceTransport,
  formatConformanceReport,
  runConformance,
} from "../testing.ts";
import { type Breakage, BrokenServer, PlainAllow } from "./helpers/conformance_servers.ts";
import { REPO, runCli } from "./helpers/cli.ts";
import { createTestPki } from "./helpers/tls_pki.ts";

const SANITIZE = { sanitizeOps: true, sanitizeResources: true };

function socketPath(): string {
  return `/tmp/cpex-conf-cmd-${crypto.randomUUID().slice(0, 8)}.sock`;
}

async function serve(
  server: ExternalPluginServer,
  transport: ConformanceTransport | "grpc-uds",
): Promise<{ handle: ServerHandle; target: string }> {
  const quiet = { printReady: false, handleSignals: false };
  if (transport === "unix") {
    const path = socketPath();
    return { handle: await server.serve({ transport: "unix", path, ...quiet }), target: path };
  }
  if (transport === "grpc-uds") {
    const uds = socketPath();
    return {
      handle: await server.serve({ transport: "grpc", uds, ...quiet }),
      target: `unix:${uds}`,
    };
  }
  if (transport === "grpc") {
    const handle = await server.serve({ transport: "grpc", host: "127.0.0.1", port: 0, ...quiet });
    return { handle, target: handle.address };
  }
  const handle = await server.serve({ transport: "http", host: "127.0.0.1", port: 0, ...quiet });
  return { handle, target: `http://localhost:${handle.address.split(":").pop()}/mcp` };
}

async function runAgainst(
  server: ExternalPluginServer,
  transport: ConformanceTransport | "grpc-uds",
  options: { checks?: string[] } = {},
): Promise<ConformanceReport> {
  const { handle, target } = await serve(server, transport);
  try {
    return await runConformance({
      transport: transport === "grpc-uds" ? "grpc" : transport,
      target,
      checks: options.checks,
    });
  } finally {
    await handle.close();
    await server.close();
  }
}

function failedIds(report: ConformanceReport): string[] {
  return report.checks.filter((c) => c.status === "fail").map((c) => c.id);
}

for (const transport of ["unix", "grpc", "grpc-uds", "mcp-http"] as const) {
  Deno.test(`conformance: our ${transport} server passes every check`, SANITIZE, async () => {
    const server = new ExternalPluginServer({
      plugins: [new ConformanceProbe(), new PlainAllow()],
    });
    const report = await runAgainst(server, transport);
    assert.equal(report.ok, true, formatConformanceReport(report));
    assert.equal(report.probe, "ConformanceProbe");
    assert.deepEqual(report.plugins, ["ConformanceProbe", "Allow"]);
    assert.equal(report.checks.length, CONFORMANCE_CHECKS.length);
    // Only NaN is out of reach, and only on the protobuf transports (wire.md §4.2).
    const skipped = report.checks.filter((c) => c.status === "skip").map((c) => c.id);
    assert.deepEqual(skipped, transport === "mcp-http" ? [] : ["numbers.non_finite"]);
  });
}

Deno.test(
  "conformance: a server without the probe gets the generic checks only",
  SANITIZE,
  async () => {
    const report = await runAgainst(
      new ExternalPluginServer({ plugins: [new PlainAllow()] }),
      "unix",
    );
    assert.equal(report.ok, true, formatConformanceReport(report));
    assert.equal(report.probe, null);
    const passed = report.checks.filter((c) => c.status === "pass").map((c) => c.id);
    assert.deepEqual(passed, [
      "config.list",
      "config.get",
      "config.unknown",
      "invoke.unknown_plugin",
      "invoke.unknown_hook",
      "invoke.shape",
    ]);
    const probeChecks = CONFORMANCE_CHECKS.filter((c) => c.probe).map((c) => c.id);
    assert.deepEqual(
      report.checks.filter((c) => c.status === "skip").map((c) => c.id),
      probeChecks,
    );
  },
);

Deno.test(
  "conformance: --plugin picks the plugins the generic checks drive; an unknown one fails config.get",
  SANITIZE,
  async () => {
    const server = new ExternalPluginServer({
      plugins: [new ConformanceProbe(), new PlainAllow()],
    });
    const { handle, target } = await serve(server, "unix");
    try {
      const generic = ["config.", "invoke."];
      const picked = await runConformance({
        transport: "unix",
        target,
        plugins: ["Allow"],
        checks: generic,
      });
      assert.equal(picked.ok, true, formatConformanceReport(picked));
      assert.equal(picked.checks.length, 6);
      const missing = await runConformance({
        transport: "unix",
        target,
        plugins: ["Nope"],
        checks: generic,
      });
      assert.deepEqual(failedIds(missing), ["config.get"]);
      assert.match(
        missing.checks.find((c) => c.id === "config.get")!.detail!,
        /"Nope"\) found nothing/,
      );
    } finally {
      await handle.close();
      await server.close();
    }
  },
);

const BROKEN: Record<
  Breakage,
  { transport: ConformanceTransport; failed: string[]; detail: RegExp }
> = {
  "drop-violation-code": {
    transport: "unix",
    failed: ["violation"],
    detail: /code: expected "CONFORMANCE_DENY", got ""/,
  },
  "mangle-unicode": {
    transport: "mcp-http",
    failed: ["unicode"],
    detail: /modified_payload.*name: expected "tööl/,
  },
  "swap-answers": {
    transport: "grpc",
    failed: ["concurrency"],
    detail: /16 of 16 calls answered wrongly/,
  },
};

for (const [breakage, expected] of Object.entries(BROKEN)) {
  Deno.test(
    `conformance: a server that does ${breakage} fails exactly the check naming it`,
    SANITIZE,
    async () => {
      const report = await runAgainst(new BrokenServer(breakage as Breakage), expected.transport);
      assert.equal(report.ok, false);
      assert.deepEqual(failedIds(report), expected.failed, formatConformanceReport(report));
      const failed = report.checks.find((c) => c.status === "fail")!;
      assert.match(failed.detail ?? "", expected.detail);
    },
  );
}

Deno.test(
  "conformance: a server that cannot be reached fails the connect check",
  SANITIZE,
  async () => {
    const report = await runConformance({ transport: "unix", target: socketPath() });
    assert.equal(report.ok, false);
    assert.deepEqual(failedIds(report), ["connect"]);
  },
);

Deno.test(
  "conformance over TLS: gRPC with mTLS and MCP over https pass with the client's TLS settings",
  SANITIZE,
  async () => {
    await using pki = await createTestPki();
    const quiet = { printReady: false, handleSignals: false, host: "127.0.0.1", port: 0 };
    const probe = () => new ExternalPluginServer({ plugins: [new ConformanceProbe()] });
    const grpcServer = probe();
    const grpc = await grpcServer.serve({
      transport: "grpc",
      ...quiet,
      tls: {
        certfile: pki.serverCert,
        keyfile: pki.serverKey,
        ca_bundle: pki.caCert,
        client_auth: "require",
      },
    });
    const httpServer = probe();
    const http = await httpServer.serve({
      transport: "http",
      ...quiet,
      tls: { certfile: pki.serverCert, keyfile: pki.serverKey, ssl_cert_reqs: 0 },
    });
    try {
      const port = grpc.address.split(":").pop();
      // The CLI maps --tls-ca/--tls-cert/--tls-key to the client's TLS settings.
      const cli = await runCli([
        "conformance",
        "-t",
        "grpc",
        "--target",
        `localhost:${port}`,
        "--tls-ca",
        pki.caCert,
        "--tls-cert",
        pki.clientCert,
        "--tls-key",
        pki.clientKey,
        "--json",
      ], {
        permissions: ["--allow-net=localhost,127.0.0.1", `--allow-read=${pki.dir}`, "--allow-env"],
      });
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      assert.equal((JSON.parse(cli.stdout) as ConformanceReport).failed, 0);
      const url = `https://localhost:${http.address.split(":").pop()}/mcp`;
      const https = await runConformance({
        transport: "mcp-http",
        target: url,
        tls: { ca_bundle: pki.caCert },
      });
      assert.equal(https.ok, true, formatConformanceReport(https));
      // Without the test CA the server's certificate is not trusted: nothing answers.
      const untrusted = await runConformance({ transport: "mcp-http", target: url });
      assert.deepEqual(failedIds(untrusted), ["connect"]);
    } finally {
      await grpc.close();
      await grpcServer.close();
      await http.close();
      await httpServer.close();
    }
  },
);

// The CLI, as a subprocess with exactly the permissions the help page names.

Deno.test(
  "cli conformance: passes against our unix server (table) and fails a broken one (exit 1, --json)",
  SANITIZE,
  async () => {
    for (
      const [server, code] of [
        [new ExternalPluginServer({ plugins: [new ConformanceProbe(), new PlainAllow()] }), 0],
        [new BrokenServer("drop-violation-code"), 1],
      ] as const
    ) {
      const { handle, target } = await serve(server, "unix");
      try {
        const table = await runCli(["conformance", "--transport", "unix", "--target", target], {
          permissions: [
            `--allow-net=unix:${target}`,
            `--allow-read=${target}`,
            `--allow-write=${target}`,
          ],
        });
        assert.equal(table.code, code, table.stdout + table.stderr);
        assert.match(table.stdout, /^Conformance of unix /);
        if (code === 0) assert.match(table.stdout, /\nOK: 26 passed, 0 failed, 1 skipped\n$/);
        else assert.match(table.stdout, /\nviolation +FAIL .*code: expected "CONFORMANCE_DENY"/);
        const json = await runCli(
          [
            "conformance",
            "-t",
            "unix",
            "--target",
            target,
            "--json",
            "--check",
            "violation,config.",
          ],
          {
            permissions: [
              `--allow-net=unix:${target}`,
              `--allow-read=${target}`,
              `--allow-write=${target}`,
            ],
          },
        );
        assert.equal(json.code, code, json.stderr);
        const report = JSON.parse(json.stdout) as ConformanceReport;
        assert.deepEqual(report.checks.map((c) => c.id), [
          "config.list",
          "config.get",
          "config.unknown",
          "violation",
        ]);
        assert.equal(report.failed, code);
      } finally {
        await handle.close();
        await server.close();
      }
    }
  },
);

Deno.test(
  "cli conformance: mcp-stdio starts our server as a child and passes every check",
  SANITIZE,
  async () => {
    const r = await runCli([
      "conformance",
      "--transport",
      "mcp-stdio",
      "--json",
      "--",
      Deno.execPath(),
      "run",
      "--no-prompt",
      `${REPO}tests/helpers/conformance_stdio_child.ts`,
    ], { permissions: [`--allow-run=${Deno.execPath()}`] });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as ConformanceReport;
    assert.equal(report.failed, 0);
    assert.equal(report.skipped, 0);
    assert.equal(report.probe, "ConformanceProbe");
  },
);

Deno.test("cli conformance: usage errors exit 2", async () => {
  for (
    const [args, message] of [
      [["conformance", "--target", "/tmp/x.sock"], /missing option --transport/],
      [["conformance", "--transport", "tcp", "--target", "x"], /--transport must be one of/],
      [["conformance", "--transport", "unix"], /missing option --target/],
      [["conformance", "-t", "unix", "--target", "/x", "--tls"], /TLS options apply to/],
      [["conformance", "-t", "grpc", "--target", "h:1", "--concurrency", "0"], /--concurrency/],
    ] as const
  ) {
    const r = await runCli([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Usage: cpex conformance/);
  }
});
