/**
 * The hook recorder (issue 17 item 1): appends each sampled hook invocation — hook, payload,
 * global context and the decision — as one JSON line to a file (rotated at a size cap) or any
 * `WritableStream`.
 *
 * Recording never slows or breaks a call: the call only pushes its (frozen) payload and a copy
 * of its context onto a bounded queue; serialising, redacting and writing happen later, off the
 * call path. A full queue or a failing write (full disk, closed stream) drops records, counted
 * in {@linkcode HookRecorder.dropped} and the `cpex.record.dropped` metric, and never fails a
 * call.
 *
 * @module
 */
import type { CpexMetrics } from "../observability/metrics.ts";
import type { ExecutionRecord, PluginViolation } from "../types.ts";
import { type RedactOptions, Redactor } from "./redact.ts";

/**
 * Options of a {@linkcode HookRecorder} (the config file's `plugin_settings.record`, in
 * camelCase here).
 *
 * @example
 * ```ts
 * import type { RecorderOptions } from "@cpex/core";
 * const o: RecorderOptions = { path: "/var/log/cpex/hooks.jsonl", sampleRate: 0.1 };
 * ```
 */
export interface RecorderOptions {
  /** File to append to (created 0600). One of `path` and `stream` is required. */
  path?: string;
  /** Any writable byte stream instead of a file (no rotation). */
  stream?: WritableStream<Uint8Array>;
  /** Fraction of invocations recorded, 0 to 1 (1). */
  sampleRate?: number;
  /** Rotate the file before it grows past this many bytes (64 MiB). */
  maxBytes?: number;
  /** Rotated files kept (`path.1` … `path.N`; 3). 0 truncates instead. */
  maxFiles?: number;
  /** Redaction; by default emails and card numbers are replaced. `false` turns it off. */
  redact?: RedactOptions | false;
  /** Records waiting to be written before new ones are dropped (10,000). */
  queueSize?: number;
  /** Where dropped records are counted (`cpex.record.dropped`), if anywhere. */
  metrics?: CpexMetrics | null;
}

/**
 * The decision of one recorded invocation.
 */
export interface RecordedDecision {
  /** False when the chain was blocked. */
  continue: boolean;
  /** The blocking violation (code, plugin, reason), or null. */
  violation: { code: string; plugin: string | null; reason: string } | null;
  /** The modified payload, when a plugin changed it. */
  modified_payload?: unknown;
  /** The invocation's error message when it threw instead (a failing plugin). */
  error?: string;
  /** Per-plugin outcomes from the execution records. */
  plugins: RecordedPlugin[];
}

/** One plugin's outcome in a recorded invocation. */
export interface RecordedPlugin {
  /** Plugin name. */
  name: string;
  /** Record status (`completed`, `error`, `timeout`, `skipped`, ...). */
  status: string;
  /** False when it blocked. */
  allow: boolean;
  /** True when its payload change was accepted. */
  modified: boolean;
  /** Violation or error code, or null. */
  code: string | null;
  /** Call duration in milliseconds. */
  duration_ms: number;
}

/**
 * One line of a recording.
 *
 * @example
 * ```ts
 * import type { RecordedCall } from "@cpex/core";
 * const line: RecordedCall = JSON.parse(
 *   '{"v":1,"ts":"2026-01-01T00:00:00.000Z","hook":"tool_pre_invoke","payload":{},' +
 *     '"global_context":{"request_id":"r1"},"duration_ms":0.1,' +
 *     '"decision":{"continue":true,"violation":null,"plugins":[]}}',
 * );
 * console.log(line.hook); // tool_pre_invoke
 * ```
 */
export interface RecordedCall {
  /** Format version (1). */
  v: 1;
  /** When the call started (ISO 8601). */
  ts: string;
  /** Hook name. */
  hook: string;
  /** The input payload (redacted). */
  payload: unknown;
  /** The input global context (redacted). */
  global_context: unknown;
  /** Whole-chain duration in milliseconds. */
  duration_ms: number;
  /** What the chain decided. */
  decision: RecordedDecision;
}

/** What the manager hands the recorder for one finished invocation. */
export interface CallOutcome {
  /** The chain's result (null when it threw). */
  result: {
    continue_processing: boolean;
    violation: PluginViolation | null;
    modified_payload?: unknown;
    executions?: ExecutionRecord[];
  } | null;
  /** What it threw, if it did. */
  error?: unknown;
}

