/**
 * Realistic tool-call payloads for the benchmarks (issue 13): nested tool arguments of about
 * 100 B, 1 KB and 10 KB as JSON text, parsed afresh per call the way a gateway receives them, so
 * nothing can be skipped for an object an earlier call already froze or checked.
 *
 * @module
 */
import type { ToolPreInvokePayload } from "../mod.ts";

/** The payload sizes measured, by label. */
export const SIZES: Readonly<Record<string, number>> = {
  "100 B": 100,
  "1 KB": 1024,
  "10 KB": 10240,
};

/** One search hit, as a search tool's follow-up call would carry it. */
function hit(i: number): Record<string, unknown> {
  return {
    id: `doc-${1000 + i}`,
    title: `Quarterly report ${i} — revenue, costs & outlook`,
    score: Math.round((0.99 - i * 0.013) * 1000) / 1000,
    tags: ["finance", i % 2 ? "draft" : "final"],
    owner: { user: `user${i}@example.com`, team: "analytics" },
  };
}

/**
 * JSON text of a `tool_pre_invoke` payload of at least `bytes` bytes (nested objects, arrays,
 * numbers, booleans, non-ASCII text).
 *
 * ```ts ignore
 * import { payloadText } from "./payloads.ts";
 * console.log(payloadText(1024).length >= 1024); // true
 * ```
 */
export function payloadText(bytes: number): string {
  const args: Record<string, unknown> = {
    query: "deno plugin frameworks",
    limit: 5,
  };
  let text = JSON.stringify({ name: "web_search", args });
  if (text.length >= bytes) return text;
  args.filters = { lang: "en", safe: true, since: "2026-01-01" };
  text = JSON.stringify({ name: "web_search", args });
  const hits: Record<string, unknown>[] = [];
  for (let i = 0; text.length < bytes; i++) {
    if (i === 0) args.context = { hits };
    hits.push(hit(i));
    text = JSON.stringify({ name: "web_search", args });
  }
  return text;
}

/**
 * A fresh payload parsed from `text` (a new object graph per call).
 *
 * ```ts ignore
 * import { freshPayload, payloadText } from "./payloads.ts";
 * const p = freshPayload(payloadText(100));
 * ```
 */
export function freshPayload(text: string): ToolPreInvokePayload {
  return JSON.parse(text) as ToolPreInvokePayload;
}
