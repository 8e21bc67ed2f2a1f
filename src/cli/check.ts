/**
 * `cpex check FILE [--json]`: validates a config file and prints its effective plan (see
 * `plan.ts`), or every problem with its YAML path and exit code 1. Beyond the schema it checks
 * what would break at runtime (`check_runtime.ts`): plugin modules are imported to check their
 * export, but no plugin is constructed and no transport module is imported.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfig, substituteEnv } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { readSettings } from "../config/settings.ts";
import { ConfigError } from "../errors.ts";
import { getHookRegistry } from "../hooks/registry.ts";
import { type CommandSpec, parseArgs } from "./args.ts";
import { describeError, type Output } from "./output.ts";
import { buildPlan, type ConfigPlan, type PlanEntry, type PlanTransport } from "./plan.ts";
import {
  documentOf,
  type Finding,
  keyWarnings,
  runtimeFindings,
  unsetEnv,
} from "./check_runtime.ts";
import { preflight } from "./preflight.ts";

/**
 * The options of `check`.
 */
export const CHECK_SPEC: CommandSpec = {
  name: "check",
  options: { json: { type: "boolean" } },
  positionals: { min: 1, max: 1, names: "FILE" },
};

/**
 * Renders where a plugin runs, compactly: `in-process ./deny.ts#DenyList`,
 * `unix /tmp/p.sock`, `grpc localhost:50051 tls`, `mcp http://localhost:8000/mcp`,
 * `mcp stdio deno run server.ts`.
 */
export function formatTransport(t: PlanTransport): string {
  switch (t.type) {
    case "in-process": {
      if (!t.isolation) return `in-process ${t.kind}`;
      const memory = t.memory_mb ? ` memory ${t.memory_mb} MiB` : "";
      const stuck = t.max_stuck ? ` max_stuck ${t.max_stuck}` : "";
      return `${t.isolation} ${t.kind} (permissions: ${t.permissions}; workers ${t.workers}${memory}${stuck})`;
    }
    case "unix_socket":
      return `unix ${t.path}`;
    case "grpc":
      return `grpc ${t.uds ? `unix:${t.uds}` : t.target}${t.tls ? " tls" : ""}`;
    case "mcp": {
      if (t.proto === "STDIO") return `mcp stdio ${t.cmd ? t.cmd.join(" ") : t.script}`;
      const proto = t.proto === "SSE" ? "sse " : "";
      return `mcp ${proto}${t.url}${t.uds ? ` via ${t.uds}` : ""}${t.tls ? " tls" : ""}`;
    }
  }
}

/**
 * Renders conditions compactly: fields of one condition joined by ` & ` (all must match),
 * conditions joined by ` | ` (any one), `always` for none.
 */
export function formatConditions(conditions: PlanEntry["conditions"]): string {
  if (!conditions) return "always";
  return conditions
    .map((c) =>
      Object.entries(c).map(([field, values]) => `${field}=${values.join(",")}`).join(" & ")
    )
    .join(" | ");
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows.map((r) =>
    r.map((cell, col) => col === r.length - 1 ? cell : cell.padEnd(widths[col])).join("  ")
      .trimEnd()
  );
}

function seconds(value: number): string {
  return `${value}s`;
}

function listing(values: Record<string, unknown>): string {
  return Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
}

function serverLine(plan: ConfigPlan): string | null {
  const parts: string[] = [];
  const s = plan.servers as Record<
    string,
    { host?: string; port?: number; uds?: string | null; tls?: unknown; path?: string }
  >;
  const where = (b: { host?: string; port?: number; uds?: string | null; tls?: unknown }) =>
    `${b.uds ? `unix:${b.uds}` : `${b.host}:${b.port}`}${b.tls ? " tls" : ""}`;
  if (s.server_settings) parts.push(`mcp ${where(s.server_settings)}`);
  if (s.grpc_server_settings) parts.push(`grpc ${where(s.grpc_server_settings)}`);
  if (s.unix_socket_server_settings) parts.push(`unix ${s.unix_socket_server_settings.path}`);
  return parts.length ? parts.join(", ") : null;
}

/**
 * Renders a plan as text for the terminal.
 */
