/**
 * A sandbox in a child `deno run` with exactly the plugin's permissions as flags and an
 * optional V8 heap limit, reached over a private Unix socket when the gateway may open one
 * (else over the child's stdin/stdout) with length-prefixed JSON frames; stable APIs only. A
 * crash, an exit or running out of memory ends the child, never the gateway.
 *
 * @module
 */
import { FrameReader } from "../external/unix/frame.ts";
import type { SandboxPermissions } from "../types.ts";
import type { Carrier, CarrierEvents } from "./carrier.ts";
import { entryUrl, type PluginModuleRef } from "./entry.ts";
import { encodeJsonFrame } from "./json_frame.ts";
import { permissionFlags } from "./permissions.ts";
import { openPrivateSocket, type PrivateSocket, withSocketPermissions } from "./private_socket.ts";
import type { FromSandbox, ToSandbox } from "./protocol.ts";

const RUNTIME = new URL("./child_main.ts", import.meta.url);

/** How much of the child's stderr is kept to explain its death. */
const STDERR_TAIL = 2048;

/** Options of {@linkcode startProcess}. */
export interface ProcessOptions {
  /** V8 heap limit in MiB. */
  memoryMb?: number;
  /** The `deno.json` the child resolves imports with. */
  configFile?: string | null;
  /** `pipe` forces stdin/stdout; `auto` (default) uses a private socket when permitted. */
  channel?: "auto" | "pipe";
  /** Where the private socket's directory is made (default `/tmp`). */
  socketParent?: string;
}

/** The `deno run` arguments of a sandbox child (`socket`: the private socket's path). */
export function childArgs(
  ref: PluginModuleRef,
  permissions: SandboxPermissions,
  options: ProcessOptions = {},
  socket?: string,
): string[] {
  const granted = socket ? withSocketPermissions(permissions, socket) : permissions;
  const args = ["run", "--quiet", "--no-prompt", ...permissionFlags(granted)];
  if (options.configFile) args.push(`--config=${options.configFile}`);
  if (options.memoryMb) args.push(`--v8-flags=--max-old-space-size=${options.memoryMb}`);
  args.push(entryUrl(ref, RUNTIME, "serveProcess"));
  if (socket) args.push(socket);
  return args;
}

class ProcessCarrier implements Carrier {
  readonly closed: Promise<void>;
  readonly #child: Deno.ChildProcess;
  readonly #events: CarrierEvents;
  readonly #socket: PrivateSocket | null;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array> | null;
  #conn: Deno.UnixConn | null = null;
  /** Frames waiting for the connection or for the write in progress. */
  #queue: Uint8Array[] = [];
  #writing = false;
  #stderr = "";
  #killedFor: string | undefined;
  #gone = false;

  constructor(
    ref: PluginModuleRef,
    permissions: SandboxPermissions,
    options: ProcessOptions,
    events: CarrierEvents,
  ) {
    this.#events = events;
    this.#socket = options.channel === "pipe" ? null : openPrivateSocket(options.socketParent);
    const piped = this.#socket === null;
    try {
      this.#child = new Deno.Command(Deno.execPath(), {
        args: childArgs(ref, permissions, options, this.#socket?.path),
        stdin: piped ? "piped" : "null",
        stdout: piped ? "piped" : "null",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      this.#socket?.close();
      throw error;
    }
    this.#stdin = piped ? this.#child.stdin.getWriter() : null;
    this.#stdin?.closed.catch(() => {});
    // A child that dies before connecting must not leave the accept pending.
    this.#child.status.then(() => this.#socket?.close());
    this.closed = Promise.all([this.#readFrames(), this.#readStderr()]).then(() => this.#finish());
  }

  send(message: ToSandbox): void {
    if (this.#gone) return;
    const frame = encodeJsonFrame(message);
    if (this.#stdin) {
      this.#stdin.write(frame).catch(() => this.kill("stopped reading its input"));
      return;
    }
    this.#queue.push(frame);
    if (!this.#writing && this.#conn) this.#flush(this.#conn);
  }

  kill(reason: string): void {
    if (this.#gone || this.#killedFor !== undefined) return;
    this.#killedFor = reason;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }

  /** Graceful end: closing its input ends the child's read loop. */
  closeInput(): void {
    if (this.#stdin) this.#stdin.close().catch(() => {});
    else {
      try {
        this.#conn?.closeWrite();
      } catch {
        // Already closed.
      }
    }
  }

  /** Writes the queued frames in order (socket writes may be partial). */
  async #flush(conn: Deno.UnixConn): Promise<void> {
    this.#writing = true;
    try {
      for (let frame = this.#queue.shift(); frame; frame = this.#queue.shift()) {
        while (frame.byteLength > 0) frame = frame.subarray(await conn.write(frame));
      }
    } catch {
      this.kill("stopped reading its input");
    } finally {
      this.#writing = false;
    }
  }

  async #readFrames(): Promise<void> {
    let source: ReadableStream<Uint8Array> | Deno.UnixConn;
    if (this.#socket) {
      const conn = await this.#socket.accept();
      if (conn === null) return;
      this.#conn = source = conn;
      if (this.#queue.length) this.#flush(conn);
    } else source = this.#child.stdout;
    const reader = new FrameReader(source);
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const frame = await reader.read();
        if (frame === null) break;
        const message = JSON.parse(decoder.decode(frame)) as FromSandbox;
        if (!this.#gone) this.#events.message(message);
      }
    } catch (error) {
      // Garbage on the channel (a plugin writing to it directly): the channel is lost.
      this.kill(`broke its channel: ${(error as Error)?.message ?? error}`);
    } finally {
      reader.releaseLock();
      if (!this.#socket) await this.#child.stdout.cancel().catch(() => {});
    }
  }

  async #readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.#child.stderr) {
        this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL);
      }
    } catch {
      // The stream ends with the child.
    }
  }

  async #finish(): Promise<void> {
    // The channel closed: the child is exiting (or closed it itself: make sure it is gone).
    this.kill("closed its output");
    const status = await this.#child.status;
    await this.#stdin?.close().catch(() => {});
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    this.#socket?.close();
    this.#gone = true;
    this.#events.exit(this.#reason(status));
  }

  #reason(status: Deno.CommandStatus): string {
    if (this.#killedFor !== undefined && this.#killedFor !== "closed its output") {
      return this.#killedFor;
    }
    const tail = this.#stderr.trim().split("\n").slice(-3).join(" | ").slice(-400);
    const how = status.signal
      ? `was killed by ${status.signal}`
      : `exited with code ${status.code}`;
    const oom = /out of memory|heap limit/i.test(this.#stderr) ? " (out of memory)" : "";
    return `${how}${oom}${tail ? `: ${tail}` : ""}`;
  }
}

/** Starts `ref` in a child `deno run` with exactly `permissions`. */
export function startProcess(
  ref: PluginModuleRef,
  permissions: SandboxPermissions,
  options: ProcessOptions,
  events: CarrierEvents,
): Carrier & { closeInput(): void } {
  return new ProcessCarrier(ref, permissions, options, events);
}
