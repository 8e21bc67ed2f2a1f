/**
 * A gateway with `watch: true` on the config file `Deno.args[0]`, for the permission test of the
 * hot-reload suite: prints `READY` once initialized (then shuts down), or the error and exits 1.
 *
 * @module
 */
import { PluginManager } from "../../mod.ts";

const manager = new PluginManager(Deno.args[0], { watch: true, logger: { warn: () => {} } });
try {
  await manager.initialize();
  console.log("READY");
  await manager.shutdown();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
