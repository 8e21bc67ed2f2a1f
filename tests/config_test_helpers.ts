/**
 * Helpers shared by the config test suites: scoped environment variables and ConfigError
 * assertions.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError, type ConfigIssue } from "../src/errors.ts";

/**
 * Runs `fn` with the given variables set (`undefined` = unset) and restores the previous
 * values afterwards, also when `fn` throws.
 *
 * @example
 * ```ts
 * await withEnv({ PLUGINS_PLUGIN_TIMEOUT: "5" }, () => readSettings().pluginTimeout);
 * ```
 */
export async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => T | Promise<T>,
): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(vars)) {
    saved.set(name, Deno.env.get(name));
    if (value === undefined) Deno.env.delete(name);
    else Deno.env.set(name, value);
  }
  try {
    return await fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

/**
 * Asserts that `fn` throws a ConfigError with an issue at `path` whose message matches
 * `message`; returns that issue.
 *
 * @example
 * ```ts
 * expectIssue(() => parseConfig(bad), "plugins[0].mode", /expected one of/);
 * ```
 */
export function expectIssue(
  fn: () => unknown,
  path: string,
  message?: RegExp | string,
): ConfigIssue {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return checkIssue(error, path, message);
}

/**
 * Async variant of {@linkcode expectIssue}.
 *
 * @example
 * ```ts
 * await expectIssueAsync(() => loadConfig("missing.yaml"), "", "file not found");
 * ```
 */
export async function expectIssueAsync(
  fn: () => Promise<unknown>,
  path: string,
  message?: RegExp | string,
): Promise<ConfigIssue> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  return checkIssue(error, path, message);
}

function checkIssue(error: unknown, path: string, message?: RegExp | string): ConfigIssue {
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
  const issue = error.issues.find((i) => i.path === path);
  assert.ok(issue, `no issue at "${path}" in: ${error.message}`);
  if (typeof message === "string") assert.equal(issue.message, message);
  else if (message) assert.match(issue.message, message);
  return issue;
}
