/**
 * The messages between a sandboxed plugin's proxy (in the gateway) and its runtime (in a
 * Worker or a child process). The same objects travel by structured clone to a Worker and as
 * length-prefixed JSON frames over a child's stdin/stdout.
 *
 * @module
 */
import type { GlobalContext, PluginConfig, PluginErrorModel, PluginResult } from "../types.ts";
import type { Extensions } from "../types.ts";

/** Starts the plugin: construct it with `config`, then `initialize()`. */
export interface InitMessage {
  t: "init";
  config: PluginConfig;
}

/** One hook call. `timeout_ms` is how long the gateway waits (Infinity: no deadline). */
export interface CallMessage {
  t: "call";
  id: number;
  hook: string;
  payload: unknown;
  state: Record<string, unknown>;
  metadata: Record<string, unknown>;
  global_context: GlobalContext;
  extensions: Extensions | null;
  timeout_ms: number | null;
}

/** The gateway stopped waiting for call `id`: abort its signal. */
export interface AbortMessage {
  t: "abort";
  id: number;
  /** The abort reason's name (`CancelledError`) and message, rebuilt in the sandbox. */
  name: string;
  message: string;
}

/** Calls the plugin's `shutdown()` and answers `closed`. */
export interface ShutdownMessage {
  t: "shutdown";
}

/** A message to the sandbox. */
export type ToSandbox = InitMessage | CallMessage | AbortMessage | ShutdownMessage;

/** The plugin is up. */
export interface ReadyMessage {
  t: "ready";
}

/** The plugin could not be loaded or initialised. */
export interface FailMessage {
  t: "fail";
  message: string;
}

/** Call `id` returned `result`; the context as the plugin left it. */
export interface DoneMessage {
  t: "done";
  id: number;
  result: PluginResult;
  state: Record<string, unknown>;
  metadata: Record<string, unknown>;
  global_state: Record<string, unknown> | null;
  global_metadata: Record<string, unknown> | null;
}

/** Call `id` threw: a `PluginError` model, or the repr of any other error. */
export interface ErrorMessage {
  t: "error";
  id: number;
  error: PluginErrorModel;
}

/** The plugin's `shutdown()` finished. */
export interface ClosedMessage {
  t: "closed";
}

/** The plugin called `Deno.exit` in a Worker (which would otherwise end it silently). */
export interface ExitMessage {
  t: "exit";
  code: number;
}

/** A message from the sandbox. */
export type FromSandbox =
  | ReadyMessage
  | FailMessage
  | DoneMessage
  | ErrorMessage
  | ClosedMessage
  | ExitMessage;
