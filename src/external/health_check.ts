/**
 * Background health checks of one replica of an external plugin (issue 14 item 2), with the
 * protocol its server already speaks (the connection's `probe`: `cpex.Health` on gRPC,
 * `/health` on MCP HTTP, `get_plugin_config` on the raw Unix socket).
 *
 * One probe at a time, `interval` seconds after the previous one ended (a hung server never
 * piles probes up), each bounded by `timeout`. `unhealthy_threshold` consecutive failures
 * mark the replica unhealthy (it gets no calls), `healthy_threshold` consecutive successes
 * mark it healthy again. The timer is unref'd: a forgotten plugin never keeps a process alive.
 *
 * @module
 */
import type { HealthCheckConfig } from "../types.ts";

/** Runs the checks of one replica (see the module doc). */
export class HealthCheck {
  readonly #probe: (signal: AbortSignal) => Promise<void>;
  readonly #config: HealthCheckConfig;
  readonly #onChange: (healthy: boolean) => boolean | void | Promise<boolean | void>;
  #healthy: boolean;
  #streak = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #controller: AbortController | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;

  /**
   * Creates the checker; `onChange` is called (and awaited before the next probe) when the
   * replica turns healthy or unhealthy; when turning healthy, `false` from it (or a throw)
   * keeps the replica out. `healthy` is the state it starts in.
   */
  constructor(
    probe: (signal: AbortSignal) => Promise<void>,
    config: HealthCheckConfig,
    onChange: (healthy: boolean) => boolean | void | Promise<boolean | void>,
    healthy = true,
  ) {
    this.#probe = probe;
    this.#config = config;
    this.#onChange = onChange;
    this.#healthy = healthy;
  }

  /** Whether the replica may get calls. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Marks the replica unhealthy at once (e.g. its config fetch failed); the checks go on. */
  markUnhealthy(): void {
    this.#healthy = false;
    this.#streak = 0;
  }

  /** Starts the checks (idempotent). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops the checks, aborting a probe under way, and waits for it (idempotent). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#controller?.abort(new Error("health checks stopped"));
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const timer = this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#check().finally(() => {
        this.#running = null;
        this.#schedule();
      });
    }, this.#config.interval * 1000);
    Deno.unrefTimer(timer);
  }

  async #check(): Promise<void> {
    const controller = this.#controller = new AbortController();
    const ms = this.#config.timeout * 1000;
    const timer = setTimeout(
      () => controller.abort(new Error(`health check timed out after ${ms} ms`)),
      ms,
    );
    let ok: boolean;
    try {
      await this.#probe(controller.signal);
      ok = true;
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
      this.#controller = null;
    }
    if (this.#stopped) return;
    if (ok === this.#healthy) {
      this.#streak = 0;
      return;
    }
    const threshold = ok ? this.#config.healthy_threshold : this.#config.unhealthy_threshold;
    if (++this.#streak < threshold) return;
    this.#streak = 0;
    if (!ok) {
      this.#healthy = false;
      await this.#notify(false);
    } else if (await this.#notify(true) && !this.#stopped) {
      this.#healthy = true; // Only once the owner admitted it (e.g. its config agrees).
    }
  }

  async #notify(healthy: boolean): Promise<boolean> {
    try {
      return (await this.#onChange(healthy)) !== false;
    } catch {
      return false; // The owner reports its own failures.
    }
  }
}
