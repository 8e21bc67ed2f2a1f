/**
 * Helpers of the gRPC interop suites (`grpc_*_test.ts`): free ports, unique socket paths, and
 * the reference's gRPC plugin server runtime (`python -m cpex.framework.external.grpc.server.runtime`)
 * started as a child process on TCP (`PLUGINS_GRPC_SERVER_HOST`/`_PORT`, optionally TLS through
 * `PLUGINS_GRPC_SERVER_SSL_*`) or on a Unix socket (`PLUGINS_GRPC_SERVER_UDS`).
 *
 * Readiness: the runtime prints nothing on stdout; it logs `gRPC plugin server started on
 * <address>` (INFO, stderr) right after `server.start()` (and, on a Unix socket, after the
 * chmod to 0600). We wait for that line, bounded.
 *
 * Stopping: SIGKILL, after the caller has shut its gateway down, and the socket file it leaves
 * behind is removed. (A graceful stop sends HTTP/2 GOAWAY; Deno 2.9's node:http2 used to crash
 * a grpc-js client on it, denoland/deno#36788. `src/external/grpc/goaway_guard.ts` now prevents
 * that, and tests/grpc_client_test.ts proves recovery after SIGTERM; these suites keep SIGKILL
 * because they test interop, not restarts.)
 *
 * @module
 */
import { INTEROP_DIR, PYTHON, requireVenv } from "./unix_helpers.ts";

const decoder = new TextDecoder();

/**
 * A free TCP port on 127.0.0.1 (bound and released at once).
 *
 * @example
 * ```ts
 * import { freePort } from "./grpc_helpers.ts";
 * console.log(freePort() > 0); // true
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * A fresh socket path under /tmp, short enough for `sun_path`.
 *
 * @example
 * ```ts
 * import { grpcSocketPath } from "./grpc_helpers.ts";
 * console.log(grpcSocketPath("a").startsWith("/tmp/cpex-gi-a-")); // true
 * ```
 */
export function grpcSocketPath(tag: string): string {
  return `/tmp/cpex-gi-${tag}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/**
 * Where the reference runtime listens: TCP on 127.0.0.1 (optionally with server TLS) or a
 * Unix socket.
 *
 * @example
 * ```ts
 * import type { PythonGrpcListen } from "./grpc_helpers.ts";
 * const tcp: PythonGrpcListen = { port: 50051 };
 * const uds: PythonGrpcListen = { uds: "/tmp/x.sock" };
 * ```
 */
export type PythonGrpcListen =
  | {
    port: number;
    /** Server TLS: `PLUGINS_GRPC_SERVER_SSL_*` (client_auth defaults to `require`). */
    tls?: { certfile: string; keyfile: string; ca_certs?: string; client_auth?: string };
  }
  | { uds: string };

/**
 * A running reference gRPC runtime.
 *
 * @example
 * ```ts
 * import type { PythonGrpcServer } from "./grpc_helpers.ts";
 * async function done(s: PythonGrpcServer) {
 *   await s.kill();
 * }
 * ```
 */
export interface PythonGrpcServer {
  /** `127.0.0.1:PORT` or the socket path. */
  readonly address: string;
  /** The child's pid. */
  readonly pid: number;
  /** Everything the child logged (stderr) so far. */
  stderr(): string;
  /** SIGKILL (no GOAWAY), waits for the child and its pipes, removes a left-over socket. */
  kill(): Promise<void>;
}

/**
 * Starts the reference's gRPC runtime with `configPath` and waits (at most `readyTimeoutMs`)
 * until it logs that it listens. The caller must shut its own gateway down first and then
 * `kill()` the server, in a `finally`.
 *
 * @example
 * ```ts
 * import { freePort, startPythonGrpcServer } from "./grpc_helpers.ts";
 * const server = await startPythonGrpcServer("/tmp/plugins.yaml", { port: freePort() });
 * try {
 *   // connect to server.address
 * } finally {
 *   await server.kill();
 * }
 * ```
 */
export async function startPythonGrpcServer(
  configPath: string,
  listen: PythonGrpcListen,
  options: { readyTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<PythonGrpcServer> {
  await requireVenv();
  const env: Record<string, string> = {
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONPATH: INTEROP_DIR,
    PLUGINS_CONFIG_PATH: configPath,
    PLUGINS_LOG_LEVEL: "INFO",
  };
  let address: string;
  if ("uds" in listen) {
    env.PLUGINS_GRPC_SERVER_UDS = listen.uds;
    address = listen.uds;
  } else {
    env.PLUGINS_GRPC_SERVER_HOST = "127.0.0.1";
    env.PLUGINS_GRPC_SERVER_PORT = String(listen.port);
    address = `127.0.0.1:${listen.port}`;
    if (listen.tls) {
      env.PLUGINS_GRPC_SERVER_SSL_ENABLED = "true";
      env.PLUGINS_GRPC_SERVER_SSL_CERTFILE = listen.tls.certfile;
      env.PLUGINS_GRPC_SERVER_SSL_KEYFILE = listen.tls.keyfile;
      if (listen.tls.ca_certs) env.PLUGINS_GRPC_SERVER_SSL_CA_CERTS = listen.tls.ca_certs;
      if (listen.tls.client_auth) {
        env.PLUGINS_GRPC_SERVER_SSL_CLIENT_AUTH = listen.tls.client_auth;
      }
    }
  }
  const child = new Deno.Command(PYTHON, {
    args: ["-m", "cpex.framework.external.grpc.server.runtime"],
    cwd: INTEROP_DIR, // the test plugins are imported as `plugins.<module>.<Class>`
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env, ...options.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();

  let log = "";
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => markReady = resolve);
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) {
      log += decoder.decode(chunk, { stream: true });
      if (log.includes("gRPC plugin server started on")) markReady();
    }
  })();
  let killed = false;
  const kill = async (): Promise<void> => {
    if (killed) return;
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
    await stderrDone;
    if ("uds" in listen) await Deno.remove(listen.uds).catch(() => {});
  };

  const exitedEarly = child.status.then((status) => {
    throw new Error(`the reference gRPC runtime exited (code ${status.code}) before listening`);
  });
  exitedEarly.catch(() => {}); // it also rejects after a later kill(): not an error then
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      ready,
      exitedEarly,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the reference gRPC runtime did not listen in ${readyTimeoutMs} ms`)),
          readyTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await kill();
    throw new Error(`${(error as Error).message}\nserver log:\n${log}`);
  } finally {
    clearTimeout(timer);
  }
  return { address, pid: child.pid, stderr: () => log, kill };
}
