/**
 * YAML parsing as the reference reads its config (PyYAML `safe_load`): YAML 1.1 with PyYAML's
 * plain-scalar resolution (`yes`/`no`/`on`/`off` are booleans but `y`/`n` strings, `08` and `1e3`
 * strings, `1:30` is 90; see `yaml11_scalars.ts`), duplicate keys allowed with the last one
 * winning.
 *
 * npm:yaml 2.x reads `process.env.LOG_TOKENS` and `process.env.LOG_STREAM` for every token
 * it parses (debug output), which under Deno needs env permission for those two names — a
 * process started with a scoped `--allow-env=PLUGINS_...` (or none) would crash, or prompt.
 * {@linkcode parseYaml} hides those two variables from the library for the duration of the
 * (synchronous, hence uninterruptible) parse; every other lookup goes through unchanged.
 *
 * @module
 */
import { parse } from "yaml";
import { withPyYamlScalars } from "./yaml11_scalars.ts";

const HIDDEN = new Set(["LOG_TOKENS", "LOG_STREAM"]);

/**
 * Parses one YAML document. Throws the library's `YAMLParseError` (with `linePos`) on
 * syntax errors.
 *
 * @example
 * ```ts
 * import { parseYaml } from "./yaml.ts";
 * parseYaml("verify: no\n"); // { verify: false }
 * parseYaml("tools: [y, n]\n"); // { tools: ["y", "n"] }
 * ```
 */
export function parseYaml(text: string): unknown {
  const env = Deno.env as { get(key: string): string | undefined };
  const original = env.get;
  env.get = function (key: string): string | undefined {
    return HIDDEN.has(key) ? undefined : original.call(this, key);
  };
  try {
    return parse(text, { version: "1.1", uniqueKeys: false, customTags: withPyYamlScalars });
  } finally {
    env.get = original;
  }
}
