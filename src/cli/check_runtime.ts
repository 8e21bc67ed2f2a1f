/**
 * What `cpex check` verifies beyond the schema, so a config that passes does not break at
 * runtime (issue 12): duplicate plugin names, bare kinds, module files and their exports, a
 * plugin manifest beside a module, misspelt hook names and keys, and unset `{{ env.NAME }}`.
 * Plugin modules are imported (as the loader does) but no plugin is constructed, and no
 * transport module is loaded.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { MANIFEST_FILE, manifestPathFor, parseManifest } from "../config/manifest.ts";
import { envReferences } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { parseYaml } from "../config/yaml.ts";
import type { HookRegistry } from "../hooks/registry.ts";
import { isPluginClass, resolveSpecifier, splitModuleKind } from "../manager/specifier.ts";
import { CommandPermissionError, isPermissionError } from "./preflight.ts";

/** A problem found: its YAML path (or `line N`) and what is wrong. */
export interface Finding {
  /** Where (e.g. `plugins[2].kind`); empty for the whole file. */
  path: string;
  /** What is wrong, with a suggestion when there is one. */
  message: string;
}

/** Errors (the config will not work) and warnings (it works, probably not as meant). */
export interface RuntimeFindings {
  /** Problems that break the config at runtime. */
  errors: Finding[];
  /** Things that are probably mistakes. */
  warnings: Finding[];
}

const TOP_KEYS = [
  "plugins",
  "plugin_dirs",
  "server_settings",
  "grpc_server_settings",
  "unix_socket_server_settings",
  "plugin_settings",
];
const PLUGIN_KEYS = [
  "name",
  "description",
  "author",
  "kind",
  "namespace",
  "version",
  "hooks",
  "tags",
  "mode",
  "on_error",
  "priority",
  "max_content_size",
  "conditions",
  "applied_to",
  "capabilities",
  "config",
  "mcp",
  "grpc",
  "unix_socket",
  "timeout",
  "shadow",
  // Sandboxed plugins (issue 16).
  "isolation",
  "permissions",
  "memory_mb",
  "workers",
  "max_stuck",
];
const SETTINGS_KEYS = [
  "plugin_timeout",
  "fail_on_plugin_error",
  "parallel_execution_within_band",
  "enable_plugin_api",
  "plugin_health_check_interval",
  "execution_pool",
  "default_hook_policy",
  "max_payload_size",
  "record",
];
const CONDITION_KEYS = [
  "server_ids",
  "tenant_ids",
  "tools",
  "prompts",
  "resources",
  "agents",
  "user_patterns",
  "content_types",
];

/** Levenshtein distance, bounded: returns `max + 1` as soon as it is exceeded. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      best = Math.min(best, row[j]);
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length];
}

/** The closest of `candidates` to `word` (within a third of its length, at most 3 edits). */
export function suggest(word: string, candidates: readonly string[]): string | null {
  const max = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | null = null;
  let bestDistance = max + 1;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate, max);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unknownKeys(
  value: unknown,
  known: readonly string[],
  path: string,
  out: Finding[],
): void {
  if (!isMapping(value)) return;
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guess = suggest(key, known);
    out.push({
      path: path ? `${path}.${key}` : key,
      message: guess
        ? `unknown key '${key}' is ignored; did you mean \`${guess}\`?`
        : `unknown key '${key}' is ignored`,
    });
  }
}

/** Misspelt keys in the (substituted) YAML document. */
export function keyWarnings(document: unknown): Finding[] {
  const out: Finding[] = [];
  unknownKeys(document, TOP_KEYS, "", out);
  if (!isMapping(document)) return out;
  unknownKeys(document.plugin_settings, SETTINGS_KEYS, "plugin_settings", out);
  if (Array.isArray(document.plugins)) {
    document.plugins.forEach((plugin, i) => {
      unknownKeys(plugin, PLUGIN_KEYS, `plugins[${i}]`, out);
      if (isMapping(plugin) && Array.isArray(plugin.conditions)) {
        plugin.conditions.forEach((c, j) =>
          unknownKeys(c, CONDITION_KEYS, `plugins[${i}].conditions[${j}]`, out)
        );
      }
    });
  }
  return out;
}

/** Parses the substituted text for the key check; null when it does not parse. */
export function documentOf(substituted: string): unknown {
  try {
    return parseYaml(substituted);
  } catch {
    return null;
  }
}

/**
 * The `{{ env.NAME }}` references without a default whose variable is unset (or unreadable:
 * then the message names the flag).
 */