interface Pending {
  ts: number;
  hook: string;
  payload: unknown;
  global: unknown;
  durationMs: number;
  outcome: CallOutcome;
}

const encoder = new TextEncoder();

/** Summarises a chain result or error as a {@linkcode RecordedDecision}. */
export function decisionOf(outcome: CallOutcome): RecordedDecision {
  const r = outcome.result;
  if (r === null) {
    const e = outcome.error;
    const records = (e as { records?: ExecutionRecord[] } | undefined)?.records;
    const violation = (e as { violation?: PluginViolation | null } | undefined)?.violation;
    return {
      continue: violation ? false : true,
      violation: violation ? violationOf(violation) : null,
      ...(violation ? {} : { error: e instanceof Error ? e.message : String(e) }),
      plugins: Array.isArray(records) ? records.map(pluginOf) : [],
    };
  }
  const out: RecordedDecision = {
    continue: r.continue_processing,
    violation: r.violation ? violationOf(r.violation) : null,
    plugins: (r.executions ?? []).map(pluginOf),
  };
  if (r.modified_payload !== undefined && r.modified_payload !== null) {
    out.modified_payload = r.modified_payload;
  }
  return out;
}

function violationOf(v: PluginViolation): NonNullable<RecordedDecision["violation"]> {
  return { code: String(v.code), plugin: v.plugin_name ?? null, reason: String(v.reason) };
}

function pluginOf(r: ExecutionRecord): RecordedPlugin {
  return {
    name: r.plugin_name,
    status: r.status,
    allow: r.effective_allow,
    modified: r.payload_modified,
    code: r.error_code,
    duration_ms: r.duration_ns / 1e6,
  };
}

/**
 * Records hook invocations as JSON lines. Pass one as the manager's `recorder` option, or let
 * the manager create one from the config's `plugin_settings.record`.
 * {@linkcode HookRecorder.close} writes what is queued and closes the file; the manager's
 * `shutdown()` flushes its recorder and closes it only if it created it.
 *
 * @example
 * ```ts
 * import { HookRecorder, PluginManager } from "@cpex/core";
 * const recorder = new HookRecorder({ path: "/tmp/cpex-doc-recording.jsonl" });
 * const manager = new PluginManager(null, { recorder });
 * await manager.initialize();
 * await manager.shutdown(); // flushes the recorder (it closes only one the config created)
 * await recorder.close();
 * console.log(recorder.dropped); // 0
 * ```
 */
export class HookRecorder {
  /** Records dropped (queue full, unserialisable, write error). */
  dropped = 0;
  /** Records written. */
  written = 0;
  readonly #path: string | undefined;
  readonly #stream: WritableStream<Uint8Array> | undefined;
  readonly #sampleRate: number;
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  readonly #queueSize: number;
  readonly #redactor: Redactor | null;
  readonly #metrics: CpexMetrics | null;
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #file: Deno.FsFile | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #size = 0;
  #closed = false;

  /** Creates a recorder; nothing is opened until the first record is written. */
  constructor(options: RecorderOptions) {
    if (!options.path && !options.stream) {
      throw new TypeError("HookRecorder needs a path or a stream");
    }
    const rate = options.sampleRate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError("sampleRate must be between 0 and 1");
    this.#path = options.path;
    this.#stream = options.stream;
    this.#sampleRate = rate;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#maxFiles = options.maxFiles ?? 3;
    this.#queueSize = options.queueSize ?? 10_000;
    const redactor = options.redact === false ? null : new Redactor(options.redact ?? {});
    this.#redactor = redactor && !redactor.empty ? redactor : null;
    this.#metrics = options.metrics ?? null;
  }

  /** Decides, once per invocation, whether to record it (the sampling rate). */
  sample(): boolean {
    return !this.#closed && (this.#sampleRate >= 1 || Math.random() < this.#sampleRate);
  }

