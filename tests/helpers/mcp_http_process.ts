/**
 * The MCP HTTP test server (`mcp_http_child.ts`) as a child process the resource tests can
 * measure: its heap after GC, its open descriptors, whether it is still alive; optionally
 * started under a low descriptor limit.
 *
 * @module
 */
import { within } from "./subprocess.ts";

const CHILD = new URL("./mcp_http_child.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** How the child is started. */
export interface ChildOptions {
  /** V8 flags, e.g. `["--max-old-space-size=64"]` (`--expose-gc` is always added). */
  v8Flags?: string[];
  /** Run under `ulimit -n` of this many descriptors. */
  nofile?: number;
}

/**
 * A running MCP HTTP server child.
 *
 * @example
 * ```ts
 * const server = await McpServerProcess.start({});
 * console.log(server.url);
 * await server.stop();
 * ```
 */
export class McpServerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly #stderr: Promise<string>;
  readonly #stdout: Promise<void>;
  #exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  port = 0;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    this.#stderr = new Response(child.stderr).text();
    this.#stdout = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        this.#lines.push(...parts);
        for (const wake of this.#waiters.splice(0)) wake();
      }
      for (const wake of this.#waiters.splice(0)) wake();
    })();
  }

  /** Starts the child with serve `options` and waits for `READY`. */
  static async start(
    options: Record<string, unknown>,
    child: ChildOptions = {},
  ): Promise<McpServerProcess> {
    const deno = [
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      ...(Deno.env.get("H9PROF") ? ["--cpu-prof", "--cpu-prof-dir=/tmp/h9/prof"] : []),
      `--v8-flags=${["--expose-gc", ...(child.v8Flags ?? [])].join(",")}`,
      CHILD,
      JSON.stringify(options),
    ];
    const [cmd, args] = child.nofile
      ? ["bash", ["-c", `ulimit -n ${child.nofile} && exec "$@"`, "bash", ...deno]]
      : [deno[0], deno.slice(1)];
    const process = new McpServerProcess(
      new Deno.Command(cmd, {
        args,
        cwd: ROOT,
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
    try {
      const port = await within(process.#line("PORT "), "child PORT line", 60_000);
      process.port = Number(port.split(" ")[1]);
      await within(process.#line("READY"), "child READY", 10_000);
    } catch (error) {
      await process.stop();
      throw error;
    }
    return process;
  }

  /** The child's pid. */
  get pid(): number {
    return this.#child.pid;
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** True until the child exits. */
  get alive(): boolean {
    return !this.#exited;
  }

  /** Resolves with the first line (from now on, or already seen) starting with `prefix`. */
  async #line(prefix: string, after = 0): Promise<string> {
    while (true) {
      const found = this.#lines.slice(after).find((l) => l.startsWith(prefix));
      if (found) return found;
      if (this.#exited) throw new Error(`child exited before '${prefix}'`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, 200); // re-check exit
      });
      clearTimeout(timer);
    }
  }

  /** The child's heap in use after GC and its RSS, in bytes. */
  async memory(): Promise<{ heap: number; rss: number }> {
    const after = this.#lines.length;
    this.#child.kill("SIGUSR1");
    const line = await within(this.#line("MEM ", after), "child MEM line", 30_000);
    const [, heap, rss] = line.split(" ").map(Number);
    return { heap, rss };
  }

  /** Descriptors the child has open now. */
  fds(): Promise<number> {
    return openFds(this.pid);
  }

  /** Stops the child (SIGTERM, then SIGKILL after 10 s); returns its stderr. */
  async stop(): Promise<string> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // Gone.
      }
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }, 10_000);
    await this.status;
    clearTimeout(timer);
    await this.#stdout;
    return await this.#stderr;
  }

  /** The child's stderr so far is only available after exit: see {@linkcode stop}. */
  get lines(): readonly string[] {
    return this.#lines;
  }
}

/**
 * Descriptors process `pid` has open now, counted by `ls` (Deno refuses to read this
 * process's own /proc entry without --allow-all).
 */
export async function openFds(pid: number): Promise<number> {
  const out = await new Deno.Command("ls", { args: [`/proc/${pid}/fd`], stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).length;
}

/** Descriptors this process has open now. */
export function ownFds(): Promise<number> {
  return openFds(Deno.pid);
}
