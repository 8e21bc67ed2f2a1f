/**
 * `cpex serve`: loads a config into an {@linkcode ExternalPluginServer} and serves its plugins
 * on one transport until SIGINT/SIGTERM (or, for stdio, until stdin ends). The transport prints
 * `READY` on stdout once listening (never for stdio); the CLI itself writes only to stderr.
 *
 * @module
 */
// Through the entry points, not ../external/server.ts: plugin modules the config names import
// @cpex/core (mod.ts), and with it already loaded they need no read permission for its files.
import "../../mod.ts";
import { ExternalPluginServer } from "../../server.ts";
import { parseArgs } from "./args.ts";
import type { Output } from "./output.ts";
import { resolveServePlan, SERVE_SPEC } from "./serve_options.ts";

/**
 * Runs `serve` with the arguments after the command name; resolves with the exit code once the
 * server has stopped and its plugins are shut down.
 *
 * @throws {UsageError} for a bad command line; other errors (invalid config, missing
 * permission, address in use) propagate after the plugins are shut down.
 */
export async function serveCommand(args: readonly string[], output: Output): Promise<number> {
  const plan = resolveServePlan(parseArgs(args, SERVE_SPEC));
  const server = new ExternalPluginServer({
    config: plan.config,
    manager: { logger: { warn: (message) => output.stderr(`cpex serve: ${message}\n`) } },
  });
  let handle;
  try {
    handle = await server.serve(plan.options);
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  const count = server.manager?.pluginCount ?? 0;
  output.stderr(
    `cpex serve: ${count} plugin${count === 1 ? "" : "s"} from ${plan.config} on ` +
      `${plan.transport}${handle.address === plan.transport ? "" : ` ${handle.address}`}\n`,
  );
  try {
    await handle.finished;
  } finally {
    await server.close();
  }
  output.stderr("cpex serve: stopped\n");
  return 0;
}
