/**
 * An external plugin server on the gRPC transport: hosts the example `ArgumentValidator`
 * (limit 100 characters), or the example plugins named by `--plugins=NAME,...` (see
 * `plugins/catalog.ts`), for gateways in other processes
 * (`cpex.PluginService`, `cpex.Health` and the standard `grpc.health.v1.Health`, wire.md §4).
 *
 * ```sh
 * deno task example:grpc                               # 127.0.0.1:50051
 * deno run <flags> examples/grpc_server.ts 127.0.0.1:50052
 * deno run <flags> examples/grpc_server.ts unix:/tmp/cpex-grpc.sock
 * deno run <flags> examples/grpc_server.ts 127.0.0.1:50052 --plugins=SearchReplace
 * ```
 *
 * The address is the first argument (`HOST:PORT`, or `unix:PATH` for a Unix socket), else the
 * `PLUGINS_GRPC_SERVER_HOST` / `_PORT` / `_UDS` variables (and TLS from
 * `PLUGINS_GRPC_SERVER_SSL_*`), read only when `--allow-env` grants them, else
 * `127.0.0.1:50051`. The server prints `READY` once it listens and stops on SIGINT/SIGTERM.
 *
 * Permissions: exactly these, and nothing else (each was checked by running without it under
 * `--no-prompt`; a missing one makes the server exit with a `PermissionPreflightError` naming
 * the flag, before grpc-js is even loaded):
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:50051 \
 *   --allow-env=GRPC_TRACE,GRPC_VERBOSITY,GRPC_NODE_TRACE,GRPC_NODE_VERBOSITY,GRPC_SSL_CIPHER_SUITES,GRPC_DEFAULT_SSL_ROOTS_FILE_PATH,GRPC_NODE_USE_ALTERNATIVE_RESOLVER,GRPC_NODE_DEBUG_SEND_ERROR_DETAILS,GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION \
 *   examples/grpc_server.ts
 * ```
 *
 * The nine `GRPC_*` names are what grpc-js reads while its module loads. On a Unix socket,
 * replace the net flag with `--allow-net=unix:PATH --allow-read=PATH --allow-write=PATH`; with
 * TLS add `--allow-read=` for the certificate, key and CA files. No `--allow-sys`, no proxy
 * variables, no read access to the source tree.
 *
 * @module
 */
import { ExternalPluginServer, type ServeOptions } from "../server.ts";
import { hostedPlugins } from "./plugins/catalog.ts";
import { parentWatchFlag, whenParentExits } from "./demo/parent_watch.ts";

/** Parses `HOST:PORT` or `unix:PATH` into serve() options; nothing given: settings decide. */
function addressOptions(arg: string | undefined): Pick<ServeOptions, "host" | "port" | "uds"> {
  if (arg === undefined) return {};
  if (arg.startsWith("unix:")) return { uds: arg.replace(/^unix:(\/\/)?/, "") };
  const colon = arg.lastIndexOf(":");
  const port = Number(arg.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) {
    throw new Error(`expected HOST:PORT or unix:PATH, got '${arg}'`);
  }
  return { host: arg.slice(0, colon).replace(/^\[|\]$/g, ""), port };
}

// Started by the demo: stop when the demo is gone, however it ended (issue 12).
const { argv, watch } = parentWatchFlag(Deno.args);
const { plugins, args } = hostedPlugins(argv);

const server = new ExternalPluginServer({
  plugins,
});

try {
  // Checks the permissions, loads grpc-js, binds, prints READY, and installs the SIGINT/SIGTERM
  // handlers that stop the server (removing the socket file of a Unix socket).
  const handle = await server.serve({ transport: "grpc", ...addressOptions(args[0]) });
  if (watch) whenParentExits(() => handle.close());
  await handle.finished;
  await server.close();
  if (watch) Deno.exit(0); // the pending stdin read would keep the process alive
} catch (error) {
  await server.shutdown();
  // e.g. "PermissionPreflightError: ... run with --allow-net=127.0.0.1:50051"
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  Deno.exit(1);
}
