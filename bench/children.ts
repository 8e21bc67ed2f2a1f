/**
 * Child processes of the transport benchmarks (`unix_ratio.ts`, `grpc_ratio.ts`,
 * `mcp_ratio.ts`), both sides:
 *
 * - Parent side: a {@linkcode ChildSet} starts the server children (Deno scripts in `bench/`
 *   and the Python reference runtime from `.venv`), waits until each is ready (a line on its
 *   stdout or stderr, or `GET /health` answering), keeps draining their output (shown when a
 *   child fails to start), and stops them all (stdin closed, SIGTERM or SIGKILL, SIGKILL after
 *   3 s) and removes their socket files and directory. {@linkcode runGuarded} runs a benchmark
 *   so that this cleanup happens on success, on errors and on SIGINT/SIGTERM (exit code 130).
 * - Child side, with no framework code so the raw baselines can use it too:
 *   {@linkcode printReady} and {@linkcode stdinClosed} (the parent holds a child's stdin open,
 *   so its end means the parent is gone and the child should stop).
 *
 * @module
 */

/**
 * This directory (with a trailing slash): the scripts and the Python plugin configs live here.
 *
 * ```ts
 * import { BENCH_DIR } from "./children.ts";
 * console.log(`${BENCH_DIR}unix_server_child.ts`);
 * ```
 */
export const BENCH_DIR: string = new URL(".", import.meta.url).pathname;

/** The Python of the reference's venv (`bash tests/interop/setup_venv.sh` creates it). */
const PYTHON: string = `${new URL("..", import.meta.url).pathname}.venv/bin/python`;

/**
 * The note a report prints when the Python reference rows were skipped.
 *
 * ```ts
 * import { PYTHON_SKIPPED } from "./children.ts";
 * console.log(PYTHON_SKIPPED);
 * ```
 */
export const PYTHON_SKIPPED: string = `python reference skipped: ${PYTHON} not found ` +
  "(bash tests/interop/setup_venv.sh creates it)";

/** How long a child may take to become ready. */
const READY_TIMEOUT_MS = 20_000;

/**
 * When a child counts as ready: once its stdout or stderr contains a text, or once
 * `GET http://127.0.0.1:PORT/health` answers 2xx.
 *
 * ```ts
 * import type { Readiness } from "./children.ts";
 * const ready: Readiness = { stream: "stdout", text: "READY" };
 * ```
 */
export type Readiness =
  | { stream: "stdout" | "stderr"; text: string }
  | { healthPort: number };

/**
 * `READY` on stdout: how the Deno children signal readiness.
 *
 * ```ts
 * import { READY } from "./children.ts";
 * console.log(READY);
 * ```
 */
export const READY: Readiness = { stream: "stdout", text: "READY" };

/**
 * A started child process.
 *
 * ```ts ignore
 * import { ChildSet } from "./children.ts";
 * const child = await new ChildSet().deno("server", "unix_server_child.ts", [], []);
 * console.log(child.process.pid);
 * ```
 */
export interface Child {
  /** Shown in errors. */
  name: string;
  /** The process (stdin piped and held open, stdout and stderr drained). */
  process: Deno.ChildProcess;
  /** Stop with SIGKILL instead of SIGTERM (e.g. the Python gRPC runtime: no GOAWAY). */
  hard: boolean;
  /** What the child wrote to stdout and stderr so far. */
  log(): string;
  /** Called with everything the child wrote to stdout so far, after each chunk (a driver). */
  onStdout?: (stdout: string) => void;
  /** Settles when both output streams have ended. */
  done: Promise<void>;
}

/**
 * Options of a {@linkcode ChildSet}.
 *
 * ```ts
 * import type { ChildSetOptions } from "./children.ts";
 * const options: ChildSetOptions = { dir: "/tmp/b", files: ["/tmp/b/s.sock"] };
 * ```
 */
export interface ChildSetOptions {
  /** A directory the children's sockets live in: created first, removed at the end if empty. */
  dir?: string;
  /** Files (the sockets) removed before the children start and after they stop. */
  files?: string[];
}

/**
 * Starts child processes and stops them all once, removing their files.
 *
 * ```ts ignore
 * import { ChildSet } from "./children.ts";
 * const children = new ChildSet({ dir: "/tmp/b", files: ["/tmp/b/s.sock"] });
 * await children.prepare();
 * const server = await children.deno("server", "unix_server_child.ts", flags, ["/tmp/b/s.sock"]);
 * await children.stopAll();
 * ```
 */
