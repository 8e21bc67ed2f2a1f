/**
 * The sandbox side of a sandboxed plugin: constructs the plugin class in the Worker or child
 * process, runs each hook call with the same rules as in the gateway (frozen payload, a
 * `PluginContext` carrying the caller's state, an `AbortSignal`), and answers with the result
 * and the context as the plugin left it.
 *
 * @module
 */
import { PluginContext } from "../context.ts";
import { errorRepr, PluginError } from "../errors.ts";
import { deepFreeze } from "../manager/freeze.ts";
import { findHookHandler, type HookCallOptions, type HookHandler, type Plugin } from "../plugin.ts";
import type { PluginConfig, PluginResult } from "../types.ts";
import type { CallMessage, FromSandbox, ToSandbox } from "./protocol.ts";

type PluginClass = new (config: never) => Plugin;

/**
 * Serves the messages of one sandbox. `send` carries answers back to the gateway; `exit` ends
 * the sandbox after `shutdown`.
 */
export class SandboxRuntime {
  readonly #cls: PluginClass;
  readonly #send: (message: FromSandbox) => void;
  readonly #calls = new Map<number, SandboxCallOptions>();
  readonly #onIdle: (() => void) | undefined;
  #plugin: Plugin | undefined;
  readonly #handlers = new Map<string, HookHandler>();

  /**
   * Serves `cls` (the module's export, checked on `init`); `onIdle` is called when the last
   * call in flight has been answered.
   */
  constructor(cls: unknown, send: (message: FromSandbox) => void, onIdle?: () => void) {
    this.#cls = cls as PluginClass;
    this.#send = send;
    this.#onIdle = onIdle;
  }

  /** Handles one message from the gateway. */
  handle(message: ToSandbox): void {
    switch (message.t) {
      case "call":
        this.#call(message);
        break;
      case "abort":
        this.#calls.get(message.id)?.abort(abortReason(message.name, message.message));
        break;
      case "init":
        this.#init(message.config).then(
          () => this.#send({ t: "ready" }),
          (error) => this.#send({ t: "fail", message: describe(error) }),
        );
        break;
      case "shutdown":
        Promise.resolve(this.#plugin?.shutdown()).catch(() => {}).finally(() =>
          this.#send({ t: "closed" })
        );
        break;
    }
  }

  async #init(config: PluginConfig): Promise<void> {
    const cls = this.#cls;
    if (typeof cls !== "function" || !isPluginClass(cls)) {
      throw new Error(`'${config.kind}' is not a Plugin class`);
    }
    const plugin = new cls(config as never);
    // A missing handler fails at load, as it does in the gateway's registry.
    for (const hook of plugin.hooks) findHookHandler(plugin, hook);
    await plugin.initialize();
    this.#plugin = plugin;
  }

  /** The plugin's handler of `hook`, resolved once (as the gateway's registry does). */
  #handler(hook: string): HookHandler {
    let handler = this.#handlers.get(hook);
    if (!handler) this.#handlers.set(hook, handler = findHookHandler(this.#plugin!, hook));
    return handler;
  }

  #call(m: CallMessage): void {
    const options = new SandboxCallOptions(
      m.extensions,
      m.timeout_ms === null ? undefined : performance.now() + m.timeout_ms,
    );
    const context = new PluginContext(m.global_context, m.state, m.metadata);
    let returned: PluginResult | Promise<PluginResult>;
    try {
      returned = this.#handler(m.hook)(deepFreeze(m.payload), context, options);
    } catch (error) {
      this.#failed(m.id, error);
      queueMicrotask(this.#finished);
      return;
    }
    // A plain value is answered at once: no async frame, no extra turn for a synchronous hook.
    if (!isThenable(returned)) {
      this.#done(m.id, returned, context);
      // Later, as for an async hook: idle() may block and serve the next call from here.
      queueMicrotask(this.#finished);
      return;
    }
    this.#calls.set(m.id, options);
    Promise.resolve(returned).then(
      (result) => this.#done(m.id, result, context),
      (error) => this.#failed(m.id, error),
    ).then(() => {
      this.#calls.delete(m.id);
      this.#finished();
    });
  }

  /** Answers with the result; a result the channel cannot carry fails the call instead. */
  #done(id: number, result: PluginResult, context: PluginContext): void {
    try {
      this.#answer(id, result, context);
    } catch (error) {
      this.#failed(id, error);
    }
  }

  #answer(id: number, result: PluginResult, context: PluginContext): void {
    this.#send({
      t: "done",
      id,
      result,
      state: context.state,
      metadata: context.metadata,
      global_state: context.global_context.state ?? null,
      global_metadata: context.global_context.metadata ?? null,
    });
  }

  #failed(id: number, error: unknown): void {
    const model = error instanceof PluginError
      ? error.error
      : { message: errorRepr(error), plugin_name: this.#plugin?.name ?? "" };
    this.#send({ t: "error", id, error: model });
  }

  #finished = (): void => {
    if (this.#calls.size === 0) this.#onIdle?.();
  };
}

function isThenable(value: unknown): value is PromiseLike<PluginResult> {
  return typeof value === "object" && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** A call's options; the `AbortController` exists only once the plugin reads `signal`. */
class SandboxCallOptions implements HookCallOptions {
  #controller: AbortController | undefined;
  #reason: Error | undefined;

  constructor(readonly extensions: CallMessage["extensions"], readonly deadline?: number) {}

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

function isPluginClass(value: unknown): boolean {
  // The Plugin base class may come from another copy of the library (jsr vs local): look for
  // its shape rather than identity.
  let proto = (value as { prototype?: unknown }).prototype;
  while (proto) {
    if (typeof (proto as Record<string, unknown>).initialize === "function") return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/** The gateway's abort reason as the plugin sees it: an error of the same name and message. */
function abortReason(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
