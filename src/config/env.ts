/**
 * Permission-aware access to environment variables. Config and settings code reads the
 * environment only through {@linkcode readEnv}, so importing or using the config layer never
 * fails (or prompts) in a process started without `--allow-env`.
 *
 * @module
 */

/**
 * Returns the value of the environment variable `name`, or `undefined` when it is not set or
 * when the process has no permission to read it (`--allow-env` / `--allow-env=NAME` missing;
 * under `--no-prompt` an ungranted permission reports "prompt" and is treated the same way).
 */
export function readEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    // Invalid variable names (e.g. containing "=") or a denied permission: treat as unset.
    return undefined;
  }
}