export class ChildSet {
  readonly #children: Child[] = [];
  readonly #options: ChildSetOptions;
  #stopped: Promise<void> | null = null;

  /** A set that creates `dir` and removes `files` (see {@linkcode ChildSetOptions}). */
  constructor(options: ChildSetOptions = {}) {
    this.#options = options;
  }

  /** Creates the directory and removes stale files. */
  async prepare(): Promise<void> {
    if (this.#options.dir) await Deno.mkdir(this.#options.dir, { recursive: true });
    for (const path of this.#options.files ?? []) await Deno.remove(path).catch(() => {});
  }

  /**
   * Spawns `command` and waits until it is `ready`; on failure (exit, timeout) stops it and
   * throws with its output. The child is stopped by {@linkcode ChildSet.stopAll} in any case.
   */
  async spawn(
    name: string,
    command: string,
    options: Deno.CommandOptions,
    ready: Readiness = READY,
    hard = false,
  ): Promise<Child> {
    const process = new Deno.Command(command, {
      ...options,
      stdin: "piped", // our children stop when it closes (the Python ones ignore it)
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logs = { stdout: "", stderr: "" };
    let markReady!: () => void;
    const isReady = new Promise<void>((resolve) => markReady = resolve);
    const drain = async (stream: "stdout" | "stderr"): Promise<void> => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of process[stream]) {
          logs[stream] += decoder.decode(chunk, { stream: true });
          if (stream === "stdout") child.onStdout?.(logs.stdout);
          if ("text" in ready && stream === ready.stream && logs[stream].includes(ready.text)) {
            markReady();
          }
        }
      } catch { /* cancelled */ }
    };
    const child: Child = {
      name,
      process,
      hard,
      log: () => `--- stdout:\n${logs.stdout}\n--- stderr:\n${logs.stderr}`,
      done: Promise.all([drain("stdout"), drain("stderr")]).then(() => {}),
    };
    this.#children.push(child); // synchronously: stopAll() sees every spawned process
    const exited = process.status.then((s) => {
      throw new Error(`${name} exited (code ${s.code}) before it was ready`);
    });
    exited.catch(() => {});
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        "healthPort" in ready ? healthy(ready.healthPort, abort.signal) : isReady,
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${name}: not ready within ${READY_TIMEOUT_MS} ms`)),
            READY_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (error) {
      abort.abort();
      await stopChild(child);
      throw new Error(`${(error as Error).message}\n${child.log()}`);
    } finally {
      abort.abort();
      clearTimeout(timer);
    }
    return child;
  }

  /**
   * Runs `bench/SCRIPT` with `deno run FLAGS SCRIPT ARGS` and waits for its `READY`.
   */
  deno(name: string, script: string, flags: string[], args: string[]): Promise<Child> {
    return this.spawn(name, Deno.execPath(), {
      args: ["run", ...flags, `${BENCH_DIR}${script}`, ...args],
    });
  }

  /**
   * Runs `python -m MODULE` of the reference (in `bench/`, with `bench/` on `PYTHONPATH` and
   * `env` added); null when `.venv` is missing (report {@linkcode PYTHON_SKIPPED} then).
   */
  python(
    name: string,
    module: string,
    env: Record<string, string>,
    ready: Readiness,
    hard = false,
  ): Promise<Child | null> {
    return this.pythonScript(name, ["-m", module], env, ready, hard);
  }

  /**
   * Runs `python ARGS` of the reference like {@linkcode ChildSet.python} (e.g. a script in
   * `bench/`); null when `.venv` is missing.
   */
  pythonScript(
    name: string,
    args: string[],
    env: Record<string, string>,
    ready: Readiness,
    hard = false,
  ): Promise<Child | null> {
    return this.spawn(
      name,
      PYTHON,
      {
        args,
        cwd: BENCH_DIR,
        env: { PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: BENCH_DIR, ...env },
      },
      ready,
      hard,
    ).catch((error: Error) => {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    });
  }

  /** Stops every child (at most once), then removes the files and the directory if empty. */
  stopAll(): Promise<void> {
    return this.#stopped ??= (async () => {
      await Promise.all(this.#children.splice(0).map((c) => stopChild(c).catch(() => {})));
      for (const path of this.#options.files ?? []) await Deno.remove(path).catch(() => {});
      // Removes the directory only when empty.
      if (this.#options.dir) await Deno.remove(this.#options.dir).catch(() => {});
    })();
  }
}

/** Resolves once `GET /health` on the port answers 2xx; stops trying when `signal` aborts. */
async function healthy(port: number, signal: AbortSignal): Promise<void> {
  const client = Deno.createHttpClient({});
  try {
    while (!signal.aborted) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, {
          client,
          signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]),
        });
        await res.body?.cancel();
        if (res.ok) return;
      } catch { /* not listening yet */ }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

/** Closes stdin, sends SIGTERM (SIGKILL when `hard`), SIGKILL after 3 s; waits for the exit. */
async function stopChild(child: Child): Promise<void> {
  try {
    await child.process.stdin.close();
  } catch { /* already closed */ }
  try {
    child.process.kill(child.hard ? "SIGKILL" : "SIGTERM");
  } catch { /* already exited */ }
  const killer = setTimeout(() => {
    try {
      child.process.kill("SIGKILL");
    } catch { /* already exited */ }
  }, 3_000);
  try {
    await child.process.status;
  } finally {
    clearTimeout(killer);
  }
  await child.done.catch(() => {});
}

/**
 * A free TCP port on 127.0.0.1 (free now; the child binds it soon after).
 *
 * ```ts ignore
 * import { freePort } from "./children.ts";
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Options of {@linkcode runGuarded}.
 *
 * ```ts
 * import type { GuardOptions } from "./children.ts";
 * const options: GuardOptions = { clientsFirst: true };
 * ```
 */
export interface GuardOptions {
  /**
   * Close the clients before stopping the children also on SIGINT/SIGTERM, and let them settle
   * for 100 ms before any server goes away (a grpc-js client under Deno can crash natively when
   * its server shuts down gracefully: denoland/deno#36788).
   */
  clientsFirst?: boolean;
}

/**
 * Runs `body` after `children.prepare()`; whatever happens, then closes the clients in
 * `clients` (one by one, errors ignored) and stops the children. On SIGINT/SIGTERM it stops the
 * children (closing the clients first with `clientsFirst`), hides the errors the interrupted
 * calls throw, and exits with code 130.
 *
 * ```ts ignore
 * import { ChildSet, runGuarded } from "./children.ts";
 * const children = new ChildSet();
 * const targets: { close(): Promise<void> }[] = [];
 * await runGuarded(children, targets, async () => {
 *   // start children, push targets, measure, report
 * });
 * ```
 */
export async function runGuarded(
  children: ChildSet,
  clients: { close(): Promise<void> }[],
  body: () => Promise<void>,
  options: GuardOptions = {},
): Promise<void> {
  let interrupted = false;
  const closeClients = async (): Promise<void> => {
    for (const client of clients.splice(0)) await client.close().catch(() => {});
    // Let the HTTP/2 sessions finish closing before any server goes away.
    if (options.clientsFirst) await new Promise((resolve) => setTimeout(resolve, 100));
  };
  const onSignal = (): void => {
    interrupted = true;
    if (options.clientsFirst) {
      console.error("interrupted: closing clients, stopping children");
      void closeClients().then(() => children.stopAll()).finally(() => Deno.exit(130));
    } else {
      console.error("interrupted: stopping children");
      void children.stopAll().finally(() => Deno.exit(130));
    }
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await children.prepare();
    await body();
  } catch (error) {
    // Calls in flight fail once an interrupt stops the servers: not worth a stack trace.
    if (!interrupted) throw error;
  } finally {
    await closeClients();
    await children.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (interrupted) Deno.exit(130);
  }
}

// ---------------------------------------------------------------------------------------------
// Child side

/**
 * Writes `READY` and a newline to stdout: the line the parent waits for.
 *
 * ```ts ignore
 * import { printReady } from "./children.ts";
 * await printReady();
 * ```
 */
export async function printReady(): Promise<void> {
  await Deno.stdout.write(new TextEncoder().encode("READY\n"));
}

/**
 * Resolves when stdin ends (or at once when there is none): the parent holds a child's stdin
 * open, so its end means the parent is gone.
 *
 * ```ts ignore
 * import { stdinClosed } from "./children.ts";
 * void stdinClosed().then(() => handle.close());
 * ```
 */
export async function stdinClosed(): Promise<void> {
  try {
    for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  } catch {
    // stdin unavailable: rely on signals.
  }
}
