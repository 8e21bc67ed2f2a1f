/**
 * Parses Prometheus text with the official Python client's parser (`prometheus_client` in
 * `.venv`, a dependency of the reference) through `prometheus_parse.py`.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const PYTHON = new URL(".venv/bin/python", ROOT).pathname;
const SCRIPT = new URL("tests/interop/prometheus_parse.py", ROOT).pathname;

/** One sample as the parser reports it. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number | string;
}

/** One metric family as the parser reports it. */
export interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

/** The families of `text`; fails the test when the parser rejects it. */
export async function parsePrometheus(text: string): Promise<Family[]> {
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  assert.ok(out.success, `prometheus_parse.py failed: ${decoder.decode(out.stderr)}\n${text}`);
  return JSON.parse(decoder.decode(out.stdout));
}
