/**
 * The sandboxes of one plugin (`workers: N`): starts them, routes each call to an idle one
 * (else the least busy), hard-kills one whose call passed its timeout, and replaces a sandbox
 * that died: at once the first time, then after a growing backoff while it keeps dying. A
 * Worker killed at its timeout while stuck in synchronous code leaks its thread (`stuck.ts`):
 * after `maxStuck` of them the plugin gets no more workers and its calls fail at once with
 * `SANDBOX_STUCK`.
 *
 * @module
 */
import { PluginError, PluginTimeoutError, SANDBOX_STUCK } from "../errors.ts";
import type { PluginConfig } from "../types.ts";
import type { Carrier, CarrierEvents } from "./carrier.ts";
import type { CallMessage, DoneMessage } from "./protocol.ts";
import { countStuckThread, STUCK_GRACE_MS } from "./stuck.ts";

/** Starts one sandbox. */
export type StartSandbox = (events: CarrierEvents) => Carrier & { closeInput?(): void };

/** Options of a {@linkcode SandboxPool}. */
export interface SandboxPoolOptions {
  /** The plugin's name (for messages). */
  name: string;
  /** `worker` or `process` (for messages). */
  isolation: string;
  /** The config the sandboxed plugin is constructed with. */
  config: PluginConfig;
  /** How many sandboxes. */
  size: number;
  /** Starts one. */
  start: StartSandbox;
  /** How long a sandbox may take to load and initialise its plugin (ms). */
  startTimeoutMs?: number;
  /**
   * Workers only: how many threads stuck in synchronous code the plugin may leak before it
   * gets no more workers (unset: no limit, for processes, which are really killed).
   */
  maxStuck?: number;
  /** How long a killed worker has to show its event loop still turns (ms). */
  stuckGraceMs?: number;
  /** Where the one error about a plugin that ran out of workers goes (default stderr). */
  log?: (message: string) => void;
}

/** The backoff before restart number `deaths` (1: at once; then 100 ms doubling to 10 s). */
export function restartDelay(deaths: number): number {
  return deaths <= 1 ? 0 : Math.min(100 * 2 ** (deaths - 2), 10_000);
}

interface Pending {
  resolve(message: DoneMessage): void;
  reject(error: unknown): void;
  /** Kills the sandbox if a cancelled call is still running at its deadline. */
  timer?: ReturnType<typeof setTimeout>;
}

class Sandbox {
  carrier!: Carrier & { closeInput?(): void };
  readonly calls = new Map<number, Pending>();
  ready = false;
  alive = true;
  readonly started: Promise<void>;
  onReady!: () => void;
  onFail!: (error: Error) => void;
  onClosed: (() => void) | undefined;
  startTimer: ReturnType<typeof setTimeout> | undefined;
  constructor() {
    this.started = new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.onFail = reject;
    });
    this.started.catch(() => {});
  }
}

/** The sandboxes of one plugin. */
export class SandboxPool {
  readonly #o: SandboxPoolOptions;
  readonly #slots: Array<Sandbox | null>;
  readonly #deaths: number[];
  readonly #retryAt: number[];
  #nextId = 1;
  #closed = false;
  /** Threads this plugin leaked stuck in synchronous code. */
  #stuck = 0;
  /** Killed workers whose probe has not answered yet. */
  readonly #probes = new Set<Promise<void>>();

  /** Creates the pool; {@linkcode SandboxPool.start} starts its sandboxes. */
  constructor(options: SandboxPoolOptions) {
    this.#o = options;
    this.#slots = new Array(options.size).fill(null);
    this.#deaths = new Array(options.size).fill(0);
    this.#retryAt = new Array(options.size).fill(0);
  }

  /** Live sandboxes (for tests and diagnostics). */
  get live(): number {
    return this.#slots.filter((s) => s?.alive).length;
  }

  /** Worker threads of this plugin leaked stuck in synchronous code. */
  get stuck(): number {
    return this.#stuck;
  }

  /** True once the plugin leaked `maxStuck` threads: it gets no more workers. */
  get exhausted(): boolean {
    return this.#o.maxStuck !== undefined && this.#stuck >= this.#o.maxStuck;
  }

