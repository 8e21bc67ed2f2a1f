/**
 * The `@cpex/core` command line.
 *
 * ```sh
 * deno run [PERMISSIONS] jsr:@cpex/core/cli <command> [options]
 * ```
 *
 * - `serve --config FILE --transport unix|grpc|mcp|http|stdio [--host H --port P --uds PATH
 *   --path SOCK --tls-cert F --tls-key F --tls-ca F --client-auth none|optional|require]`:
 *   serve a config's plugins to gateways in other processes, like the reference's plugin server
 *   runtimes (same config files and PLUGINS_* variables; options win over the environment).
 *   Prints `READY` once listening (never for stdio) and stops on SIGINT/SIGTERM.
 * - `check FILE [--json]`: validate a config and print, for each hook, its plugins in execution
 *   order with mode, priority, on_error, timeout, conditions and transport; or every problem
 *   with its YAML path (exit code 1). Loads and connects nothing.
 * - `init NAME [--dir DIR] [--core PATH]`: create an external plugin project (plugin class,
 *   config, passing tests, deno tasks per transport with scoped permissions).
 *
 * `--help` works on the CLI and on each command. Exit codes: 0 success, 1 failure, 2 usage
 * error. Each command states the permissions it needs in its help.
 *
 * @example
 * ```ts
 * import { main } from "@cpex/core/cli";
 * const code = await main(["check", "plugins.yaml"]);
 * console.log(code); // 0 when the config is valid
 * ```
 *
 * @module
 */
import { main } from "./src/cli/main.ts";

export { main };
export type { Output } from "./src/cli/output.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
