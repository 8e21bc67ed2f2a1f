/**
 * Child processes of the demo: start a `deno run` with its own permission flags, wait (bounded)
 * for the `READY` line a plugin server prints, and stop it with a signal, then SIGKILL when it
 * does not exit in time.
 *
 * Children are started `detached` (a session of their own), so a Ctrl-C in the terminal reaches
 * only the demo, which then stops them in a safe order: the gateway first, the servers last.
 * Each child also gets a pipe on its stdin and `--exit-with-parent` (`parent_watch.ts`): if
 * the demo dies without cleaning up (SIGKILL), the pipe closes and the child stops itself, so
 * no server outlives the demo (issue 12).
 *
 * @module
 */

import { EXIT_WITH_PARENT } from "./parent_watch.ts";

/**
 * What to run: a script under `deno run` with the given flags and arguments.
 *
 * @example
 * ```ts
 * import type { ProcessSpec } from "./processes.ts";
 * const spec: ProcessSpec = {
 *   label: "mcp-http",
 *   script: "examples/mcp_server.ts",
 *   flags: ["--allow-net=127.0.0.1:8000"],
 *   args: ["http", "8000"],
 * };
 * ```
 */
export interface ProcessSpec {
  /** Short name used in messages. */
  label: string;
  /** The script, relative to the working directory. */
  script: string;
  /** Permission flags (always run with `--no-prompt` as well). */
  flags: string[];
  /** Arguments after the script. */
  args: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** How a stopped process ended. */
export interface StopOutcome {
  /** The exit status. */
  status: Deno.CommandStatus;
  /** True when it had to be killed with SIGKILL. */
  killed: boolean;
}

const MAX_STDERR = 8_192;

/**
 * A running `deno run` child. Its stdout is either inherited (the gateway prints the report) or
 * read for `READY` and then drained (the servers); its stderr is inherited or kept (the last
 * 8 KiB) for error messages.
 *
 * @example
 * ```ts
 * import { DemoProcess } from "./processes.ts";
 * const server = DemoProcess.start(
 *   { label: "mcp-http", script: "examples/mcp_server.ts", flags: ["--allow-net=127.0.0.1:8000"], args: ["http"] },
 *   { cwd: "." },
 * );
 * await server.waitForReady(10_000);
 * await server.stop("SIGTERM", 3_000);
 * ```
 */
export class DemoProcess {
  /** The spec it was started from. */
  readonly spec: ProcessSpec;
  /** The Deno child process. */
  readonly child: Deno.ChildProcess;
  /** The full `deno run ...` command line, for display. */
  readonly commandLine: string;
  #status: Deno.CommandStatus | null = null;
  readonly #statusPromise: Promise<Deno.CommandStatus>;
  #stderr = "";
  #stderrDone: Promise<void> = Promise.resolve();
  #lines: AsyncIterator<string> | null = null;
  #draining: Promise<void> | null = null;

  private constructor(spec: ProcessSpec, child: Deno.ChildProcess, commandLine: string) {
    this.spec = spec;
    this.child = child;
    this.commandLine = commandLine;
    this.#statusPromise = child.status.then((status) => this.#status = status);
  }

  /**
   * Starts `deno run --quiet --no-prompt <flags> <script> <args> --exit-with-parent` with the
   * running Deno executable (so it works the same under `npx deno`), in `cwd`, detached, with a
   * stdin pipe the demo holds open and never writes to.
   */
  static start(
    spec: ProcessSpec,
    options: { cwd: string | URL; inheritOutput?: boolean },
  ): DemoProcess {
    const args = [
      "run",
      "--quiet",
      "--no-prompt",
      ...spec.flags,
      spec.script,
      ...spec.args,
      EXIT_WITH_PARENT,
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: options.cwd,
      env: spec.env,
      stdin: "piped",
      stdout: options.inheritOutput ? "inherit" : "piped",
      stderr: options.inheritOutput ? "inherit" : "piped",
      detached: true,
    }).spawn();
    const process = new DemoProcess(spec, child, `deno ${args.join(" ")}`);
    if (!options.inheritOutput) {
      process.#stderrDone = process.#collectStderr();
      process.#lines = lines(child.stdout);
    }
    return process;
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** The exit status, or null while it runs. */
  get status(): Deno.CommandStatus | null {
    return this.#status;
  }

