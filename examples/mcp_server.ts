/**
 * An external plugin server on the MCP transport: hosts the example
 * {@linkcode ArgumentValidator} (limit 100 characters) for gateways in other processes, over
 * MCP Streamable HTTP (`/mcp`, plus `GET /health`) or over STDIO (wire.md §2, §3).
 *
 * ```sh
 * deno task example:mcp              # HTTP on 127.0.0.1:8000
 * deno task example:mcp:stdio        # MCP over stdin/stdout (for a gateway's STDIO cmd)
 * deno run --allow-net=127.0.0.1:9000 examples/mcp_server.ts http 9000
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
import { ExternalPluginServer, type TransportName } from "../mod.ts";
import { readEnv } from "../src/config/env.ts";
import { ArgumentValidator } from "./plugins/argument_validator.ts";

const transport = (Deno.args[0] ?? readEnv("PLUGINS_TRANSPORT")?.toLowerCase() ??
  (Deno.stdin.isTerminal() ? "http" : "stdio")) as TransportName;
const port = Number(Deno.args[1] ?? 8000);

const server = new ExternalPluginServer({
  plugins: [
    new ArgumentValidator({
      name: "ArgumentValidator",
      kind: "examples/plugins/argument_validator.ts#ArgumentValidator",
      description: "Blocks tool and prompt arguments longer than max_length characters",
      hooks: ["tool_pre_invoke", "prompt_pre_fetch"],
      mode: "sequential",
      config: { max_length: 100 },
    }),
  ],
});

try {
  const handle = transport === "stdio"
    ? await server.serve({ transport })
    : await server.serve({ transport, host: "127.0.0.1", port });
  await handle.finished;
  await server.close();
} catch (error) {
  await server.shutdown();
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  Deno.exit(1);
}
