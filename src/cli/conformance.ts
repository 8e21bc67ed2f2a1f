/**
 * `cpex conformance --transport T --target X`: drives any CPEX plugin server (ours, the Python
 * reference, a third party's) through the conformance checks of `@cpex/core/testing` and prints
 * a pass/fail table (or `--json`). Exit code 0 when every check passed or was skipped, 1 when
 * one failed (or the server could not be reached), 2 for a usage error.
 *
 * @module
 */
import {
  CONFORMANCE_TRANSPORTS,
  type ConformanceTransport,
} from "../testing/conformance_driver.ts";
import { formatConformanceReport, runConformance } from "../testing/conformance.ts";
import type { TlsConfig } from "../types.ts";
import { type CommandSpec, parseArgs, UsageError } from "./args.ts";
import type { Output } from "./output.ts";

/** The options of `conformance`. */
export const CONFORMANCE_SPEC: CommandSpec = {
  name: "conformance",
  options: {
    transport: { type: "string", short: "t" },
    target: { type: "string" },
    plugin: { type: "string" },
    probe: { type: "string" },
    check: { type: "string" },
    concurrency: { type: "string" },
    timeout: { type: "string" },
    json: { type: "boolean" },
    tls: { type: "boolean" },
    "tls-ca": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    cwd: { type: "string" },
  },
  positionals: { min: 0, max: 256, names: "[-- COMMAND...]" },
};

function list(value: string | boolean | undefined): string[] | undefined {
  if (typeof value !== "string") return undefined;
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

function whole(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(
      `--${name} must be a positive whole number, got '${value}'`,
      "conformance",
    );
  }
  return n;
}

/** Runs `conformance`; resolves with the exit code. */
export async function conformanceCommand(
  args: readonly string[],
  output: Output,
): Promise<number> {
  const { options, positionals } = parseArgs(args, CONFORMANCE_SPEC);
  const usage = (message: string): never => {
    throw new UsageError(message, "conformance");
  };
  const transport = options.transport;
  if (typeof transport !== "string") usage("missing option --transport");
  if (!CONFORMANCE_TRANSPORTS.includes(transport as ConformanceTransport)) {
    usage(`--transport must be one of ${CONFORMANCE_TRANSPORTS.join(", ")}, got '${transport}'`);
  }
  let target: string | string[] | undefined = typeof options.target === "string"
    ? options.target
    : undefined;
  if (positionals.length > 0) {
    if (transport !== "mcp-stdio") usage(`unexpected argument '${positionals[0]}'`);
    if (target !== undefined) usage("give the command either as --target or after --, not both");
    target = [...positionals];
  }
  if (target === undefined || target.length === 0) usage("missing option --target");
  let tls: TlsConfig | null = null;
  if (options.tls || options["tls-ca"] || options["tls-cert"] || options["tls-key"]) {
    if (transport !== "grpc" && transport !== "mcp-http") {
      usage("TLS options apply to --transport grpc or mcp-http only");
    }
    if (Boolean(options["tls-cert"]) !== Boolean(options["tls-key"])) {
      usage("--tls-cert and --tls-key go together");
    }
    tls = {
      ca_bundle: (options["tls-ca"] as string | undefined) ?? null,
      certfile: (options["tls-cert"] as string | undefined) ?? null,
      keyfile: (options["tls-key"] as string | undefined) ?? null,
    };
  }
  const report = await runConformance({
    transport: transport as ConformanceTransport,
    target: target!,
    tls,
    cwd: typeof options.cwd === "string" ? options.cwd : undefined,
    plugins: list(options.plugin),
    probe: typeof options.probe === "string" ? options.probe : undefined,
    checks: list(options.check),
    concurrency: whole(options.concurrency, "concurrency", 16),
    timeoutMs: whole(options.timeout, "timeout", 10_000),
  });
  if (options.json) output.stdout(JSON.stringify(report, null, 2) + "\n");
  else output.stdout(formatConformanceReport(report));
  return report.ok ? 0 : 1;
}
