/**
 * `cpex serve`: loads a config into an {@linkcode ExternalPluginServer} and serves its plugins
 * on one transport until SIGINT/SIGTERM (or, for stdio, until stdin ends). The transport prints
 * `READY` on stdout once listening (never for stdio); the CLI itself writes only to stderr.
 * SIGHUP reloads the config (issue 14 item 4), as daemons do, instead of stopping like a bare
 * transport server: the new plugin set replaces the old one without dropping a call, and a
 * reload that fails is logged while the old set keeps serving.
 *
 * @module
 */
// Through the entry points, not ../external/server.ts: plugin modules the config names import
// @cpex/core (mod.ts), and with it already loaded they need no read permission for its files.
import "../../mod.ts";
import { createServerLogger, ExternalPluginServer, type ServerHandle } from "../../server.ts";
import { loadConfig } from "../config/load.ts";
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
 * Stops the server on SIGINT/SIGTERM and reloads the served config on SIGHUP, one reload at a
 * time (a signal during a reload queues one more, so the last edit always wins). Returns the
 * function that removes the listeners.
 */
function handleSignals(
  server: ExternalPluginServer,
  plan: ServePlan,
  logger: ReturnType<typeof createServerLogger>,
): SignalHandling {
  let running: Promise<void> | null = null;
  let again = false;
  const reload = async (): Promise<void> => {
    logger.info(`SIGHUP: reloading ${plan.config}`);
    try {
      if (!plan.allowPartial) {
        // As at start-up: never serve an empty set unless --allow-partial.
        const next = await loadConfig(plan.config);
        if (!next.plugins.some((p) => p.mode !== "disabled")) {
          throw new Error(`no enabled plugin in ${plan.config}; pass --allow-partial to allow it`);
        }
      }
      await server.reload(plan.config, { failOnPluginError: !plan.allowPartial || undefined });
      const count = server.manager?.pluginCount ?? 0;
      logger.info(`reloaded ${plan.config}: ${count} plugin${count === 1 ? "" : "s"}`);
    } catch (error) {
      logger.error(
        `reload of ${plan.config} failed, still serving the previous plugins: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  };
  const onSignal = (): void => {
    if (running !== null) {
      again = true;
      return;
    }
    running = reload().finally(() => {
      running = null;
      if (again) {
        again = false;
        onSignal();
      }
    });
  };
  // Listening before the transport prints READY: a stop right after it must not kill us.
  let handle: ServerHandle | null = null;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    void handle?.close();
  };
  // Windows has no SIGHUP (nor SIGTERM); SIGBREAK is its Ctrl-Break.
  const stops: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of stops) Deno.addSignalListener(signal, stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onSignal);
  return {
    attach(served) {
      handle = served;
      if (stopped) void served.close();
    },
    remove() {
      for (const signal of stops) Deno.removeSignalListener(signal, stop);
      if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", onSignal);
    },
  };
}

/** The signal listeners of a running `serve`. */
interface SignalHandling {
  /** The server is listening: a stop signal closes `handle` (at once if one came already). */
  attach(handle: ServerHandle): void;
  /** Removes the listeners. */
  remove(): void;
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
  let signals: SignalHandling | null = null;
  try {
    // Load first, so a partial load stops here, before the transport prints READY (issue 12).
    await server.initialize();
    refusePartial(server, plan);
    signals = handleSignals(server, plan, logger);
    // The transport's own signal handling would stop on SIGHUP: serve handles signals itself.
    handle = await server.serve({ ...plan.options, handleSignals: false });
  } catch (error) {
    signals?.remove();
    await server.shutdown();
    throw error;
  }
  const count = server.manager?.pluginCount ?? 0;
  logger.info(
    `${count} plugin${count === 1 ? "" : "s"} from ${plan.config} on ` +
      `${plan.transport}${handle.address === plan.transport ? "" : ` ${handle.address}`}`,
  );
  if (handle.metricsAddress) logger.info(`metrics on http://${handle.metricsAddress}/metrics`);
  signals.attach(handle);
  try {
    await handle.finished;
  } finally {
    signals.remove();
    await server.close();
  }
  logger.info("stopped");
  return 0;
}
