/**
 * What the demo runs, with each process's exact permission flags: the three example plugin
 * servers (the flags of the `example:unix`, `example:grpc` and `example:mcp` tasks, for the
 * socket path and ports of this run) and the gateway (exactly what its config needs).
 *
 * @module
 */
import { GRPC_ENV_VARS } from "../../src/external/grpc/permissions.ts";
import type { ProcessSpec } from "./processes.ts";

/**
 * Where this run's servers listen.
 *
 * @example
 * ```ts
 * import type { DemoAddresses } from "./servers.ts";
 * const a: DemoAddresses = { socket: "/tmp/cpex-demo/run-1/plugins.sock", grpcPort: 50051, mcpPort: 8000 };
 * ```
 */
export interface DemoAddresses {
  /** The raw Unix socket server's socket path. */
  socket: string;
  /** The gRPC server's port on 127.0.0.1. */
  grpcPort: number;
  /** The MCP Streamable HTTP server's port on 127.0.0.1. */
  mcpPort: number;
}

/**
 * The three plugin servers, with the plugins each hosts (gateway_all.yaml names them).
 *
 * @example
 * ```ts
 * import { serverSpecs } from "./servers.ts";
 * const [unix] = serverSpecs({ socket: "/tmp/p.sock", grpcPort: 50051, mcpPort: 8000 });
 * console.log(unix.flags); // ["--allow-read=/tmp/p.sock", "--allow-write=/tmp/p.sock", "--allow-net=unix:/tmp/p.sock"]
 * ```
 */
export function serverSpecs({ socket, grpcPort, mcpPort }: DemoAddresses): ProcessSpec[] {
  return [
    {
      label: "unix",
      script: "examples/unix_server.ts",
      flags: [`--allow-read=${socket}`, `--allow-write=${socket}`, `--allow-net=unix:${socket}`],
      args: [socket, "--plugins=ArgumentValidator,DenyList"],
    },
    {
      label: "grpc",
      script: "examples/grpc_server.ts",
      flags: [`--allow-net=127.0.0.1:${grpcPort}`, `--allow-env=${GRPC_ENV_VARS.join(",")}`],
      args: [`127.0.0.1:${grpcPort}`, "--plugins=SearchReplace"],
    },
    {
      label: "mcp-http",
      script: "examples/mcp_server.ts",
      flags: [`--allow-net=127.0.0.1:${mcpPort}`],
      args: ["http", String(mcpPort), "--plugins=ResourceFilter"],
    },
  ];
}

/** The variables gateway_all.yaml substitutes (`{{ env.NAME }}`). */
export const GATEWAY_ENV_VARS: readonly string[] = [
  "CPEX_DEMO_UNIX_SOCKET",
  "CPEX_DEMO_GRPC_PORT",
  "CPEX_DEMO_MCP_PORT",
];

/**
 * The gateway process: reads its config and in-process plugin modules under `examplesDir`,
 * talks to the Unix socket (read, write, net), to 127.0.0.1:GRPC_PORT (an IP target: no name
 * lookup) and to localhost:MCP_PORT (the URL's host as written), and reads the nine `GRPC_*`
 * variables grpc-js reads at import plus the three it substitutes into its config.
 *
 * @example
 * ```ts
 * import { gatewaySpec } from "./servers.ts";
 * const spec = gatewaySpec({ socket: "/tmp/p.sock", grpcPort: 50051, mcpPort: 8000 }, "/repo/examples");
 * console.log(spec.env); // { CPEX_DEMO_UNIX_SOCKET: "/tmp/p.sock", ... }
 * ```
 */
export function gatewaySpec(addresses: DemoAddresses, examplesDir: string): ProcessSpec {
  const { socket, grpcPort, mcpPort } = addresses;
  return {
    label: "gateway",
    script: "examples/demo/gateway.ts",
    flags: [
      `--allow-read=${examplesDir}/gateway_all.yaml,${examplesDir}/plugins,${socket}`,
      `--allow-write=${socket}`,
      `--allow-net=unix:${socket},127.0.0.1:${grpcPort},localhost:${mcpPort}`,
      `--allow-env=${[...GRPC_ENV_VARS, ...GATEWAY_ENV_VARS].join(",")}`,
    ],
    args: [],
    env: {
      CPEX_DEMO_UNIX_SOCKET: socket,
      CPEX_DEMO_GRPC_PORT: String(grpcPort),
      CPEX_DEMO_MCP_PORT: String(mcpPort),
    },
  };
}
