/**
 * Runs the CLI (`cli.ts`) as a subprocess for the CLI tests: to completion ({@linkcode runCli})
 * or as a long-running server whose output can be awaited ({@linkcode spawnCli}). Every run
 * passes `--no-prompt` and exactly the permission flags the test gives.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root (absolute path, with a trailing slash). */
export const REPO: string = fileURLToPath(new URL("../../", import.meta.url));
/** The CLI entry point. */
export const CLI: string = `${REPO}cli.ts`;
/** Every wait in the CLI tests is bounded by this. */
export const WAIT_MS = 30_000;

/**
 * The outcome of a finished CLI run.
 *
 * @example
 * ```ts
 * const r = await runCli(["--version"]);
 * console.log(r.code, r.stdout);
 * ```
 */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/**
 * How to run the CLI.
 *
 * @example
 * ```ts
 * const o: CliOptions = { permissions: ["--allow-read=x.yaml"], cwd: "/tmp" };
 * ```
 */
export interface CliOptions {
  /** Deno permission flags (default none). */
  permissions?: string[];
  /** Working directory (default the repository). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Text to send on stdin (then stdin is closed); default: stdin is closed at once. */
  stdin?: string;
}

function command(args: string[], options: CliOptions, stdin: "piped" | "null"): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...(options.permissions ?? []), CLI, ...args],
    cwd: options.cwd ?? REPO,
    env: { NO_COLOR: "1", ...options.env },
    stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Runs the CLI to completion.
 *
 * @example
 * ```ts
 * const r = await runCli(["check", "x.yaml"], { permissions: ["--allow-read=x.yaml"] });
 * ```
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = command(args, options, options.stdin === undefined ? "null" : "piped").spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/**
 * A CLI process that keeps running (a server): its output so far, waits on it, signals.
 *
 * @example
 * ```ts
 * const p = spawnCli(["serve", "-t", "stdio"]);
 * await p.kill("SIGTERM");
 * ```
 */
export interface RunningCli {
  /** Stdout so far. */
  readonly stdout: string;
  /** Stderr so far. */
  readonly stderr: string;
  /** Writes to the process's stdin. */
  write(text: string): Promise<void>;
  /** Closes the process's stdin. */
  closeStdin(): Promise<void>;
  /** Resolves once `stream` contains `text` (or matches it); fails after WAIT_MS or on exit. */
  waitFor(stream: "stdout" | "stderr", text: string | RegExp): Promise<string>;
  /** Sends `signal` and resolves with the result once the process has exited. */
  kill(signal: Deno.Signal): Promise<CliResult>;
  /** Sends `signal` without waiting for anything (SIGHUP: reload). */
  signal(signal: Deno.Signal): void;
  /** Resolves with the result once the process has exited. */
  finished(): Promise<CliResult>;
}

async function drain(stream: ReadableStream<Uint8Array>, append: (t: string) => void) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }));
}

/**
 * Starts the CLI and returns at once; stdin stays open until {@linkcode RunningCli.closeStdin}
 * (or exit).
 *
 * @example
 * ```ts
 * const p = spawnCli(["serve", "-c", "p.yaml", "-t", "unix", "--path", "/tmp/x.sock"]);
 * await p.waitFor("stdout", "READY");
 * const result = await p.kill("SIGTERM");
 * ```
 */
export function spawnCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = command(args, options, "piped").spawn();
  let stdout = "";
  let stderr = "";
  const writer = child.stdin.getWriter();
  let stdinOpen = true;
  const reading = Promise.all([
    drain(child.stdout, (t) => stdout += t),
    drain(child.stderr, (t) => stderr += t),
  ]);
  let exited = false;
  const done = (async (): Promise<CliResult> => {
    const status = await child.status;
    await reading;
    exited = true;
    if (stdinOpen) {
      stdinOpen = false;
      await writer.close().catch(() => {});
    }
    return { code: status.code, stdout, stderr };
  })();
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async write(text: string) {
      await writer.write(new TextEncoder().encode(text));
    },
    async closeStdin() {
      if (!stdinOpen) return;
      stdinOpen = false;
      await writer.close().catch(() => {});
    },
    async waitFor(stream, text) {
      const deadline = Date.now() + WAIT_MS;
      const found = () => {
        const s = stream === "stdout" ? stdout : stderr;
        return typeof text === "string" ? s.includes(text) : text.test(s);
      };
      while (!found()) {
        if (exited || Date.now() > deadline) {
          throw new Error(
            `${exited ? "process exited" : "timed out"} before ${stream} showed ${text}\n` +
              `stdout: ${stdout}\nstderr: ${stderr}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return stream === "stdout" ? stdout : stderr;
    },
    async kill(signal) {
      if (!exited) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      return await done;
    },
    signal(signal) {
      if (!exited) child.kill(signal);
    },
    finished: () => done,
  };
}

/**
 * A fresh empty directory under /tmp (removed by the caller).
 *
 * @example
 * ```ts
 * const dir = await tempDir("init");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function tempDir(label: string): Promise<string> {
  return await Deno.makeTempDir({ dir: "/tmp", prefix: `cpex-cli-${label}-` });
}
