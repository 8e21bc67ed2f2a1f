/**
 * `deno bench` for the payload size check (C3, issue 11 item 2) on fresh 100 B, 1 KB and 10 KB
 * tool arguments, against `JSON.stringify` of the same arguments (marked `baseline`): the walk
 * that counts Python's rendering should cost about what serialising the payload once costs.
 *
 * Run: `deno bench bench/payload_size_bench.ts`.
 *
 * @module
 */
import { payloadSizeError } from "../src/manager/payload_size.ts";

function toolArgs(entries: number): { name: string; args: Record<string, unknown> } {
  const args: Record<string, unknown> = {};
  for (let i = 0; i < entries; i++) {
    args[`k${i}`] = {
      id: i,
      name: `item name ${i}`,
      tags: ["a", "b", "c"],
      score: i * 1.5,
      ok: true,
      note: "some text here",
    };
  }
  return { name: "tool", args };
}

for (const [label, entries] of [["100 B", 1], ["1 KB", 8], ["10 KB", 80]] as const) {
  const payloads = Array.from({ length: 64 }, () => toolArgs(entries));
  let i = 0;
  Deno.bench({
    name: `JSON.stringify ${label}`,
    group: label,
    baseline: true,
    fn: () => void JSON.stringify(payloads[i++ & 63].args),
  });
  Deno.bench({
    name: `payloadSizeError ${label}`,
    group: label,
    fn: () => void payloadSizeError("tool_pre_invoke", payloads[i++ & 63], 1_000_000),
  });
}
