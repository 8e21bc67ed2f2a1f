/**
 * The per-request lifecycle of one MCP session's POSTs around the SDK's
 * `WebStandardStreamableHTTPServerTransport` in JSON-response mode (issue 9, items 1, 5, 7).
 *
 * The SDK (1.32.2, the newest 1.x; upstream issue modelcontextprotocol/typescript-sdk#2559,
 * fix #2747 unreleased) leaves three gaps in that mode, which this class closes:
 * - every answered POST leaves its stream-mapping entry behind, holding the parsed body
 *   (about 2.2 KB per small call, the whole body for a large one): released after each POST;
 * - a POST whose request the client cancels (`notifications/cancelled`, in the same or
 *   another POST) is never answered: it is answered with a "request cancelled" error;
 * - a POST whose client goes away keeps its handler and entries: the handler is told
 *   (a `notifications/cancelled` on its behalf) and the POST is settled at once;
 * - a POST still waiting when the session ends hangs: it is answered before the close.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isRecord } from "../is_record.ts";

/** A JSON-RPC request id. */
export type RequestId = string | number;

/** JSON-RPC error code of a request answered because it was cancelled (as LSP's). */
export const REQUEST_CANCELLED = -32800;

/** The two SDK maps the JSON-mode leak lives in (plain JS properties of the transport). */
interface SdkMaps {
  _streamMapping: Map<string, { resolveJson?: unknown }>;
  _requestToStreamMapping: Map<RequestId, string>;
}

function isId(value: unknown): value is RequestId {
  return typeof value === "string" || typeof value === "number";
}

/**
 * The ids of the JSON-RPC requests in a parsed POST body (a message or a batch), or null when
 * one id appears twice (the SDK would answer only one of them).
 */
export function requestIds(parsed: unknown): RequestId[] | null {
  const ids: RequestId[] = [];
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
    if (isRecord(message) && typeof message.method === "string" && isId(message.id)) {
      if (ids.includes(message.id)) return null;
      ids.push(message.id);
    }
  }
  return ids;
}

/** The request id a `notifications/cancelled` message names, if it is one. */
function cancelledId(message: unknown): RequestId | null {
  return isRecord(message) && message.method === "notifications/cancelled" &&
      isRecord(message.params) && isId(message.params.requestId)
    ? message.params.requestId
    : null;
}

type Deliver = NonNullable<WebStandardStreamableHTTPServerTransport["onmessage"]>;

/**
 * Runs one session's POSTs through its SDK transport and gives back what each one held.
 */
export class RequestLifecycle {
  readonly #transport: WebStandardStreamableHTTPServerTransport;
  readonly #maps: SdkMaps | null;
  readonly #inFlight = new Set<RequestId>();
  readonly #waiting = new Set<(response: Response) => void>();
  #deliver: Deliver | null = null;

  /** Wraps `transport` (JSON-response mode). */
  constructor(transport: WebStandardStreamableHTTPServerTransport) {
    this.#transport = transport;
    const maps = transport as unknown as Partial<SdkMaps>;
    // Only touched when the SDK still has the shape the leak was found in (pinned 1.32.2).
    this.#maps = maps._streamMapping instanceof Map && maps._requestToStreamMapping instanceof Map
      ? maps as SdkMaps
      : null;
  }

  /**
   * Watches what the transport delivers to the SDK server (call after `connect`): a client's
   * `notifications/cancelled` makes the handler stop without answering, so the cancelled
   * request is answered here, whichever POST (or batch) it came in.
   */
  attach(): void {
    const deliver = this.#transport.onmessage;
    if (!deliver) return;
    this.#deliver = deliver;
    this.#transport.onmessage = (message, extra) => {
      deliver(message, extra);
      const id = cancelledId(message);
      if (id !== null && this.#inFlight.has(id)) {
        void this.#cancel([id], "cancelled by the client", false);
      }
    };
  }

  /** Requests of this session being handled. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** True when one of `ids` is already being handled (the SDK would drop one answer). */
  conflicts(ids: readonly RequestId[]): boolean {
    return ids.some((id) => this.#inFlight.has(id));
  }

  /**
   * Hands a POST to the transport; settles it if `req` is aborted (the client went away) and
   * answers requests the body cancels. `ids` are {@linkcode requestIds} of `parsed`.
   */
  async post(req: Request, parsed: unknown, ids: readonly RequestId[]): Promise<Response> {
    for (const id of ids) this.#inFlight.add(id);
    const onAbort = () => void this.#cancel(ids, "the client went away", true);
    req.signal.addEventListener("abort", onAbort, { once: true });
    const ended = Promise.withResolvers<Response>();
    this.#waiting.add(ended.resolve);
    try {
      const response = await Promise.race([
        this.#transport.handleRequest(req, { parsedBody: parsed }),
        ended.promise,
      ]);
      return response;
    } finally {
      this.#waiting.delete(ended.resolve);
      req.signal.removeEventListener("abort", onAbort);
      for (const id of ids) this.#inFlight.delete(id);
      this.#release();
    }
  }

  /**
   * The session has ended (DELETE, eviction, shutdown): handlers are told, and every waiting
   * POST is answered 404 at once (the closed transport would never answer them).
   */
  end(): void {
    for (const id of this.#inFlight) {
      this.#deliver?.({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: id, reason: "the session ended" },
      });
    }
    for (const resolve of this.#waiting) {
      resolve(
        Response.json({
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        }, { status: 404 }),
      );
    }
  }

  /**
   * Answers `ids` with a cancellation error through the transport, which completes their POST
   * as if the handler had; `tellHandler` also aborts the handler the way a client cancel does.
   */
  async #cancel(ids: readonly RequestId[], reason: string, tellHandler: boolean): Promise<void> {
    for (const id of ids) {
      if (!this.#inFlight.has(id)) continue;
      if (tellHandler) {
        this.#deliver?.({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: id, reason },
        });
      }
      await this.#transport.send({
        jsonrpc: "2.0",
        id,
        error: { code: REQUEST_CANCELLED, message: `Request cancelled: ${reason}` },
      }).catch(() => {}); // already answered
    }
  }

  /** Drops JSON-mode stream entries no waiting request points at any more (the SDK leak). */
  #release(): void {
    if (!this.#maps) return;
    const { _streamMapping: streams, _requestToStreamMapping: requests } = this.#maps;
    if (streams.size === 0) return;
    const live = new Set(requests.values());
    for (const [streamId, stream] of streams) {
      if (stream.resolveJson && !live.has(streamId)) streams.delete(streamId);
    }
  }
}
