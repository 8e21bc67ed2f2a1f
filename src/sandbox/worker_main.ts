/**
 * Runs inside a sandbox Worker: serves the gateway's messages with the plugin class the entry
 * module imported.
 *
 * @module
 */
import type { ToSandbox } from "./protocol.ts";
import { SandboxRuntime } from "./runtime.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToSandbox>) => void) | null;
  postMessage(message: unknown): void;
}

/** Serves `cls` in this Worker. */
export function serveWorker(cls: unknown): void {
  const scope = globalThis as unknown as WorkerScope;
  const runtime = new SandboxRuntime(cls, (message) => scope.postMessage(message));
  // Deno.exit ends a Worker without any event in the gateway: announce it first.
  const exit = Deno.exit;
  Deno.exit = (code?: number): never => {
    scope.postMessage({ t: "exit", code: code ?? 0 });
    return exit(code);
  };
  scope.onmessage = (event) => runtime.handle(event.data);
}
