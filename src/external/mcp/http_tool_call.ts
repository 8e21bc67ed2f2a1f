/**
 * The gateway's lean `tools/call` over Streamable HTTP (issue 13): one POST of a JSON-RPC
 * request on the session the SDK client opened (its `mcp-session-id` and
 * `mcp-protocol-version` headers), answered as JSON or as an SSE stream, with the SDK's
 * behaviour where the proxy relies on it: HTTP errors are `StreamableHTTPError`s (404: the
 * session is gone, so the proxy reconnects), JSON-RPC errors are `McpError`s, a timeout or an
 * aborted call aborts the POST and sends `notifications/cancelled`.
 *
 * Why not the SDK's `Client.callTool`: per call it builds `Headers` twice, validates the
 * answer twice with zod (the JSON-RPC envelope, then the result) and keeps per-request
 * bookkeeping the proxy does not use; that was most of the gateway's CPU above the raw SDK
 * echo. Initialize, `tools/list`, `get_plugin_config` and session termination still go
 * through the SDK. Request ids are strings (`c1`, `c2`, ...), so they never collide with the
 * SDK client's numeric ids on the same session.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { type CallToolResult, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { isRecord } from "../is_record.ts";

/** What a lean call needs of the SDK transport: the session it negotiated. */
export interface NegotiatedSession {
  readonly sessionId: string | undefined;
  readonly protocolVersion: string | undefined;
}

/**
 * Sends `tools/call` requests on one session with `fetch` (bound to the connector's pool).
 */
export class HttpToolCaller {
  readonly #url: string;
  readonly #fetch: typeof fetch;
  readonly #session: NegotiatedSession;
  readonly #timeoutMs: number;
  #next = 0;

  /** `timeoutMs`: the per-request limit (the SDK's `timeout` option). */
  constructor(url: string, fetchFn: typeof fetch, session: NegotiatedSession, timeoutMs: number) {
    this.#url = url;
    this.#fetch = fetchFn;
    this.#session = session;
    this.#timeoutMs = timeoutMs;
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "accept": "application/json, text/event-stream",
    };
    const { sessionId, protocolVersion } = this.#session;
    if (sessionId) headers["mcp-session-id"] = sessionId;
    if (protocolVersion) headers["mcp-protocol-version"] = protocolVersion;
    return headers;
  }

  /** Calls the tool; `params` as the SDK's `callTool` takes them (name, arguments, `_meta`). */
  async call(params: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
    signal.throwIfAborted();
    const id = `c${++this.#next}`;
    const body = `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":${
      JSON.stringify(params)
    }}`;
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () =>
        abort.abort(
          new McpError(ErrorCode.RequestTimeout, "Request timed out", { timeout: this.#timeoutMs }),
        ),
      this.#timeoutMs,
    );
    try {
      const response = await this.#fetch(this.#url, {
        method: "POST",
        headers: this.#headers(),
        body,
        signal: abort.signal,
      });
      if (!response.ok) {
        const text = await response.text().catch(() => null);
        throw new StreamableHTTPError(response.status, `Error POSTing to endpoint: ${text}`);
      }
      const type = response.headers.get("content-type") ?? "";
      let message: Record<string, unknown> | null;
      if (type.startsWith("application/json")) {
        message = find(await response.json(), id);
      } else if (type.startsWith("text/event-stream") && response.body) {
        message = await fromEventStream(response.body, id);
      } else {
        await response.body?.cancel();
        throw new StreamableHTTPError(-1, `Unexpected content type: ${type}`);
      }
      if (message === null) throw new Error(`no answer to tools/call request ${id}`);
      const error = message.error;
      if (isRecord(error)) {
        throw McpError.fromError(
          typeof error.code === "number" ? error.code : ErrorCode.InternalError,
          typeof error.message === "string" ? error.message : "unknown error",
          error.data,
        );
      }
      if (!isRecord(message.result)) throw new Error(`invalid answer to tools/call request ${id}`);
      return message.result as CallToolResult;
    } catch (error) {
      if (abort.signal.aborted) {
        this.#cancelled(id, abort.signal.reason);
        throw abort.signal.reason;
      }
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Tells the server to stop working on `id` (best effort, as the SDK does). */
  #cancelled(id: string, reason: unknown): void {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: id, reason: String(reason) },
    });
    this.#fetch(this.#url, { method: "POST", headers: this.#headers(), body })
      .then((response) => response.body?.cancel())
      .catch(() => {});
  }
}

/** The response to `id` in a JSON-RPC message or batch. */
function find(data: unknown, id: string): Record<string, unknown> | null {
  for (const message of Array.isArray(data) ? data : [data]) {
    if (isRecord(message) && message.id === id && ("result" in message || "error" in message)) {
      return message;
    }
  }
  return null;
}

/**
 * Reads SSE events until the response to `id` (other messages on the stream, notifications
 * or server requests, are not for this call); stops reading once it arrived.
 */
async function fromEventStream(
  stream: ReadableStream<Uint8Array>,
  id: string,
): Promise<Record<string, unknown> | null> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return null;
      buffer += value.replaceAll("\r\n", "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const found = eventMessage(event, id);
        if (found) return found;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The response to `id` carried by one SSE event (its `data:` lines), if it is one. */
function eventMessage(event: string, id: string): Record<string, unknown> | null {
  let data = "";
  let kind = "message";
  for (const line of event.split("\n")) {
    if (line.startsWith("data:")) {
      data += (data ? "\n" : "") + line.slice(line.startsWith("data: ") ? 6 : 5);
    } else if (line.startsWith("event:")) kind = line.slice(6).trim();
  }
  if (kind !== "message" || data === "") return null;
  try {
    return find(JSON.parse(data), id);
  } catch {
    return null; // not JSON: not an answer to us
  }
}
