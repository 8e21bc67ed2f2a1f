/**
 * The conformance driver of the gRPC transport (TCP, TLS, or a Unix socket): grpc-js unary
 * calls on the `cpex.PluginService` method table, `InvokeHook` decoded in full.
 *
 * @module
 */
import { loadGrpcJs } from "../external/grpc/grpc_js.ts";
import { PLUGIN_SERVICE, type UnaryMethod } from "../external/grpc/service.ts";
import { channelCredentials } from "../external/grpc/tls.ts";
import { DEFAULT_CHANNEL_OPTIONS } from "../external/grpc/client.ts";
import { type CpexMessages, decodeMessage } from "../external/proto/codec.ts";
import { fromStruct } from "../external/proto/struct.ts";
import type { TlsConfig } from "../types.ts";
import type { ConformanceDriver, WireInvoke, WireReply } from "./conformance_driver.ts";
import { protoReply, protoRequest } from "./conformance_proto.ts";
import type * as GrpcJsModule from "@grpc/grpc-js";

/** `InvokeHook` decoded in full (the client's method recognises default allows unread). */
const INVOKE_RAW: UnaryMethod<
  CpexMessages["InvokeHookRequest"],
  CpexMessages["InvokeHookResponse"]
> = {
  ...PLUGIN_SERVICE.InvokeHook,
  responseDeserialize: (bytes) => decodeMessage("InvokeHookResponse", bytes),
};

/** Raw `cpex.PluginService` calls on one grpc-js channel (TCP, TLS or a Unix socket). */
export class GrpcDriver implements ConformanceDriver {
  readonly target: string;
  readonly #client: GrpcJsModule.Client;
  readonly #grpc: typeof GrpcJsModule;

  private constructor(target: string, client: GrpcJsModule.Client, grpc: typeof GrpcJsModule) {
    this.target = target;
    this.#client = client;
    this.#grpc = grpc;
  }

  static async open(target: string, tls: TlsConfig | null): Promise<GrpcDriver> {
    const grpc = await loadGrpcJs();
    let channelTarget = target;
    let host = "";
    if (target.startsWith("/")) channelTarget = `unix://${target}`;
    else if (target.startsWith("unix:")) {
      channelTarget = `unix://${target.replace(/^unix:(\/\/)?/, "")}`;
    } else {
      const colon = target.lastIndexOf(":");
      if (colon <= 0) throw new Error(`gRPC target must be host:port or a socket path: ${target}`);
      host = target.slice(0, colon).replace(/^\[|\]$/g, "");
    }
    const setup = await channelCredentials(grpc, host, host ? tls : null);
    const client = new grpc.Client(channelTarget, setup.credentials, {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...setup.options,
    });
    return new GrpcDriver(channelTarget, client, grpc);
  }

  async listConfigs(signal: AbortSignal): Promise<Record<string, unknown>[]> {
    const response = await this.#unary(PLUGIN_SERVICE.GetPluginConfigs, {}, signal);
    return (response.configs ?? []).map((c) => fromStruct(c));
  }

  async getConfig(name: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const response = await this.#unary(PLUGIN_SERVICE.GetPluginConfig, { name }, signal);
    return response.found && response.config ? fromStruct(response.config) : null;
  }

  async invoke(request: WireInvoke, signal: AbortSignal): Promise<WireReply> {
    return protoReply(await this.#unary(INVOKE_RAW, protoRequest(request), signal));
  }

  close(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }

  #unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, signal: AbortSignal): Promise<Res> {
    signal.throwIfAborted();
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new this.#grpc.Metadata(),
        {},
        (error, value) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) reject(signal.reason);
          else if (error) {
            const name = this.#grpc.status[error.code] ?? String(error.code);
            reject(new Error(`gRPC ${method.originalName} failed: ${name}: ${error.details}`));
          } else if (value === undefined) reject(new Error("empty gRPC response"));
          else resolve(value);
        },
      );
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
