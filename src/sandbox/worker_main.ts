/**
 * Runs inside a sandbox Worker: serves the gateway's messages with the plugin class the entry
 * module imported. The first message is the shared-memory channel (`shared_channel.ts`);
 * everything after it arrives through that channel or, when posted, after what the channel
 * held.
 *
 * @module
 */
import type { FromSandbox, ToSandbox } from "./protocol.ts";
import { SandboxRuntime } from "./runtime.ts";
import { IDLE_WAIT_MS, isChannelBuffers, SharedChannel } from "./shared_channel.ts";
import { PING, PONG } from "./stuck.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

/** Serves `cls` in this Worker. */
export function serveWorker(cls: unknown): void {
  const scope = globalThis as unknown as WorkerScope;
  let channel: SharedChannel<FromSandbox, ToSandbox> | undefined;
  // Answers take the ring; ready, fail and closed are posted (see shared_channel.ts).
  const runtime = new SandboxRuntime(cls, (message) => {
    if (message.t === "done" || message.t === "error") channel!.send(message);
    else channel!.post(message);
  }, () => channel?.idle());
  // Deno.exit ends a Worker without any event in the gateway: announce it first.
  const exit = Deno.exit;
  const announcedExit = (code?: number): never => {
    scope.postMessage({ t: "exit", code: code ?? 0 });
    return exit(code);
  };
  Deno.exit = announcedExit;
  scope.onmessage = (event) => {
    // A liveness probe after a timeout (worker_carrier.ts): answering proves this event loop
    // still turns, so the thread is not stuck in synchronous code.
    if ((event.data as { t?: unknown } | null)?.t === PING) scope.postMessage({ t: PONG });
    else if (channel) channel.received(event.data as ToSandbox);
    else if (isChannelBuffers(event.data)) {
      const { down, up, postOnly } = event.data;
      channel = new SharedChannel<FromSandbox, ToSandbox>(
        up,
        down,
        (message) => scope.postMessage(message),
        (message) => runtime.handle(message),
        // Only a plugin tampering with the buffers gets here: end this sandbox.
        () => announcedExit(70),
        IDLE_WAIT_MS,
        postOnly,
      );
    }
  };
}
