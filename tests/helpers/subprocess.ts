/**
 * Running Deno subprocesses in tests: bounded waits, a `READY` line, collected output, and an
 * environment without the settings that would steer the child (PLUGINS_*, UNIX_SOCKET_PATH,
 * GRPC_*, proxies).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);
/** Default bound of {@linkcode within}. */
export const WAIT_MS = 10_000;
/** Bound on a subprocess's exit (start-up includes a possible type check). */
const SUBPROCESS_WAIT_MS = 60_000;

/**
 * Resolves like `promise`, or rejects after `ms` naming `what`; the timer is always cleared.
 *
 * @example
 * ```ts
 * await within(Promise.resolve(1), "one");
 * ```
 */
export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** This environment without PLUGINS_* / UNIX_SOCKET_PATH / GRPC_* / proxy settings, no colours. */
function childEnv(): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) =>
      !k.startsWith("PLUGINS_") && k !== "UNIX_SOCKET_PATH" && !k.startsWith("GRPC_") &&
      !/_proxy$/i.test(k)
    ),
  );
  return { ...env, NO_COLOR: "1" };
}

/**
 * A running Deno subprocess (cwd: the repository root) with its output collected; `ready`
 * resolves on a `READY` line and rejects if stdout ends first.
 *
 * @example
 * ```ts
 * const child = new Subprocess(["eval", "console.log('READY')"]);
 * await child.ready;
 * await child.finish();
 * ```
 */
export class Subprocess {
  readonly child: Deno.ChildProcess;
  /** Resolves once `READY` appeared on stdout. */
  readonly ready: Promise<void>;
  /** All of stdout / stderr, once the process has closed them. */
  readonly stdout: Promise<string>;
  readonly stderr: Promise<string>;

  /**
   * Runs `deno ARGS`; with `wrapper` (e.g. `["prlimit", "--nofile=64"]`), runs
   * `WRAPPER... deno ARGS` instead.
   */
  constructor(args: string[], wrapper: string[] = []) {
    const [command, ...prefix] = wrapper.length ? wrapper : [Deno.execPath()];
    const child = new Deno.Command(command, {
      args: wrapper.length ? [...prefix, Deno.execPath(), ...args] : args,
      cwd: ROOT.pathname,
      clearEnv: true,
      env: childEnv(),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.stdout = (async () => {
      let text = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        if (/^READY( |$)/m.test(text)) markReady(); // `READY transport address` (issue 12)
      }
      failReady(new Error(`ended without printing READY; stdout: ${text}`));
      return text;
    })();
    this.stderr = new Response(child.stderr).text();
    // Handled by whoever awaits it; avoid an unhandled rejection when nobody does.
    this.ready.catch(() => {});
  }

  /** Waits for exit and all output (bounded); kills the process if it does not end in time. */
  async finish(): Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }> {
    try {
      const [status, stdout, stderr] = await within(
        Promise.all([this.child.status, this.stdout, this.stderr]),
        "process exit",
        SUBPROCESS_WAIT_MS,
      );
      return { status, stdout, stderr };
    } catch (error) {
      this.kill("SIGKILL");
      await Promise.all([this.child.status, this.stdout, this.stderr]);
      throw error;
    }
  }

  /** Sends a signal; ignored when the process already exited. */
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }
}
