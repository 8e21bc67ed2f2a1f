/**
 * Helpers of the MCP interop suites (`mcp_*_test.ts`): free TCP ports, the `mcp:` blocks that
 * reach our servers from the Python reference gateway, and the reference's MCP runtime
 * (`python -m cpex.framework.external.mcp.server.runtime`) started over Streamable HTTP as a
 * child process, awaited (bounded) until `GET /health` answers, and always stopped (SIGTERM,
 * then SIGKILL) by the caller's `finally`.
 *
 * @module
 */
import { INTEROP_DIR, PYTHON, requireVenv, ROOT } from "./unix_helpers.ts";

export { INTEROP_DIR, PYTHON, requireVenv, ROOT };

const decoder = new TextDecoder();

/** The reference MCP runtime module. */
export const PY_MCP_RUNTIME = "cpex.framework.external.mcp.server.runtime";
/** The Python server config of direction B. */
export const PY_MCP_CONFIG = `${INTEROP_DIR}plugins/mcp_interop.yaml`;
/** Our STDIO plugin server entry hosting the interop plugins (direction A). */
export const DENO_STDIO_CHILD = new URL("tests/helpers/mcp_interop_child.ts", ROOT).pathname;

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
 *
 * @example
 * ```ts
 * import { freePort } from "./mcp_helpers.ts";
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
 * The `mcp:` block of a Python gateway entry that starts our STDIO server as a child
 * (`deno run --no-prompt`, no permission flags: it needs none).
 *
 * @example
 * ```ts
 * import { denoStdioBlock } from "./mcp_helpers.ts";
 * console.log(denoStdioBlock().proto); // "STDIO"
 * ```
 */
export function denoStdioBlock(): Record<string, unknown> {
  return {
    proto: "STDIO",
    cmd: [Deno.execPath(), "run", "--no-prompt", DENO_STDIO_CHILD],
    cwd: ROOT.pathname,
  };
}

/**
 * A running reference MCP runtime on Streamable HTTP.
 *
 * @example
 * ```ts
 * import type { PythonMcpServer } from "./mcp_helpers.ts";
 * const url = (s: PythonMcpServer) => s.url;
 * ```
 */
export interface PythonMcpServer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** `http://localhost:PORT/mcp` (a hostname: the reference's SSRF rule rejects 127.0.0.1). */
  readonly url: string;
  /** Everything the child wrote so far (stdout and stderr: its log). */
  log(): string;
  /** Stops the child (SIGTERM, SIGKILL after 5 s) and waits for it and its pipes. */
  stop(): Promise<void>;
}

/**
 * Starts the reference's MCP runtime with `PLUGINS_TRANSPORT=http` on a free port of
 * 127.0.0.1 and waits (at most `readyTimeoutMs`) until `GET /health` answers 200. The caller
 * must `stop()` it in a `finally`.
 *
 * @example
 * ```ts
 * import { PY_MCP_CONFIG, startPythonMcpHttpServer } from "./mcp_helpers.ts";
 * const server = await startPythonMcpHttpServer(PY_MCP_CONFIG);
 * try {
 *   console.log(server.url);
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export async function startPythonMcpHttpServer(
  configPath: string,
  options: { port?: number; readyTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<PythonMcpServer> {
  await requireVenv();
  const port = options.port ?? freePort();
  const child = new Deno.Command(PYTHON, {
    args: ["-m", PY_MCP_RUNTIME],
    cwd: INTEROP_DIR, // the test plugins are imported as `plugins.<module>.<Class>`
    env: {
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHONPATH: INTEROP_DIR,
      PLUGINS_TRANSPORT: "http",
      PLUGINS_SERVER_HOST: "127.0.0.1",
      PLUGINS_SERVER_PORT: String(port),
      PLUGINS_CONFIG_PATH: configPath,
      PLUGINS_LOG_LEVEL: "WARNING",
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) log += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, 5_000);
    try {
      await status;
    } finally {
      clearTimeout(killer);
    }
    await drained;
  };

  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + readyTimeoutMs;
  const client = Deno.createHttpClient({});
  try {
    while (true) {
      if (exited) throw new Error("the reference MCP server exited before answering /health");
      if (Date.now() > deadline) {
        throw new Error(`the reference MCP server did not answer /health in ${readyTimeoutMs} ms`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, {
          client,
          signal: AbortSignal.timeout(1_000),
        });
        await res.body?.cancel();
        if (res.status === 200) break;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop().catch(() => {});
    throw new Error(`${(error as Error).message}\nserver log:\n${log}`);
  } finally {
    client.close();
  }
  return { port, url: `http://localhost:${port}/mcp`, log: () => log, stop };
}
