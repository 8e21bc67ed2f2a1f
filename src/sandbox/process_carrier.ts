/**
 * A sandbox in a child `deno run` with exactly the plugin's permissions as flags and an
 * optional V8 heap limit, reached over its stdin/stdout with length-prefixed JSON frames
 * (stable APIs only). A crash, an exit or running out of memory ends the child, never the
 * gateway.
 *
 * @module
 */
import { encodeFrame, FrameReader } from "../external/frame.ts";
import type { SandboxPermissions } from "../types.ts";
import type { Carrier, CarrierEvents } from "./carrier.ts";
import { entryUrl, type PluginModuleRef } from "./entry.ts";
import { permissionFlags } from "./permissions.ts";
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
}

/** The `deno run` arguments of a sandbox child. */
export function childArgs(
  ref: PluginModuleRef,
  permissions: SandboxPermissions,
  options: ProcessOptions = {},
): string[] {
  const args = ["run", "--quiet", "--no-prompt", ...permissionFlags(permissions)];
  if (options.configFile) args.push(`--config=${options.configFile}`);
  if (options.memoryMb) args.push(`--v8-flags=--max-old-space-size=${options.memoryMb}`);
  args.push(entryUrl(ref, RUNTIME, "serveProcess"));
  return args;
}

class ProcessCarrier implements Carrier {
  readonly closed: Promise<void>;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #events: CarrierEvents;
  readonly #encoder = new TextEncoder();
  #stderr = "";
  #killedFor: string | undefined;
  #gone = false;

  constructor(args: string[], events: CarrierEvents) {
    this.#events = events;
    this.#child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#stdin.closed.catch(() => {});
    this.closed = Promise.all([this.#readFrames(), this.#readStderr()]).then(() => this.#finish());
  }

  send(message: ToSandbox): void {
    if (this.#gone) return;
    const frame = encodeFrame(this.#encoder.encode(JSON.stringify(message)));
    this.#stdin.write(frame).catch(() => this.kill("stopped reading its input"));
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

  /** Graceful end: closing stdin ends the child's read loop. */
  closeInput(): void {
    this.#stdin.close().catch(() => {});
  }

  async #readFrames(): Promise<void> {
    const reader = new FrameReader(this.#child.stdout);
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const frame = await reader.read();
        if (frame === null) break;
        const message = JSON.parse(decoder.decode(frame)) as FromSandbox;
        if (!this.#gone) this.#events.message(message);
      }
    } catch (error) {
      // Garbage on stdout (a plugin writing to it directly): the channel is lost.
      this.kill(`broke its channel: ${(error as Error)?.message ?? error}`);
    } finally {
      reader.releaseLock?.();
      await this.#child.stdout.cancel().catch(() => {});
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
    // stdout closed: the child is exiting (or closed stdout itself: make sure it is gone).
    this.kill("closed its output");
    const status = await this.#child.status;
    await this.#stdin.close().catch(() => {});
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
  return new ProcessCarrier(childArgs(ref, permissions, options), events);
}