  /** Starts every sandbox and waits until each plugin is initialised. */
  async start(): Promise<void> {
    this.#closed = false;
    try {
      await Promise.all(this.#slots.map((_, i) => this.#spawn(i).started));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Runs one call. A timeout (the manager aborting `signal` with a `PluginTimeoutError`)
   * kills the sandbox; any other abort is forwarded to the plugin's own signal, and the
   * sandbox is killed if that call still runs at `deadline`.
   */
  call(
    message: Omit<CallMessage, "id">,
    signal: AbortSignal,
    deadline: number,
  ): Promise<DoneMessage> {
    try {
      // The common case (a ready sandbox, no stuck probe pending) sends at once: no async frame.
      if (this.#probes.size === 0 && !this.exhausted) {
        const index = this.#pick();
        const box = this.#slots[index];
        if (box && box.alive && box.ready) {
          signal.throwIfAborted();
          return this.#send(box, index, message as CallMessage, signal, deadline);
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#callSlow(message as CallMessage, signal, deadline);
  }

  /** {@linkcode SandboxPool.call} when it has to wait for a probe or a sandbox to start. */
  async #callSlow(
    call: CallMessage,
    signal: AbortSignal,
    deadline: number,
  ): Promise<DoneMessage> {
    const max = this.#o.maxStuck;
    if (max !== undefined) {
      // A timed-out worker may yet prove stuck: never start one more than the limit allows.
      while (!this.exhausted && this.#probes.size > 0 && this.#stuck + this.#probes.size >= max) {
        await Promise.race(this.#probes);
      }
      if (this.exhausted) throw this.#stuckError();
    }
    const index = this.#pick();
    let box = this.#slots[index];
    if (!box || !box.alive) box = this.#spawn(index);
    if (!box.ready) await box.started;
    signal.throwIfAborted();
    return await this.#send(box, index, call, signal, deadline);
  }

  #send(
    box: Sandbox,
    index: number,
    call: CallMessage,
    signal: AbortSignal,
    deadline: number,
  ): Promise<DoneMessage> {
    const id = this.#nextId++;
    call.id = id;
    return new Promise<DoneMessage>((resolve, reject) => {
      const onAbort = () => {
        const reason = signal.reason;
        if (reason instanceof PluginTimeoutError) {
          this.#killStuck(box, index, `was killed: ${reason.message}`);
          return;
        }
        const p = box.calls.get(id);
        if (!p) return;
        box.carrier.send({
          t: "abort",
          id,
          name: reason instanceof Error ? reason.name : "AbortError",
          message: reason instanceof Error ? reason.message : String(reason),
        });
        const left = deadline - performance.now();
        if (Number.isFinite(left)) {
          p.timer = setTimeout(() => {
            if (box.calls.has(id)) {
              this.#killStuck(box, index, "was killed: a cancelled call ran past its timeout");
            }
          }, Math.max(0, left));
        }
        p.resolve = () => {};
        p.reject(reason);
        p.reject = () => {};
      };
      const pending: Pending = {
        resolve: (m) => {
          signal.removeEventListener("abort", onAbort);
          this.#deaths[index] = 0;
          resolve(m);
        },
        reject: (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      box.calls.set(id, pending);
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        box.carrier.send(call);
      } catch (error) {
        box.calls.delete(id);
        pending.reject(
          this.#error(`cannot send the call: ${(error as Error)?.message ?? error}`, error),
        );
      }
    });
  }

  /** Shuts every plugin down (`shutdown()` in the sandbox), then ends the sandboxes. */
  async close(): Promise<void> {
    this.#closed = true;
    const boxes = this.#slots.filter((s): s is Sandbox => s !== null);
    this.#slots.fill(null);
    await Promise.all([...boxes.map((box) => this.#end(box)), ...this.#probes]);
  }

  async #end(box: Sandbox): Promise<void> {
    if (box.alive && box.ready) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          box.onClosed = resolve;
          box.carrier.send({ t: "shutdown" });
        }),
        new Promise<void>((resolve) => timer = setTimeout(resolve, 2000)),
        box.carrier.closed,
      ]);
      clearTimeout(timer);
    }
    if (box.carrier.closeInput) {
      box.carrier.closeInput();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        box.carrier.closed,
        new Promise<void>((resolve) => timer = setTimeout(resolve, 2000)),
      ]);
      clearTimeout(timer);
    }
    box.carrier.kill("shut down");
    await box.carrier.closed;
  }

  /** An idle live sandbox, else a slot that may be (re)started, else the least busy one. */
  #pick(): number {
    const slots = this.#slots;
    if (slots.length === 1 && slots[0]?.alive) return 0;
    let best = -1;
    let bestLoad = Infinity;
    for (let i = 0; i < slots.length; i++) {
      const box = slots[i];
      if (box?.alive) {
        if (box.calls.size === 0 && box.ready) return i;
        if (box.calls.size < bestLoad) {
          best = i;
          bestLoad = box.calls.size;
        }
      }
    }
    const now = performance.now();
    for (let i = 0; i < slots.length; i++) {
      if (!slots[i]?.alive && this.#retryAt[i] <= now) return i;
    }
    if (best >= 0) return best;
    if (this.#closed) throw this.#error("was shut down");
    const wait = Math.min(...this.#retryAt) - now;
    throw this.#error(
      `keeps dying (${Math.max(...this.#deaths)} times in a row); ` +
        `next restart in ${Math.ceil(wait)} ms`,
    );
  }

  #spawn(index: number): Sandbox {
    if (this.#closed) throw this.#error("was shut down");
    const box = new Sandbox();
    this.#slots[index] = box;
    const events: CarrierEvents = {
      message: (m) => {
        switch (m.t) {
          case "done":
          case "error": {
            const p = box.calls.get(m.id);
            if (!p) return;
            box.calls.delete(m.id);
            clearTimeout(p.timer);
            if (m.t === "done") p.resolve(m);
            else p.reject(new PluginError(m.error));
            break;
          }
          case "ready":
            clearTimeout(box.startTimer);
            box.ready = true;
            box.onReady();
            break;
          case "fail":
            box.onFail(this.#error(`could not start: ${m.message}`));
            this.#kill(box, index, `could not start: ${m.message}`);
            break;
          case "closed":
            box.onClosed?.();
            break;
          case "exit":
            this.#kill(box, index, `exited with code ${m.code}`);
            break;
        }
      },
      exit: (reason) => this.#died(box, index, reason),
    };
    box.carrier = this.#o.start(events);
    const ms = this.#o.startTimeoutMs ?? 30_000;
    box.startTimer = setTimeout(
      () => this.#killStuck(box, index, `did not start within ${ms} ms`),
      ms,
    );
    box.carrier.send({ t: "init", config: this.#o.config });
    return box;
  }

  /** Hard-kills `box` and handles its death now (the carrier reports its exit later). */
  #kill(box: Sandbox, index: number, reason: string): void {
    box.carrier.kill(reason);
    this.#died(box, index, reason);
  }

  /**
   * Kills `box` for overrunning. A worker is asked first whether its event loop still turns:
   * if not, its thread is stuck in synchronous code and leaks (counted towards `maxStuck`).
   */
  #killStuck(box: Sandbox, index: number, reason: string): void {
    const max = this.#o.maxStuck;
    if (max === undefined || !box.carrier.killProbing || !box.alive) {
      this.#kill(box, index, reason);
      return;
    }
    const probe = box.carrier.killProbing(reason, this.#o.stuckGraceMs ?? STUCK_GRACE_MS).then(
      (stuck) => {
        this.#probes.delete(probe);
        if (!stuck) return;
        const total = countStuckThread();
        if (++this.#stuck !== max) return;
        (this.#o.log ?? console.error)(
          `Plugin ${this.#o.name}: ${max} of its worker threads are stuck in synchronous code ` +
            `and cannot be stopped (Deno cannot terminate a Worker that never yields; ${total} ` +
            `such threads in this process); no more ` +
            `workers are started for it and its calls fail with ${SANDBOX_STUCK}. ` +
            `Use isolation: process for code that may loop (a process is really killed).`,
        );
      },
    );
    this.#probes.add(probe);
    // The carrier reported the exit already; this is a no-op unless it had reported it before.
    this.#died(box, index, reason);
  }

  /** Fails the calls of a dead sandbox and replaces it (once per sandbox). */
  #died(box: Sandbox, index: number, reason: string): void {
    if (!box.alive) return;
    box.alive = false;
    clearTimeout(box.startTimer);
    box.onFail(this.#error(`${this.#o.isolation} ${reason}`));
    for (const p of box.calls.values()) {
      clearTimeout(p.timer);
      p.reject(this.#error(`${this.#o.isolation} ${reason}`));
    }
    box.calls.clear();
    if (this.#slots[index] !== box) return;
    this.#slots[index] = null;
    const deaths = ++this.#deaths[index];
    const delay = restartDelay(deaths);
    this.#retryAt[index] = performance.now() + delay;
    // The first death restarts at once, so the next call finds a fresh sandbox.
    if (delay === 0 && !this.#closed && !this.exhausted) {
      try {
        this.#spawn(index);
      } catch {
        // Counted at the next call.
      }
    }
  }

  #stuckError(): PluginError {
    return new PluginError({
      message: `Plugin ${this.#o.name}: ${this.#stuck} of its worker threads are stuck in ` +
        `synchronous code; no more workers are started for it (use isolation: process)`,
      plugin_name: this.#o.name,
      code: SANDBOX_STUCK,
    });
  }

  #error(message: string, cause?: unknown): PluginError {
    return new PluginError({
      message: `Plugin ${this.#o.name}: ${message}`,
      plugin_name: this.#o.name,
    }, {
      cause,
    });
  }
}