export function renderPlan(plan: ConfigPlan): string {
  const lines: string[] = [];
  const n = plan.plugin_count;
  const h = plan.hooks.length;
  lines.push(
    `${plan.file}: valid, ${n} plugin${n === 1 ? "" : "s"}, ${h} hook${h === 1 ? "" : "s"}`,
  );
  if (h === 0) lines.push("", "No plugin is registered for any hook.");
  for (const hook of plan.hooks) {
    lines.push("", `${hook.hook}${hook.builtin ? "" : " (custom hook)"}`);
    const rows = [["#", "plugin", "mode", "priority", "on_error", "timeout", "transport", "when"]];
    const notes = new Map<number, string>();
    for (const p of hook.plugins) {
      rows.push([
        String(p.order),
        p.name,
        p.shadow ? `${p.mode} (shadow)` : p.mode,
        String(p.priority),
        p.on_error,
        seconds(p.timeout),
        formatTransport(p.transport),
        formatConditions(p.conditions),
      ]);
      if (p.server_may_override.length) {
        notes.set(rows.length - 1, `server may override: ${p.server_may_override.join(", ")}`);
      }
    }
    const rendered = table(rows);
    rendered.forEach((line, i) => {
      lines.push(`  ${line}`);
      const note = notes.get(i);
      if (note) lines.push(`     ${note}`);
    });
  }
  const extra: [string, string[]][] = [
    ["disabled (never loaded)", plan.disabled],
    ["hooks from the plugin server (unknown until a gateway connects)", plan.hooks_from_server],
    ["registered for no hook", plan.without_hooks],
  ];
  const tail: string[] = [];
  for (const [label, names] of extra) if (names.length) tail.push(`${label}: ${names.join(", ")}`);
  const servers = serverLine(plan);
  if (servers) tail.push(`serve defaults: ${servers}`);
  if (Object.keys(plan.plugin_settings).length) {
    tail.push(`plugin_settings: ${listing(plan.plugin_settings)}`);
  }
  if (tail.length) lines.push("", ...tail);
  if (plan.warnings.length) {
    lines.push("", "warnings:", ...plan.warnings.map((w) => `  - ${w}`));
  }
  return lines.join("\n") + "\n";
}

/**
 * Runs `check` with the arguments after the command name and returns the exit code: 0 for a
 * valid config (plan on stdout), 1 for an invalid one (errors on stderr, or on stdout as JSON
 * with `--json`).
 *
 * @throws {UsageError} for a bad command line.
 */
export async function checkCommand(args: readonly string[], output: Output): Promise<number> {
  const parsed = parseArgs(args, CHECK_SPEC);
  const file = parsed.positionals[0];
  const json = parsed.options.json === true;
  // A permission problem is said to be one, not an invalid config (issue 12).
  preflight("check command", [{
    descriptor: { name: "read", path: file },
    flag: `--allow-read=${file}`,
  }]);
  const text = await Deno.readTextFile(file).catch(() => null);
  const unset = text === null ? [] : unsetEnv(text);
  let config: Config;
  try {
    config = await loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // An unset variable is likely why the config is invalid: name it among the errors.
    const issues = [...error.issues, ...unset];
    const invalid = new ConfigError(error.file, issues);
    if (json) {
      output.stdout(
        JSON.stringify({ file: error.file, valid: false, errors: issues }, null, 2) + "\n",
      );
    } else {
      output.stderr(`error: ${describeError(invalid)}\n`);
    }
    return 1;
  }
  const pluginTimeout = readSettings().envValue("pluginTimeout");
  // The CLI is an entry point: it plans against the default (built-in) hooks.
  const hooks = getHookRegistry();
  const plan: ConfigPlan = buildPlan(
    config,
    file,
    hooks,
    pluginTimeout === undefined ? {} : { pluginTimeout },
  );
  const found = await runtimeFindings(config, pathToFileURL(resolve(file)), hooks);
  const document = text === null ? null : documentOf(safeSubstitute(text, file));
  const warnings: Finding[] = [...found.warnings, ...keyWarnings(document), ...unset];
  plan.warnings.push(...warnings.map((w) => `${w.path}: ${w.message}`));
  if (found.errors.length) {
    if (json) {
      output.stdout(
        JSON.stringify({ valid: false, errors: found.errors, ...plan }, null, 2) + "\n",
      );
    } else {
      const lines = plan.warnings.map((w) => `  - ${w}`);
      output.stderr(
        `error: ${describeError(new ConfigError(file, found.errors))}\n` +
          (lines.length ? `warnings:\n${lines.join("\n")}\n` : ""),
      );
    }
    return 1;
  }
  if (json) output.stdout(JSON.stringify({ valid: true, ...plan }, null, 2) + "\n");
  else output.stdout(renderPlan(plan));
  return 0;
}

function safeSubstitute(text: string, file: string): string {
  try {
    return substituteEnv(text, file);
  } catch {
    return "";
  }
}
