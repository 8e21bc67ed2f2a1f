/**
 * An external plugin server on the raw Unix socket transport: hosts the example
 * `ArgumentValidator` (limit 100 characters), or the example plugins named by
 * `--plugins=NAME,...` (see `plugins/catalog.ts`), for gateways in other processes, which talk
 * to it with length-prefixed protobuf frames (wire.md §6).
 *
 * ```sh
 * deno task example:unix                 # socket /tmp/cpex-example.sock
 * deno run <flags for PATH> examples/unix_server.ts /tmp/other.sock
 * deno run <flags for PATH> examples/unix_server.ts /tmp/other.sock --plugins=DenyList,ArgumentValidator
 * ```
 *
 * The socket path is the first argument, else `PLUGINS_UNIX_SOCKET_PATH` (read only when
 * `--allow-env=PLUGINS_UNIX_SOCKET_PATH` is granted), else `/tmp/cpex-example.sock`. The server
 * prints `READY` once it listens and stops on SIGINT/SIGTERM, removing the socket file.
 *
 * Permissions: exactly these three, for the socket path and nothing else (each one was checked
 * by running without it under `--no-prompt`; a missing one makes the server exit with a
 * `PermissionPreflightError` naming the flag):
 *
 * ```sh
 * deno run --allow-read=/tmp/cpex-example.sock --allow-write=/tmp/cpex-example.sock \
 *   --allow-net=unix:/tmp/cpex-example.sock examples/unix_server.ts
 * ```
 *
 * No `--allow-env` (environment reads are permission-checked and skipped when not granted), no
 * `--allow-sys`, and no read access to the source tree (static imports of local modules need
 * none). The module graph holds neither grpc-js nor the MCP SDK.
 *
 * @module
 */
import { ExternalPluginServer } from "../server.ts";
import { readEnv } from "../src/config/env.ts";
import { hostedPlugins } from "./plugins/catalog.ts";
import { parentWatchFlag, whenParentExits } from "./demo/parent_watch.ts";

/** Where the example listens when neither an argument nor the environment says otherwise. */
const DEFAULT_PATH = "/tmp/cpex-example.sock";

// Started by the demo: stop when the demo is gone, however it ended (issue 12).
const { argv, watch } = parentWatchFlag(Deno.args);
const { plugins, args } = hostedPlugins(argv);
const path = args[0] ?? readEnv("PLUGINS_UNIX_SOCKET_PATH") ?? DEFAULT_PATH;

const server = new ExternalPluginServer({
  plugins,
});

try {
  // Checks the three permissions, binds (mode 0600), prints READY, and installs the
  // SIGINT/SIGTERM handlers that close the listener and remove the socket file.
  const handle = await server.serve({ transport: "unix", path });
  if (watch) whenParentExits(() => handle.close());
  await handle.finished;
  await server.close();
  if (watch) Deno.exit(0); // the pending stdin read would keep the process alive
} catch (error) {
  await server.shutdown();
  // e.g. "PermissionPreflightError: ... run with --allow-net=unix:/tmp/cpex-example.sock"
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  Deno.exit(1);
}
