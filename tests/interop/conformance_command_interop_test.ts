/**
 * `cpex conformance` against the Python reference (cpex 0.1.4 in `.venv`): its gRPC, raw Unix
 * and MCP Streamable HTTP runtimes (started as children with `plugins/conformance_probe.yaml`)
 * and its MCP STDIO runtime (started by the CLI itself) pass every check, with the conformance
 * probe written against the reference's plugin API (`plugins/conformance_probe.py`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CONFORMANCE_CHECKS,
  type ConformanceReport,
  formatConformanceReport,
  runConformance,
} from "../../testing.ts";
import { freePort, startPythonGrpcServer } from "./grpc_helpers.ts";
import { startPythonMcpHttpServer } from "./mcp_helpers.ts";
import {
  INTEROP_DIR,
  PYTHON,
  requireVenv,
  startPythonUnixServer,
  uniqueSocketPath,
} from "./unix_helpers.ts";
import { runCli } from "../helpers/cli.ts";

const SANITIZE = { sanitizeOps: true, sanitizeResources: true };
const CONFIG = `${INTEROP_DIR}plugins/conformance_probe.yaml`;

function assertPasses(report: ConformanceReport, skipped: string[]): void {
  assert.equal(report.ok, true, formatConformanceReport(report));
  assert.equal(report.probe, "ConformanceProbe");
  assert.deepEqual(report.plugins, ["ConformanceProbe", "Allow"]);
  assert.equal(report.checks.length, CONFORMANCE_CHECKS.length);
  assert.deepEqual(report.checks.filter((c) => c.status === "skip").map((c) => c.id), skipped);
}

Deno.test("conformance: the reference's gRPC server passes every check", SANITIZE, async () => {
  const server = await startPythonGrpcServer(CONFIG, { port: freePort() });
  try {
    const report = await runConformance({ transport: "grpc", target: server.address });
    assertPasses(report, ["numbers.non_finite"]);
  } finally {
    await server.kill();
  }
});

Deno.test("conformance: the reference's raw Unix server passes every check", SANITIZE, async () => {
  const server = await startPythonUnixServer(CONFIG, uniqueSocketPath("cc"));
  try {
    const report = await runConformance({ transport: "unix", target: server.socketPath });
    assertPasses(report, ["numbers.non_finite"]);
  } finally {
    await server.stop();
  }
});

Deno.test("conformance: the reference's MCP HTTP server passes every check", SANITIZE, async () => {
  const server = await startPythonMcpHttpServer(CONFIG);
  try {
    assertPasses(await runConformance({ transport: "mcp-http", target: server.url }), []);
  } finally {
    await server.stop();
  }
});

Deno.test(
  "cli conformance: the reference's MCP STDIO server passes every check",
  SANITIZE,
  async () => {
    await requireVenv();
    const r = await runCli([
      "conformance",
      "--transport",
      "mcp-stdio",
      "--cwd",
      INTEROP_DIR,
      "--json",
      "--",
      PYTHON,
      "-m",
      "cpex.framework.external.mcp.server.runtime",
    ], {
      permissions: [`--allow-run=${PYTHON}`],
      env: { PYTHONPATH: INTEROP_DIR, PLUGINS_CONFIG_PATH: CONFIG, PYTHONDONTWRITEBYTECODE: "1" },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertPasses(JSON.parse(r.stdout), []);
  },
);
