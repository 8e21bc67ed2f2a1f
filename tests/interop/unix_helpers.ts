/**
 * Helpers of the raw Unix socket interop suites (`unix_*_test.ts`): unique socket paths, the
 * Python reference in `.venv` run as a one-shot script with a bounded wait, and the reference's
 * Unix plugin server runtime started as a child process that is awaited until it prints `READY`
 * and always stopped (SIGTERM, then SIGKILL) by the caller's `finally`.
 *
 * @module
 */

/** The repository root. */
export const ROOT: URL = new URL("../../", import.meta.url);
/** The reference's interpreter (created by `tests/interop/setup_venv.sh`). */
export const PYTHON: string = new URL(".venv/bin/python", ROOT).pathname;
/** This directory, as a path. */
export const INTEROP_DIR: string = new URL("tests/interop/", ROOT).pathname;

const decoder = new TextDecoder();

/**
 * Fails with a message naming `setup_venv.sh` when the reference venv is missing.
 *
 * @example
 * ```ts
 * import { requireVenv } from "./unix_helpers.ts";
 * await requireVenv();
 * ```
 */
export async function requireVenv(): Promise<void> {
  try {
    await Deno.stat(PYTHON);
  } catch {
    throw new Error(
      `${PYTHON} not found: the interop suite needs the Python reference. ` +
        "Run `bash tests/interop/setup_venv.sh` first (creates .venv with cpex[grpc]==0.1.4).",
    );
  }
}

/**
 * A fresh socket path under /tmp, short enough for `sun_path` (108 bytes).
 *
 * @example
 * ```ts
 * import { uniqueSocketPath } from "./unix_helpers.ts";
 * console.log(uniqueSocketPath("a").startsWith("/tmp/cpex-it-a-")); // true
 * ```
 */
export function uniqueSocketPath(tag: string): string {
  return `/tmp/cpex-it-${tag}-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/**
 * Runs `.venv/bin/python <args>` with a deadline (the child is killed when it passes) and
 * returns its stdout parsed as JSON; any non-zero exit fails with the child's stderr.
 *
 * @example
 * ```ts
 * import { runPythonJson } from "./unix_helpers.ts";
 * const out = await runPythonJson(["-c", "print('{}')"]);
 * ```
 */
export async function runPythonJson(
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Record<string, unknown>> {
  await requireVenv();
  const timeoutMs = options.timeoutMs ?? 45_000;
  const out = await new Deno.Command(PYTHON, {
    args,
    cwd: ROOT.pathname,
    env: { PYTHONDONTWRITEBYTECODE: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const stdout = decoder.decode(out.stdout);
  const stderr = decoder.decode(out.stderr);
  if (!out.success) {
    throw new Error(
      `python ${args.join(" ")} exited ${out.code}${out.signal ? ` (${out.signal})` : ""}` +
        ` (deadline ${timeoutMs} ms)\nstdout: ${stdout}\nstderr: ${stderr}`,
    );
  }
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`python ${args.join(" ")} printed no JSON:\n${stdout}\nstderr: ${stderr}`);
  }
}

/**
 * A running reference Unix plugin server (`python -m cpex.framework.external.unix.server.runtime`).
 *
 * @example
 * ```ts
 * import type { PythonUnixServer } from "./unix_helpers.ts";
 * async function done(s: PythonUnixServer) {
 *   await s.stop();
 * }
 * ```
 */
export interface PythonUnixServer {
  /** The socket it listens on. */
  readonly socketPath: string;
  /** Everything the child wrote to stderr so far (its log). */
  stderr(): string;
  /** Stops the child (SIGTERM, SIGKILL after 5 s) and waits for it and its pipes. */
  stop(): Promise<void>;
}

/**
 * Starts the reference's Unix runtime on `socketPath` with `configPath` and waits (at most
 * `readyTimeoutMs`) for `READY` on its stdout. The caller must `stop()` it in a `finally`.
 *
 * @example
 * ```ts
 * import { startPythonUnixServer } from "./unix_helpers.ts";
 * const server = await startPythonUnixServer("/tmp/plugins.yaml", "/tmp/x.sock");
 * try {
 *   // use server.socketPath
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export async function startPythonUnixServer(
  configPath: string,
  socketPath: string,
  options: { readyTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<PythonUnixServer> {
  await requireVenv();
  const child = new Deno.Command(PYTHON, {
    args: ["-m", "cpex.framework.external.unix.server.runtime"],
    cwd: INTEROP_DIR, // the test plugins are imported as `plugins.<module>.<Class>`
    env: {
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHONPATH: INTEROP_DIR,
      PLUGINS_CONFIG_PATH: configPath,
      PLUGINS_UNIX_SOCKET_PATH: socketPath,
      PLUGINS_LOG_LEVEL: "INFO",
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let log = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  const stdoutReader = child.stdout.getReader();
  let stopped = false;
  let stdoutDone: Promise<void> = Promise.resolve();

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
      await child.status;
    } finally {
      clearTimeout(killer);
    }
    await Promise.all([stderrDone, stdoutDone]);
  };

  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let seen = "";
    const ready = (async () => {
      while (!seen.includes("READY")) {
        const { value, done } = await stdoutReader.read();
        if (done) throw new Error("the reference Unix server exited before printing READY");
        seen += decoder.decode(value, { stream: true });
      }
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no READY from the reference Unix server in ${readyTimeoutMs} ms`)),
        readyTimeoutMs,
      );
    });
    await Promise.race([ready, deadline]).catch(async (error) => {
      await stop().catch(() => {});
      await ready.catch(() => {});
      throw new Error(`${error.message}\nserver log:\n${log}`);
    });
  } finally {
    clearTimeout(timer);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  stdoutDone = (async () => {
    try {
      while (!(await stdoutReader.read()).done) { /* drain */ }
    } finally {
      stdoutReader.releaseLock();
    }
  })();
  return { socketPath, stderr: () => log, stop };
}
