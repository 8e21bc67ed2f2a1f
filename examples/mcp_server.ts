/**
 * An external plugin server on the MCP transport: hosts the example `ArgumentValidator`
 * (limit 100 characters), or the example plugins named by `--plugins=NAME,...` (see
 * `plugins/catalog.ts`), for gateways in other processes, over
 * MCP Streamable HTTP (`/mcp`, plus `GET /health`) or over STDIO (wire.md §2, §3).
 *
 * ```sh
 * deno task example:mcp              # HTTP on 127.0.0.1:8000
 * deno task example:mcp:stdio        # MCP over stdin/stdout (for a gateway's STDIO cmd)
 * deno run --allow-net=127.0.0.1:9000 examples/mcp_server.ts http 9000
 * deno run --allow-net=127.0.0.1:9000 examples/mcp_server.ts http 9000 --plugins=ResourceFilter
 * ```
 *
 * Arguments: the transport (`http` or `stdio`; else `PLUGINS_TRANSPORT`, else `stdio` when
 * stdin is not a terminal, as the reference) and, for HTTP, the port (default 8000; host
 * 127.0.0.1). The HTTP server prints `READY` once it listens; the STDIO server never writes
 * anything but MCP to stdout. Both stop on SIGINT/SIGTERM (STDIO also when stdin ends).
 *
 * Permissions, each checked by running without it under `--no-prompt`:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:8000 examples/mcp_server.ts http   # HTTP: exactly this
 * deno run examples/mcp_server.ts stdio                              # STDIO: none at all
 * ```
 *
 * No `--allow-read` (static imports of local modules and npm packages need none), no
 * `--allow-env` (the MCP SDK reads no environment variable; our settings reads are
 * permission-checked and skipped when not granted), no `--allow-sys`. A missing net flag
 * makes the server exit with a `PermissionPreflightError` naming it.
 *
 * @module
 */
import { ExternalPluginServer, type TransportName } from "../server.ts";
import { readEnv } from "../src/config/env.ts";
import { hostedPlugins } from "./plugins/catalog.ts";
import { parentWatchFlag, whenParentExits } from "./demo/parent_watch.ts";

// Started by the demo: stop when the demo is gone, however it ended (issue 12).
const { argv, watch } = parentWatchFlag(Deno.args);
const { plugins, args } = hostedPlugins(argv);
const transport = (args[0] ?? readEnv("PLUGINS_TRANSPORT")?.toLowerCase() ??
  (Deno.stdin.isTerminal() ? "http" : "stdio")) as TransportName;
const port = Number(args[1] ?? 8000);

const server = new ExternalPluginServer({
  plugins,
});

try {
  const handle = transport === "stdio"
    ? await server.serve({ transport })
    : await server.serve({ transport, host: "127.0.0.1", port });
  if (watch) whenParentExits(() => handle.close());
  await handle.finished;
  await server.close();
  // A hook still running (one that ignores its abort signal) or the pending stdin read of the
  // parent watch must not keep the process alive after its gateway went away.
  Deno.exit(0);
} catch (error) {
  await server.shutdown();
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  Deno.exit(1);
}
