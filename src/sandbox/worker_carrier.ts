/**
 * A sandbox in a Deno Worker whose permissions are exactly the plugin's block. Needs
 * `--unstable-worker-options` (Deno 2.9). `terminate()` does not stop a thread stuck in
 * synchronous code (Deno 2.9): {@linkcode Carrier.killProbing} tells the pool when a thread
 * was leaked that way (`stuck.ts`).
 *
 * @module
 */
import type { SandboxPermissions } from "../types.ts";
import type { Carrier, CarrierEvents } from "./carrier.ts";
import { entryUrl, type PluginModuleRef } from "./entry.ts";
import { workerPermissions } from "./permissions.ts";
import type { FromSandbox, ToSandbox } from "./protocol.ts";
import { channelBuffers, SharedChannel } from "./shared_channel.ts";
import { PING, PONG } from "./stuck.ts";

const RUNTIME = new URL("./worker_main.ts", import.meta.url);

/** The flag Worker permissions need on Deno 2.9. */
export const WORKER_OPTIONS_FLAG = "--unstable-worker-options";

/** Thrown when the gateway runs without {@linkcode WORKER_OPTIONS_FLAG}. */
export class WorkerOptionsFlagError extends Error {
  /** Creates the error for plugin `name`. */
  constructor(name: string, cause: unknown) {
    super(
      `Plugin ${name}: isolation 'worker' needs Deno's ${WORKER_OPTIONS_FLAG} flag ` +
        `(Worker permissions are unstable in Deno 2.9); run with ${WORKER_OPTIONS_FLAG}`,
      { cause },
    );
    this.name = "PermissionPreflightError";
  }
}

class WorkerCarrier implements Carrier {
  readonly closed: Promise<void>;
  readonly #worker: Worker;
  readonly #events: CarrierEvents;
  readonly #channel: SharedChannel<ToSandbox, FromSandbox>;
  #done: (() => void) | undefined;
  #gone = false;
  /** Set while a probe waits for the worker's answer. */
  #answered: (() => void) | undefined;

  constructor(
    name: string,
    ref: PluginModuleRef,
    p: SandboxPermissions,
    events: CarrierEvents,
    options: WorkerOptions,
  ) {
    this.#events = events;
    this.closed = new Promise((resolve) => this.#done = resolve);
    try {
      this.#worker = new Worker(entryUrl(ref, RUNTIME, "serveWorker"), {
        type: "module",
        name: `cpex-sandbox:${name}`,
        deno: { permissions: workerPermissions(p) },
      });
    } catch (error) {
      if (String((error as Error)?.message).includes(WORKER_OPTIONS_FLAG)) {
        throw new WorkerOptionsFlagError(name, error);
      }
      throw new Error(
        `Plugin ${name}: cannot start its worker: ${(error as Error)?.message ?? error} ` +
          `(a worker cannot be granted a permission the gateway lacks)`,
        { cause: error },
      );
    }
    const buffers = channelBuffers(undefined, options.channel === "post");
    // The channel's buffers are the worker's first message (see worker_main.ts).
    this.#worker.postMessage(buffers);
    this.#channel = new SharedChannel<ToSandbox, FromSandbox>(
      buffers.down,
      buffers.up,
      (message) => this.#worker.postMessage(message),
      (message) => {
        if (!this.#gone) events.message(message);
      },
      (error) => this.#end(`broke its channel: ${(error as Error)?.message ?? error}`),
    );
    this.#worker.onmessage = (event: MessageEvent<FromSandbox>) => {
      if ((event.data as { t: string }).t === PONG) this.#answered?.();
      else this.#channel.received(event.data);
    };
    // An uncaught error ends the worker; preventDefault keeps it from reaching the gateway.
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      // A worker crashing while probed was not stuck.
      this.#answered?.();
      this.#end(`crashed: ${event.message}`);
    };
    this.#worker.onmessageerror = (event: MessageEvent) => {
      event.preventDefault();
      this.#end("sent a message that cannot be read");
    };
  }

  send(message: ToSandbox): void {
    // Throws for what cannot be cloned (a function in a payload): the caller fails that call.
    if (this.#gone) return;
    // Only calls take the ring: an abort must not overtake its call (see shared_channel.ts).
    if (message.t === "call") this.#channel.send(message);
    else this.#channel.post(message);
  }

  kill(reason: string): void {
    this.#end(reason);
  }

  killProbing(reason: string, graceMs: number): Promise<boolean> {
    if (this.#gone) return Promise.resolve(false);
    // Gone for the pool at once; the thread is terminated once the probe has its answer.
    this.#gone = true;
    this.#channel.close();
    this.#events.exit(reason);
    return new Promise<boolean>((resolve) => {
      const finish = (stuck: boolean) => {
        clearTimeout(timer);
        this.#answered = undefined;
        this.#worker.terminate();
        this.#done?.();
        resolve(stuck);
      };
      const timer = setTimeout(() => finish(true), graceMs);
      this.#answered = () => finish(false);
      try {
        this.#worker.postMessage({ t: PING });
      } catch {
        finish(false);
      }
    });
  }

  #end(reason: string): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#channel.close();
    this.#worker.terminate();
    this.#done?.();
    this.#events.exit(reason);
  }
}

/** Options of {@linkcode startWorker}. */
export interface WorkerOptions {
  /**
   * `shared` (default): calls and answers as JSON in shared memory (`shared_channel.ts`);
   * `post`: every message by `postMessage` (the former channel, kept for the benchmark).
   */
  channel?: "shared" | "post";
}

/** Starts `ref` in a Worker with exactly `permissions`. */
export function startWorker(
  name: string,
  ref: PluginModuleRef,
  permissions: SandboxPermissions,
  events: CarrierEvents,
  options: WorkerOptions = {},
): Carrier {
  return new WorkerCarrier(name, ref, permissions, events, options);
}
