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
import { createServerLogger, ExternalPluginServer } from "../../server.ts";
import { parseArgs } from "./args.ts";
import type { Output } from "./output.ts";
import { resolveServePlan, SERVE_SPEC, type ServePlan } from "./serve_options.ts";

/**
 * Throws unless every enabled plugin of the config loaded and there is at least one, or
 * `--allow-partial` was given. With the default `fail_on_plugin_error: true` a failed plugin
 * already fails `initialize()`; this catches `fail_on_plugin_error: false` and empty configs.
 */
function refusePartial(server: ExternalPluginServer, plan: ServePlan): void {
  if (plan.allowPartial) return;
  const loaded = server.manager?.pluginCount ?? 0;
  const enabled = (server.config?.plugins ?? []).filter((p) => p.mode !== "disabled");
  if (loaded === 0) {
    throw new Error(
      `refusing to serve: no plugin loaded from ${plan.config} (${enabled.length} enabled in ` +
        `the config); pass --allow-partial to serve anyway`,
    );
  }
  if (loaded < enabled.length) {
    const missing = enabled.filter((p) => !server.manager?.getPlugin(p.name)).map((p) => p.name);
    throw new Error(
      `refusing to serve: ${loaded} of ${enabled.length} plugins loaded from ${plan.config} ` +
        `(not loaded: ${missing.join(", ")}); pass --allow-partial to serve anyway`,
    );
  }
}

/**
 * Runs `serve` with the arguments after the command name; resolves with the exit code once the
 * server has stopped and its plugins are shut down.
 *
 * @throws {UsageError} for a bad command line; other errors (invalid config, missing
 * permission, address in use) propagate after the plugins are shut down.
 */
export async function serveCommand(args: readonly string[], output: Output): Promise<number> {
  const plan = resolveServePlan(parseArgs(args, SERVE_SPEC));
  // One logger for the manager, the server and this command (issue 12): levels, JSON lines.
  const logger = createServerLogger({
    level: plan.log.level,
    format: plan.log.format,
    write: (line) => output.stderr(line),
  });
  const server = new ExternalPluginServer({
    config: plan.config,
    manager: { logger: { warn: (m) => logger.warn(m), info: (m) => logger.info(m) } },
    logger,
  });
  let handle;
  try {
    // Load first, so a partial load stops here, before the transport prints READY (issue 12).
    await server.initialize();
    refusePartial(server, plan);
    handle = await server.serve(plan.options);
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  const count = server.manager?.pluginCount ?? 0;
  logger.info(
    `${count} plugin${count === 1 ? "" : "s"} from ${plan.config} on ` +
      `${plan.transport}${handle.address === plan.transport ? "" : ` ${handle.address}`}`,
  );
  if (handle.metricsAddress) logger.info(`metrics on http://${handle.metricsAddress}/metrics`);
  try {
    await handle.finished;
  } finally {
    await server.close();
  }
  logger.info("stopped");
  return 0;
}