  /**
   * Queues one finished invocation. `global` must be a copy taken before the chain ran (plugins
   * may change the live one), as an object or its JSON text; `payload` is the frozen input.
   * Never throws.
   */
  add(
    hook: string,
    payload: unknown,
    global: unknown,
    startedAt: number,
    durationMs: number,
    outcome: CallOutcome,
  ): void {
    if (this.#closed || this.#queue.length >= this.#queueSize) {
      this.#drop(1);
      return;
    }
    this.#queue.push({ ts: startedAt, hook, payload, global, durationMs, outcome });
    // A macrotask, not a microtask: the write starts after the caller got its result.
    if (this.#flushing === null) {
      this.#flushing = new Promise<void>((resolve) => setTimeout(resolve, 0))
        .then(() => this.#drain())
        .finally(() => {
          this.#flushing = null;
          if (this.#queue.length && !this.#closed) this.#kick();
        });
    }
  }

  #kick(): void {
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = null;
    });
  }

  /** Resolves when everything queued so far is written (or dropped). */
  async flush(): Promise<void> {
    while (this.#flushing !== null || this.#queue.length) {
      if (this.#flushing === null) this.#kick();
      await this.#flushing;
    }
  }

  /** Writes what is queued, then closes the file (or releases the stream's writer). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = null;
    if (this.#writer) {
      try {
        await this.#writer.close();
      } catch { /* a failed stream is closed already */ }
      this.#writer = null;
    }
  }

  #drop(n: number): void {
    this.dropped += n;
    if (this.#metrics) this.#metrics.recordDropped += n;
  }

  #line(p: Pending): string | null {
    try {
      const decision = decisionOf(p.outcome);
      let payload = p.payload;
      // The manager hands a JSON snapshot (taken on the call path, parsed here, off it).
      let global = typeof p.global === "string" ? JSON.parse(p.global) : p.global;
      const r = this.#redactor;
      if (r) {
        payload = r.apply(payload, "");
        global = r.apply(global, "global_context");
        if (decision.modified_payload !== undefined) {
          decision.modified_payload = r.apply(decision.modified_payload, "");
        }
        if (decision.violation) {
          decision.violation.reason = r.apply(decision.violation.reason, "") as string;
        }
      }
      const call: RecordedCall = {
        v: 1,
        ts: new Date(p.ts).toISOString(),
        hook: p.hook,
        payload,
        global_context: global,
        duration_ms: Math.round(p.durationMs * 1000) / 1000,
        decision,
      };
      return JSON.stringify(call) + "\n";
    } catch {
      return null; // not JSON data (a BigInt, a cycle): dropped, never thrown into a call
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const batch = this.#queue;
      this.#queue = [];
      const lines: string[] = [];
      for (const p of batch) {
        const line = this.#line(p);
        if (line === null) this.#drop(1);
        else lines.push(line);
      }
      if (lines.length === 0) continue;
      try {
        if (this.#stream) await this.#writeStream(encoder.encode(lines.join("")));
        else await this.#writeFile(lines);
        this.written += lines.length;
      } catch {
        this.#drop(lines.length);
      }
    }
  }

  async #writeStream(bytes: Uint8Array): Promise<void> {
    this.#writer ??= this.#stream!.getWriter();
    await this.#writer.write(bytes);
  }

  async #writeFile(lines: string[]): Promise<void> {
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const line of lines) {
      const n = encoder.encode(line).length;
      if (this.#file === null) await this.#open();
      if (this.#size + chunkBytes + n > this.#maxBytes && this.#size + chunkBytes > 0) {
        if (chunk.length) await this.#append(chunk.join(""), chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.#rotate();
      }
      chunk.push(line);
      chunkBytes += n;
    }
    if (chunk.length) await this.#append(chunk.join(""), chunkBytes);
  }

  async #append(text: string, bytes: number): Promise<void> {
    const data = encoder.encode(text);
    let off = 0;
    while (off < data.length) off += await this.#file!.write(data.subarray(off));
    this.#size += bytes;
  }

  async #open(): Promise<void> {
    const path = this.#path!;
    this.#file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    this.#size = (await this.#file.stat()).size;
  }

  async #rotate(): Promise<void> {
    const path = this.#path!;
    this.#file?.close();
    this.#file = null;
    if (this.#maxFiles > 0) {
      for (let i = this.#maxFiles - 1; i >= 1; i--) {
        await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
      }
      await Deno.rename(path, `${path}.1`);
    } else {
      await Deno.truncate(path, 0);
    }
    await this.#open();
  }
}
