/**
 * The whole benchmark table (issue 13) in one command: the in-process rows
 * (`manager_ratio.ts`), then the Unix socket, gRPC and MCP rows (`unix_ratio.ts`,
 * `grpc_ratio.ts`, `mcp_ratio.ts`) and the gateway memory with five gRPC plugins
 * (`grpc_rss.ts`), each with its targets and whether they are met. Every part
 * runs as its own `deno task` (with its own narrow permissions), one after the other, so they do
 * not compete for the CPU.
 *
 * Run: `deno task bench:all [--markdown]` (`--markdown` prints the tables for the README).
 * `CPEX_BENCH_IN_FLIGHT=1,16` narrows the transport runs' calls in flight.
 *
 * @module
 */

const markdown = Deno.args.includes("--markdown");
const parts: [title: string, task: string][] = [
  ["In-process", "bench:ratio"],
  ["Unix socket", "bench:unix"],
  ["gRPC", "bench:grpc"],
  ["MCP (streamable HTTP)", "bench:mcp"],
  ["gRPC gateway memory", "bench:grpc-rss"],
];

const started = performance.now();
let failed = 0;
for (const [title, task] of parts) {
  console.log(markdown ? `\n### ${title}\n` : `\n=== ${title} (deno task ${task}) ===`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", task, ...(markdown ? ["--markdown"] : [])],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    failed++;
    console.log(`${task} exited with code ${code}`);
  }
}
console.log(`\nbench:all took ${Math.round((performance.now() - started) / 1000)} s`);
if (failed) Deno.exit(1);
