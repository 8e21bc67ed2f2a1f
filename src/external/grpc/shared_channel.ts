/**
 * One grpc-js channel per server, shared by every gRPC plugin proxy in the process that talks
 * to it with the same credentials and channel options (issue 13: a channel per plugin cost the
 * gateway an HTTP/2 connection and its buffers per plugin). Hook calls of the plugins multiplex
 * on it as HTTP/2 streams. The channel is reference-counted: the last proxy to let go of it
 * closes it, so shutting one plugin down never cuts the others off.
 *
 * @module
 */
import type * as GrpcJsModule from "@grpc/grpc-js";

interface Shared {
  readonly client: GrpcJsModule.Client;
  refs: number;
}

const channels = new Map<string, Shared>();

/**
 * The key of a channel: two plugins share one only when everything the channel is built from
 * is equal (the target, the TLS block, named by its file paths, and the channel options).
 */
export function channelKey(
  target: string,
  tls: unknown,
  options: Readonly<Record<string, string | number>>,
): string {
  const sorted = Object.keys(options).sort().map((k) => [k, options[k]]);
  return JSON.stringify([target, tls ?? null, sorted]);
}

/**
 * The channel for `key`, created with `create` when no proxy holds one; every call must be
 * matched by one {@linkcode releaseChannel}.
 */
export function acquireChannel(
  key: string,
  create: () => GrpcJsModule.Client,
): GrpcJsModule.Client {
  let shared = channels.get(key);
  if (!shared) {
    shared = { client: create(), refs: 0 };
    channels.set(key, shared);
  }
  shared.refs++;
  return shared.client;
}

/** Lets go of a channel from {@linkcode acquireChannel}; the last holder closes it. */
export function releaseChannel(key: string, client: GrpcJsModule.Client): void {
  const shared = channels.get(key);
  if (!shared || shared.client !== client) {
    client.close(); // Not (or no longer) shared: ours alone.
    return;
  }
  if (--shared.refs > 0) return;
  channels.delete(key);
  client.close();
}