  /** Resolves with the exit status. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#statusPromise;
  }

  /** The last 8 KiB of its stderr (piped children only). */
  get stderr(): string {
    return this.#stderr;
  }

  /**
   * Waits until the child prints a line `READY`, then keeps draining its stdout. Rejects when
   * it exits first, prints nothing in time, or `signal` aborts.
   */
  async waitForReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const lineReader = this.#lines;
    if (!lineReader) throw new Error(`${this.spec.label}: stdout is not piped`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const giveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(this.#failure(`printed no READY within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      onAbort = () => reject(signal?.reason ?? new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) onAbort();
    });
    try {
      const ready = (async () => {
        while (true) {
          const next = await lineReader.next();
          if (next.done) {
            const status = await this.exited;
            throw this.#failure(`exited with code ${status.code} before READY`);
          }
          if (next.value.trim().split(" ")[0] === "READY") return; // READY transport address
        }
      })();
      ready.catch(() => {}); // when the timeout wins, the reader ends once the child is stopped
      await Promise.race([ready, giveUp]);
      this.#drain();
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Sends `signal` unless it already exited, waits up to `graceMs`, then SIGKILLs it. Always
   * waits for the exit and for its output streams to close.
   */
  async stop(signal: Deno.Signal, graceMs: number): Promise<StopOutcome> {
    let killed = false;
    if (this.#status === null) {
      try {
        this.child.kill(signal);
      } catch { /* exited meanwhile */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) =>
        timer = setTimeout(() => resolve("late"), graceMs)
      );
      const outcome = await Promise.race([this.exited, late]);
      clearTimeout(timer);
      if (outcome === "late") {
        killed = true;
        try {
          this.child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }
    }
    const status = await this.exited;
    await Promise.allSettled([this.#drain(), this.#stderrDone, this.child.stdin.close()]);
    return { status, killed };
  }

  /** Reads (and discards) the rest of stdout, once. */
  #drain(): Promise<void> {
    const reader = this.#lines;
    return this.#draining ??= reader
      ? (async () => {
        while (!(await reader.next()).done) { /* discard */ }
      })().catch(() => {}) // a broken pipe only ends the draining
      : Promise.resolve();
  }

  #failure(what: string): Error {
    const detail = this.#stderr.trim();
    return new Error(
      `${this.spec.label} server (pid ${this.pid}) ${what}` +
        (detail ? `; its stderr:\n${detail}` : "") + `\n  command: ${this.commandLine}`,
    );
  }

  async #collectStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.child.stderr) {
      this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-MAX_STDERR);
    }
  }
}

/** The lines of a byte stream. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered) yield buffered;
}

/**
 * Picks `count` distinct free TCP ports on 127.0.0.1 (needs `--allow-net=127.0.0.1`). The
 * ports are released before returning; a server that binds one a moment later gets it unless
 * another process raced for it, which the READY wait would report.
 *
 * @example
 * ```ts
 * import { freePorts } from "./processes.ts";
 * const [grpcPort, mcpPort] = freePorts(2);
 * ```
 */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/**
 * Runs `deno install --entrypoint` for the given scripts so their npm dependencies are in
 * `node_modules` before several processes start at once (a no-op taking ~0.1 s when they
 * already are; on a fresh clone it downloads them). Resolves with how long it took in ms.
 *
 * @example
 * ```ts
 * import { installDependencies } from "./processes.ts";
 * await installDependencies(".", ["examples/grpc_server.ts"]);
 * ```
 */
export async function installDependencies(
  cwd: string | URL,
  scripts: string[],
  signal?: AbortSignal,
): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["install", "--quiet", "--entrypoint", ...scripts],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal,
  }).output();
  signal?.throwIfAborted();
  if (code !== 0) {
    throw new Error(
      `deno install --entrypoint ${scripts.join(" ")} failed (exit ${code}):\n` +
        new TextDecoder().decode(stderr).trim(),
    );
  }
  return performance.now() - started;
}
