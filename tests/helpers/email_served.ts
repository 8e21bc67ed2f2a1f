/**
 * The email-guard server of {@linkcode emailServer} served over one transport, with the gateway
 * entry that reaches it (shared by the tests of external transports).
 *
 * @module
 */
import type { PluginConfigInput } from "../../mod.ts";
import type { ServerHandle } from "../../server.ts";
import { EMAIL_PRE_SEND, emailServer } from "./email_hooks.ts";
import { socketPath } from "./unix_fixtures.ts";

/** A served transport and the gateway entry that reaches it. */
export interface Served {
  entry: PluginConfigInput;
  close(): Promise<void>;
}

/**
 * Serves the email guard over `transport` (port 0, a unique socket path).
 *
 * @example
 * ```ts
 * const served = await serveOn("unix");
 * await served.close();
 * ```
 */
export async function serveOn(transport: "unix" | "grpc" | "http"): Promise<Served> {
  const server = emailServer();
  const common = { printReady: false, handleSignals: false };
  let handle: ServerHandle;
  let entry: PluginConfigInput;
  if (transport === "unix") {
    const path = socketPath("own-registry");
    handle = await server.serve({ transport, path, ...common });
    entry = {
      name: "EmailGuard",
      kind: "external",
      hooks: [EMAIL_PRE_SEND],
      unix_socket: { path, reconnect_delay: 0.01 },
    };
  } else if (transport === "grpc") {
    handle = await server.serve({ transport, host: "127.0.0.1", port: 0, ...common });
    entry = { name: "EmailGuard", kind: "external", grpc: { target: handle.address } };
  } else {
    handle = await server.serve({ transport, host: "127.0.0.1", port: 0, ...common });
    const port = handle.address.split(":").pop();
    entry = {
      name: "EmailGuard",
      kind: "external",
      mcp: { proto: "STREAMABLEHTTP", url: `http://localhost:${port}/mcp`, reconnect_delay: 0.05 },
    };
  }
  return {
    entry,
    async close() {
      await handle.close();
      await server.shutdown();
    },
  };
}
