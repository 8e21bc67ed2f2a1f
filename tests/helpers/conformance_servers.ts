/**
 * Plugin servers for the conformance command tests: ours hosting the conformance probe, and
 * deliberately broken ones (an `ExternalPluginServer` whose answers are altered after the
 * plugin ran) that the conformance run must catch, naming the check.
 *
 * @module
 */
import { Plugin, type PluginResult } from "../../mod.ts";
import { ExternalPluginServer } from "../../server.ts";
import type { PluginContextData } from "../../server.ts";
import type { InvokeHookResponseData } from "../../server.ts";
import { ConformanceProbe } from "../../testing.ts";

/** A plain plugin the generic checks drive (allows). */
export class PlainAllow extends Plugin {
  /** Creates it as `Allow` on `tool_pre_invoke`. */
  constructor() {
    super({ name: "Allow", kind: "inline", hooks: ["tool_pre_invoke"] });
  }
  /** Allows. */
  tool_pre_invoke(): PluginResult {
    return { metadata: { allowed_by: "deno" } };
  }
}

/** How a broken server alters its answers. */
export type Breakage = "drop-violation-code" | "mangle-unicode" | "swap-answers";

function ascii(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/[^ -~\t\n\r]/g, "?");
  if (Array.isArray(value)) return value.map(ascii);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [ascii(k) as string, ascii(v)]),
    );
  }
  return value;
}

/**
 * A plugin server that answers wrongly in one way: drops a violation's code, turns the
 * non-ASCII characters of a modified payload into `?`, or answers two calls in flight each
 * with the other's result.
 */
export class BrokenServer extends ExternalPluginServer {
  readonly #breakage: Breakage;
  #parked: ((reply: InvokeHookResponseData) => void) | null = null;
  #parkedReply: InvokeHookResponseData | null = null;

  /** Hosts the probe and `Allow`, broken as `breakage` says. */
  constructor(breakage: Breakage) {
    super({ plugins: [new ConformanceProbe(), new PlainAllow()] });
    this.#breakage = breakage;
  }

  /** Runs the hook, then alters the answer. */
  override async invokeHookWithContext(
    hookType: string,
    pluginName: string,
    payload: unknown,
    contextData: PluginContextData,
  ): Promise<InvokeHookResponseData> {
    const reply = await super.invokeHookWithContext(hookType, pluginName, payload, contextData);
    const result = reply.result;
    if (this.#breakage === "drop-violation-code") {
      const violation = result?.violation as Record<string, unknown> | null | undefined;
      if (violation) violation.code = "";
    } else if (this.#breakage === "mangle-unicode") {
      if (result?.modified_payload) result.modified_payload = ascii(result.modified_payload);
    } else if (this.#breakage === "swap-answers") {
      const args = (payload as { args?: { op?: string } }).args;
      if (args?.op !== "sleep") return reply;
      // Pairs calls in flight: the second one takes the first's reply, and the first waits.
      if (this.#parked) {
        const resolve = this.#parked;
        const mine = this.#parkedReply!;
        this.#parked = null;
        this.#parkedReply = null;
        resolve(reply);
        return mine;
      }
      return await new Promise<InvokeHookResponseData>((resolve) => {
        this.#parked = resolve;
        this.#parkedReply = reply;
      });
    }
    return reply;
  }
}
