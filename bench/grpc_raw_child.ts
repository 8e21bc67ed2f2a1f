/**
 * Child process of `grpc_ratio.ts`: the raw grpc-js baseline, no framework code. A grpc-js
 * `Server` with one unary method at `/cpex.PluginService/InvokeHook`, on TCP `127.0.0.1:PORT`
 * and on the Unix socket SOCK. Per request it decodes the `InvokeHookRequest` with our protobuf
 * codec (the serializers of `src/external/grpc/service.ts`), converts payload Struct and context
 * to JSON, and answers an `InvokeHookResponse` whose result Struct echoes the payload
 * (`{continue_processing: true, modified_payload: <payload>}`); the client checks the echo. That
 * is the `grpc_tcp/2proc` / `grpc_unix/2proc` method of shared/spec/transport-baselines.md
 * (unary echo of the same payload as a Struct plus a context message).
 *
 * grpc-js is loaded through `loadGrpcJs()` (see below). Prints `READY` once both addresses listen; stops (removing the socket) on SIGTERM/SIGINT or
 * when stdin closes.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:PORT,unix:SOCK --allow-read=SOCK --allow-write=SOCK \
 *   --allow-env=GRPC_TRACE,GRPC_VERBOSITY,... bench/grpc_raw_child.ts PORT SOCK
 * ```
 *
 * @module
 */
import type * as grpcTypes from "@grpc/grpc-js";
import { loadGrpcJs } from "../src/external/grpc/grpc_js.ts";
import { PLUGIN_SERVICE } from "../src/external/grpc/service.ts";
import type { InvokeHookRequest, InvokeHookResponse } from "../src/external/proto/codec.ts";
import { fromStruct, pluginContextFromProto, toStruct } from "../src/external/proto/struct.ts";
import { printReady, stdinClosed } from "./children.ts";

const port = Number(Deno.args[0]);
const uds = Deno.args[1];
if (!Number.isInteger(port) || port <= 0 || !uds?.startsWith("/")) {
  console.error("usage: grpc_raw_child.ts PORT SOCKET_PATH");
  Deno.exit(2);
}

// Through loadGrpcJs() only for its node:http2 GOAWAY guard (goaway_guard.ts): without it this
// plain grpc-js server crashed natively (nghttp2 `find_stream_on_goaway_func` assertion,
// denoland/deno#36788) on the first or second client that closed its channel. The guard does
// nothing per call; it only defers a session's teardown after a GOAWAY.
const grpc = await loadGrpcJs();
const server = new grpc.Server();
server.addService(
  { InvokeHook: PLUGIN_SERVICE.InvokeHook } as unknown as grpcTypes.ServiceDefinition,
  {
    InvokeHook: (
      call: grpcTypes.ServerUnaryCall<InvokeHookRequest, InvokeHookResponse>,
      callback: grpcTypes.sendUnaryData<InvokeHookResponse>,
    ) => {
      const request = call.request;
      const payload = fromStruct(request.payload);
      pluginContextFromProto(request.context);
      callback(null, {
        plugin_name: request.plugin_name,
        result: toStruct({ continue_processing: true, modified_payload: payload }),
      });
    },
  },
);

function bind(address: string): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(
      address,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => error ? reject(error) : resolve(bound),
    )
  );
}

await Deno.remove(uds).catch(() => {});
await bind(`127.0.0.1:${port}`);
await bind(`unix://${uds}`);

let stopping: Promise<void> | null = null;
const stop = () =>
  stopping ??= new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2_000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  }).then(() => Deno.remove(uds).catch(() => {}));
Deno.addSignalListener("SIGTERM", () => void stop().then(() => Deno.exit(0)));
Deno.addSignalListener("SIGINT", () => void stop().then(() => Deno.exit(0)));
await printReady();
await stdinClosed(); // the parent is gone
await stop();
Deno.exit(0);
