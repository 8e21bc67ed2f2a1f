/**
 * MCP over a pair of byte streams, one JSON-RPC message per `\n`-terminated line (the MCP
 * STDIO framing, wire.md §3.2): the server reads stdin and writes stdout, the gateway reads
 * a child's stdout and writes its stdin. Implements the SDK's `Transport` interface so an
 * SDK `Client` or `McpServer` runs on it unchanged.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/shared/transport"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ExactNumbers } from "./exact_numbers.ts";

/** The longest line accepted (16 MiB, as the Unix socket frame limit). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * How long, once the input has ended, answers to requests still running may take to go out
 * before the transport closes anyway (default of {@linkcode LineTransportOptions.drainTimeoutMs}).
 */
export const DRAIN_TIMEOUT_MS = 1_000;

/**
 * What a {@linkcode LineTransport} does with a line that is not a JSON-RPC message: `parse`
 * (not JSON), `invalid` (JSON but not JSON-RPC) or `too_long`. `id` is the request id when
 * one could be read.
 */
export type BadLineHandler = (
  kind: "parse" | "invalid" | "too_long",
  id: string | number | null,
  transport: LineTransport,
) => void;

/**
 * Options of {@linkcode LineTransport}.
 */
export interface LineTransportOptions {
  /** Longest accepted line in bytes (default {@linkcode MAX_LINE_BYTES}). */
  maxLineBytes?: number;
  /** Called for each line that is not a JSON-RPC message (default: `onerror`). */
  onBadLine?: BadLineHandler;
  /** Remembers the exact numbers of `invoke_hook` calls read (the server side, item 7). */
  numbers?: ExactNumbers;
  /**
   * Once the input has ended, how long to wait for the answers of requests still running
   * before closing (default {@linkcode DRAIN_TIMEOUT_MS}); cancelled requests are not waited
   * for. A plugin server must not outlive its gateway (issue 9 item 6).
   */
  drainTimeoutMs?: number;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/**
 * Newline-delimited JSON-RPC over a readable and a writable byte stream.
 */
export class LineTransport implements Transport {
  /** Called when the input ends or `close()` runs (once). */
  onclose?: () => void;
  /** Called on I/O and framing errors. */
  onerror?: (error: Error) => void;
  /** Called for each message read. */
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  readonly #readable: ReadableStream<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #maxLine: number;
  readonly #onBadLine: BadLineHandler | undefined;
  readonly #numbers: ExactNumbers | undefined;
  readonly #drainMs: number;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #loop: Promise<void> | null = null;
  #closed = false;
  /** Ids of requests read and not yet answered: at end of input they are answered first. */
  readonly #unanswered = new Set<string | number>();
  #drained: (() => void) | null = null;

  /** Wraps `readable` (incoming lines) and `writable` (outgoing lines). */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    options: LineTransportOptions = {},
  ) {
    this.#readable = readable;
    this.#writer = writable.getWriter();
    this.#maxLine = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.#onBadLine = options.onBadLine;
    this.#numbers = options.numbers;
    this.#drainMs = options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
  }

  /** Starts reading. */
  start(): Promise<void> {
    if (this.#loop) throw new Error("LineTransport already started");
    this.#reader = this.#readable.getReader();
    this.#loop = this.#read(this.#reader);
    return Promise.resolve();
  }

  /** Writes one message as one line. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new Error("Transport closed");
    await this.#writer.write(encoder.encode(JSON.stringify(message) + "\n"));
    if (this.#unanswered.size && "id" in message && !("method" in message)) {
      this.#unanswered.delete(message.id as string | number);
      if (this.#unanswered.size === 0) this.#drained?.();
    }
  }

  /** Stops reading, closes the output and fires `onclose`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#drained?.();
    await this.#reader?.cancel().catch(() => {});
    await this.#loop;
    await this.#writer.close().catch(() => {});
    this.onclose?.();
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let chunks: Uint8Array[] = [];
    let size = 0;
    let skipping = false; // inside an over-long line: drop bytes up to its newline
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        let start = 0;
        while (start < value.length) {
          const end = value.indexOf(NEWLINE, start);
          if (end === -1) {
            if (!skipping) {
              size += value.length - start;
              if (size > this.#maxLine) {
                skipping = true;
                chunks = [];
                size = 0;
                this.#bad("too_long", null);
              } else chunks.push(value.subarray(start));
            }
            break;
          }
          if (skipping) skipping = false;
          else {
            chunks.push(value.subarray(start, end));
            size += end - start;
            if (size > this.#maxLine) this.#bad("too_long", null);
            else this.#line(decoder.decode(concat(chunks, size)));
          }
          chunks = [];
          size = 0;
          start = end + 1;
        }
      }
    } catch (error) {
      if (!this.#closed) this.onerror?.(error instanceof Error ? error : new Error(String(error)));
    } finally {
      reader.releaseLock();
    }
    if (!this.#closed && this.#unanswered.size) {
      // Input ended with requests in flight: let their answers out before closing, for a
      // bounded time (closing then aborts the handlers still running).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = setTimeout(resolve, this.#drainMs);
      });
      clearTimeout(timer);
    }
    if (!this.#closed) {
      this.#closed = true;
      await this.#writer.close().catch(() => {});
      this.onclose?.();
    }
  }

  #line(line: string): void {
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (text.trim() === "") return;
    let json: unknown;
    try {
      json = this.#numbers ? this.#numbers.parse(text) : JSON.parse(text);
    } catch {
      return this.#bad("parse", null);
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown } | null)?.id;
      return this.#bad("invalid", typeof id === "string" || typeof id === "number" ? id : null);
    }
    const message = parsed.data;
    if ("method" in message) {
      if ("id" in message) this.#unanswered.add(message.id);
      else if (message.method === "notifications/cancelled") this.#forget(message.params);
    }
    this.onmessage?.(message);
  }

  /** A cancelled request gets no answer (the SDK sends none): stop waiting for one (item 6). */
  #forget(params: unknown): void {
    const id = (params as { requestId?: unknown } | undefined)?.requestId;
    if ((typeof id === "string" || typeof id === "number") && this.#unanswered.delete(id)) {
      if (this.#unanswered.size === 0) this.#drained?.();
    }
  }

  #bad(kind: "parse" | "invalid" | "too_long", id: string | number | null): void {
    if (this.#onBadLine) this.#onBadLine(kind, id, this);
    else this.onerror?.(new Error(`Unreadable MCP message (${kind})`));
  }

  /** Writes a raw JSON value as one line (error replies to unreadable lines). */
  async sendRaw(value: unknown): Promise<void> {
    if (this.#closed) return;
    await this.#writer.write(encoder.encode(JSON.stringify(value) + "\n")).catch(() => {});
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
