/**
 * STDIO sessions for the gateway-side MCP proxy: the plugin server runs as a child process
 * (`Deno.Command`) and MCP flows as JSON-RPC lines over its stdin/stdout; its stderr is the
 * gateway's.
 *
 * Command resolution (wire.md §3.1, plus Deno scripts): `cmd` runs as given. A `script` has
 * `~` expanded and, when relative, is resolved against `cwd` (else the gateway's working
 * directory); then `.py` runs with `python3`, `.sh` with `sh`, `.ts`/`.mts`/`.js`/`.mjs` with
 * this Deno binary as `deno run --no-prompt --allow-read --allow-env=PLUGINS_* <script>` (no
 * net, write, run or sys permission: a STDIO plugin server needs none), anything else is run
 * directly. The child gets the gateway's environment, `PLUGINS_TRANSPORT=stdio`, then `env`.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { readEnv } from "../../config/env.ts";
import type { McpClientConfig } from "../../types.ts";
import { LineTransport } from "./line_transport.ts";
import { MCP_CLIENT_INFO, type McpConnector, type McpSession } from "./session.ts";

/** How long a child may take to exit after its stdin closes, then after SIGTERM. */
export const CHILD_EXIT_GRACE_MS = 2000;

/**
 * The command line a STDIO plugin server is started with.
 */
export function resolveStdioCommand(
  mcp: Pick<McpClientConfig, "script" | "cmd" | "cwd" | "proto">,
): { command: string; args: string[] } {
  if (mcp.cmd && mcp.cmd.length) return { command: mcp.cmd[0], args: mcp.cmd.slice(1) };
  if (!mcp.script) throw new Error("STDIO needs a script or a cmd");
  let script = mcp.script;
  if (script === "~" || script.startsWith("~/")) {
    const home = readEnv("HOME");
    if (home) script = home + script.slice(1);
  }
  if (!script.startsWith("/")) {
    const base = mcp.cwd ?? Deno.cwd();
    script = `${base.replace(/\/$/, "")}/${script.replace(/^\.\//, "")}`;
  }
  if (script.endsWith(".py")) return { command: "python3", args: [script] };
  if (script.endsWith(".sh")) return { command: "sh", args: [script] };
  if (/\.(ts|mts|js|mjs)$/.test(script)) {
    return {
      command: Deno.execPath(),
      args: ["run", "--no-prompt", "--allow-read", "--allow-env=PLUGINS_*", script],
    };
  }
  return { command: script, args: [] };
}

/**
 * Starts the plugin server as a child and speaks MCP over its pipes (one attempt at
 * initialize, as the reference).
 */
export class StdioConnector implements McpConnector {
  readonly target: string;
  readonly initialAttempts = 1;
  readonly #command: string;
  readonly #args: string[];
  readonly #env: Record<string, string>;
  readonly #cwd: string | undefined;

  /** Resolves the command line from the `mcp` block. */
  constructor(mcp: McpClientConfig) {
    const { command, args } = resolveStdioCommand(mcp);
    this.#command = command;
    this.#args = args;
    this.#env = { PLUGINS_TRANSPORT: "stdio", ...(mcp.env ?? {}) };
    this.#cwd = mcp.cwd ?? undefined;
    this.target = [command, ...args].join(" ");
  }

  /** The program that is started (what `--allow-run` must grant). */
  get command(): string {
    return this.#command;
  }

  /** Spawns the child and runs the MCP handshake. */
  async connect(): Promise<McpSession> {
    const child = new Deno.Command(this.#command, {
      args: this.#args,
      cwd: this.#cwd,
      env: this.#env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let dead = false;
    let deathReason: string | null = null;
    const exited = child.status.then((status) => {
      deathReason = `the plugin server process exited (code ${status.code}${
        status.signal ? `, signal ${status.signal}` : ""
      })`;
      return status;
    });
    const exitReason = exited.then(() => deathReason!);
    const transport = new LineTransport(child.stdout, child.stdin);
    transport.onclose = () => {
      dead = true;
      deathReason ??= "the plugin server closed its stdout";
    };
    const client = new Client(MCP_CLIENT_INFO);
    let closing: Promise<void> | null = null;
    const close = (): Promise<void> =>
      closing ??= (async () => {
        dead = true;
        await client.close().catch(() => {});
        await stopChild(child, exited);
      })();
    try {
      await client.connect(transport);
      await client.listTools();
    } catch (error) {
      await close();
      throw error;
    }
    return {
      client,
      get dead() {
        return dead;
      },
      get deathReason() {
        return deathReason;
      },
      exited: exitReason,
      close: () => close(),
    };
  }

  /** A closed connection (the child died) or a failed spawn. */
  /** An MCP `ping` on the live session (a child has no health endpoint). */
  async probe(session: McpSession | null, signal: AbortSignal): Promise<void> {
    if (!session || session.dead) throw new Error("no live MCP session");
    await session.client.ping({ signal });
  }

  isConnectionError(error: unknown): boolean {
    return (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) ||
      (error instanceof Error && /Not connected|Transport closed/.test(error.message));
  }

  /** Nothing to release: each session owns its child. */
  close(): void {}
}

/** Waits for the child to exit after its stdin closed; then SIGTERM, then SIGKILL. */
async function stopChild(child: Deno.ChildProcess, exited: Promise<Deno.CommandStatus>) {
  const waited = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  if (await waited(CHILD_EXIT_GRACE_MS)) return;
  try {
    child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  if (await waited(CHILD_EXIT_GRACE_MS)) return;
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
  await exited;
}