export function unsetEnv(text: string): Finding[] {
  const out: Finding[] = [];
  const lines = text.split("\n");
  for (const ref of envReferences(text)) {
    // A reference in a comment line changes nothing.
    if (ref.hasDefault || lines[ref.line - 1]?.trimStart().startsWith("#")) continue;
    const state = Deno.permissions.querySync({ name: "env", variable: ref.name }).state;
    if (state !== "granted") {
      out.push({
        path: `line ${ref.line}`,
        message: `{{ env.${ref.name} }} cannot be read without --allow-env=${ref.name}; ` +
          `it reads as ""`,
      });
    } else if (Deno.env.get(ref.name) === undefined) {
      out.push({
        path: `line ${ref.line}`,
        message: `{{ env.${ref.name} }}: ${ref.name} is not set; it reads as ""`,
      });
    }
  }
  return out;
}

/** Misspelt hook names: unknown to the registry but close to one it knows. */
function hookWarnings(config: Config, hooks: HookRegistry): Finding[] {
  const known = hooks.names();
  const out: Finding[] = [];
  config.plugins.forEach((plugin, i) => {
    plugin.hooks.forEach((hook, j) => {
      if (hooks.isRegistered(hook)) return;
      const guess = suggest(hook, known);
      if (guess) {
        out.push({
          path: `plugins[${i}].hooks[${j}]`,
          message: `'${hook}' is not a known hook; did you mean \`${guess}\`?`,
        });
      }
    });
  });
  return out;
}

function permissionProblem(what: string, error: Error): CommandPermissionError {
  const path = /"([^"]+)"/.exec(error.message)?.[1];
  return new CommandPermissionError(
    "check command",
    [path ? `--allow-read=${path}` : "--allow-read"],
    what,
  );
}

/** Imports a module kind's specifier and checks its export; validates its manifest. */
async function moduleFindings(
  kind: string,
  path: string,
  base: URL,
  errors: Finding[],
  warnings: Finding[],
): Promise<void> {
  const parts = splitModuleKind(kind);
  if (!parts) {
    errors.push({
      path,
      message: `'${kind}' is neither 'external', a module specifier ` +
        `('./plugins/my_plugin.ts#MyPlugin', 'jsr:@scope/pkg#MyPlugin') nor a known kind ` +
        `(a host's pluginKinds map is not known to the CLI)`,
    });
    return;
  }
  const specifier = resolveSpecifier(parts.specifier, base);
  if (specifier.startsWith("file:")) {
    const file = fileURLToPath(specifier);
    try {
      await Deno.stat(file);
    } catch (error) {
      if (isPermissionError(error)) {
        throw permissionProblem(`to check plugin module ${file}`, error as Error);
      }
      if (error instanceof Deno.errors.NotFound) {
        errors.push({ path, message: `module file not found: ${file}` });
        return;
      }
      throw error;
    }
  }
  let module: Record<string, unknown>;
  try {
    module = await import(specifier);
  } catch (error) {
    if (isPermissionError(error)) {
      throw permissionProblem(`to import plugin module ${specifier}`, error as Error);
    }
    const message = error instanceof Error ? error.message.split("\n", 1)[0] : String(error);
    errors.push({ path, message: `cannot import ${specifier}: ${message}` });
    return;
  }
  if (!Object.hasOwn(module, parts.exportName)) {
    errors.push({ path, message: `${specifier} has no export '${parts.exportName}'` });
  } else if (!isPluginClass(module[parts.exportName])) {
    errors.push({
      path,
      message: `'${parts.exportName}' exported by ${specifier} is not a Plugin class`,
    });
  }
  const manifest = manifestPathFor(specifier);
  if (!manifest) return;
  if (Deno.permissions.querySync({ name: "read", path: manifest }).state !== "granted") {
    warnings.push({
      path,
      message: `${MANIFEST_FILE} beside the module is not looked for without ` +
        `--allow-read=${manifest} (its default_config would not apply)`,
    });
    return;
  }
  let text: string;
  try {
    text = await Deno.readTextFile(manifest);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  try {
    parseManifest(text, manifest);
  } catch (error) {
    errors.push({ path, message: (error as Error).message });
  }
}

/**
 * Everything `check` verifies beyond the schema for a valid config.
 *
 * @param config The parsed config.
 * @param base The config file's URL (module kinds resolve against it).
 * @param hooks The hook registry (built-in hooks).
 * @throws {CommandPermissionError} when a plugin module cannot be read for lack of permission.
 */
export async function runtimeFindings(
  config: Config,
  base: URL,
  hooks: HookRegistry,
): Promise<RuntimeFindings> {
  const errors: Finding[] = [];
  const warnings: Finding[] = hookWarnings(config, hooks);
  const first = new Map<string, number>();
  for (const [i, plugin] of config.plugins.entries()) {
    const earlier = first.get(plugin.name);
    if (earlier !== undefined) {
      errors.push({
        path: `plugins[${i}].name`,
        message: `duplicate plugin name '${plugin.name}' (also plugins[${earlier}]); ` +
          `the second one cannot be registered`,
      });
    } else first.set(plugin.name, i);
    if (plugin.mode === "disabled" || plugin.kind === "external") continue;
    await moduleFindings(plugin.kind, `plugins[${i}].kind`, base, errors, warnings);
  }
  return { errors, warnings };
}
