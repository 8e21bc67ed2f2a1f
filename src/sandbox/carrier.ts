/**
 * What carries messages to one sandbox and back: a Worker or a child process.
 *
 * @module
 */
import type { FromSandbox, ToSandbox } from "./protocol.ts";

/** Callbacks of a {@linkcode Carrier}. */
export interface CarrierEvents {
  /** A message from the sandbox. */
  message(message: FromSandbox): void;
  /** The sandbox is gone (crash, exit, kill); called once, with why. */
  exit(reason: string): void;
}

/** One running sandbox. */
export interface Carrier {
  /** Sends a message (dropped once the sandbox is gone). */
  send(message: ToSandbox): void;
  /** Hard kill: terminates the sandbox now, whatever it is running. */
  kill(reason: string): void;
  /**
   * A Worker only: ends the sandbox now (its exit is reported at once) but first asks its
   * event loop for a sign of life; resolves true when none came within `graceMs`, i.e. the
   * thread is stuck in synchronous code and `terminate()` cannot reclaim it (Deno 2.9).
   */
  killProbing?(reason: string, graceMs: number): Promise<boolean>;
  /** Resolves once the sandbox is gone and every resource of it is released. */
  readonly closed: Promise<void>;
}
