/**
 * The plugin manifest the reference's docs describe: a `plugin-manifest.yaml` beside a plugin's
 * module with `description`, `author`, `version`, `tags`, `available_hooks` and
 * `default_config`. Here its `default_config` fills the keys a config entry's `config` leaves
 * out (the reference merges it the same way, shallowly, when it installs a plugin), and
 * `cpex check` validates it (issue 12).
 *
 * A manifest is read only when the process may read it: without `--allow-read` for the file it
 * is not looked for (`cpex check` says so).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { YAMLParseError } from "yaml";
import { z } from "zod";
import { parseYaml } from "./yaml.ts";

/** The manifest's file name (beside the plugin module). */
export const MANIFEST_FILE = "plugin-manifest.yaml";

/**
 * A plugin manifest (`name` and `kind`, which the reference's installer uses, are accepted and
 * ignored).
 */
export interface PluginManifest {
  /** What the plugin does. */
  description: string;
  /** Who wrote it. */
  author: string;
  /** Its version. */
  version: string;
  /** Tags to find it by. */
  tags: string[];
  /** The hooks it implements. */
  available_hooks: string[];
  /** Defaults for the keys of its `config`. */
  default_config: Record<string, unknown>;
}

const manifestSchema = z.object({
  name: z.string().optional(),
  kind: z.string().optional(),
  description: z.string(),
  author: z.string(),
  version: z.union([z.string(), z.number()]).transform(String),
  tags: z.array(z.string()).default([]),
  available_hooks: z.array(z.string()),
  default_config: z.record(z.string(), z.unknown()).nullable().default({})
    .transform((v) => v ?? {}),
});

/** The path of the manifest beside a `file:` module URL, or null for any other specifier. */
export function manifestPathFor(moduleUrl: string): string | null {
  if (!moduleUrl.startsWith("file:")) return null;
  return join(dirname(fileURLToPath(moduleUrl)), MANIFEST_FILE);
}

/**
 * Parses and validates manifest text; throws an Error listing every problem (with its key).
 */
export function parseManifest(text: string, file: string): PluginManifest {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    if (error instanceof YAMLParseError) {
      throw new Error(`${file}: YAML syntax error: ${error.message.split("\n", 1)[0]}`);
    }
    throw error;
  }
  const parsed = manifestSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      `${i.path.length ? i.path.join(".") : "(manifest)"}: ${i.message}`
    );
    throw new Error(`${file}: invalid plugin manifest: ${problems.join("; ")}`);
  }
  const { name: _n, kind: _k, ...manifest } = parsed.data;
  return manifest;
}

/**
 * Reads the manifest at `path`: null when it does not exist or the process may not read it.
 *
 * @throws {Error} for a manifest that exists but is invalid.
 */
export async function readManifest(path: string): Promise<PluginManifest | null> {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return null;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return parseManifest(text, path);
}

/**
 * `config` with the manifest's `default_config` under it: keys the entry sets win (a shallow
 * merge, as the reference's `create_instance_config`).
 */
export function withDefaultConfig(
  config: Record<string, unknown> | null | undefined,
  manifest: PluginManifest | null,
): Record<string, unknown> | null | undefined {
  if (!manifest || Object.keys(manifest.default_config).length === 0) return config;
  return { ...structuredClone(manifest.default_config), ...(config ?? {}) };
}
