/**
 * The whole benchmark table (issue 13) in one command: the in-process rows
 * (`manager_ratio.ts`), then the Unix socket, gRPC and MCP rows (`unix_ratio.ts`,
 * `grpc_ratio.ts`, `mcp_ratio.ts`) and the gateway memory with five gRPC plugins
 * (`grpc_rss.ts`), each with its targets and whether they are met. Every part
 * runs as its own `deno task` (with its own narrow permissions), one after the other, so they do
 * not compete for the CPU. Each part's output is shown as it comes; at the end a summary repeats
 * every target line the parts printed (a line with `(met)` or `(NOT met)`), per part, and
 * names the parts that failed or printed none.
 *
 * Run: `deno task bench:all [--markdown | --readme] [task ...]` (`--markdown` prints the tables
 * for the README; `--readme` also writes them into README.md between its `bench:all` markers, so
 * the README's performance tables are always one whole run; naming tasks, e.g. `bench:ratio`,
 * runs only those parts).
 * `CPEX_BENCH_IN_FLIGHT=1,16` narrows the transport runs' calls in flight.
 *
 * @module
 */

/** One part of the table: a `deno task` that prints its rows and its target lines. */
interface Part {
  /** Heading of the part. */
  title: string;
  /** The task that measures it. */
  task: string;
  /** The rows of the targets table this part judges (shown when it prints none). */
  rows: string;
}

// To add a part (a row of the table), append it here; its task prints target lines
// marked "(met)" / "(NOT met)" and the summary picks them up.
const PARTS: Part[] = [
  {
    title: "In-process",
    task: "bench:ratio",
    rows: "5 no-op plugins vs 5 chained async calls, fresh 100 B / 1 KB / 10 KB",
  },
  {
    title: "Unix socket",
    task: "bench:unix",
    rows: "vs raw protobuf echo; vs the Python reference",
  },
  { title: "gRPC", task: "bench:grpc", rows: "vs raw grpc-js (TCP, UDS); vs the Python reference" },
  {
    title: "MCP (streamable HTTP)",
    task: "bench:mcp",
    rows: "vs raw SDK echo; vs the Python reference",
  },
  {
    title: "gRPC gateway memory",
    task: "bench:grpc-rss",
    rows: "gateway RSS with 5 gRPC plugins vs the reference's",
  },
];

const readme = Deno.args.includes("--readme");
const markdown = readme || Deno.args.includes("--markdown");
const only = Deno.args.filter((a) => a !== "--markdown" && a !== "--readme");
const parts = only.length ? PARTS.filter((p) => only.includes(p.task)) : PARTS;
if (parts.length !== (only.length || PARTS.length)) {
  console.error(
    `usage: all.ts [--markdown | --readme] [${PARTS.map((p) => p.task).join(" | ")} ...]`,
  );
  Deno.exit(2);
}
if (readme && parts.length !== PARTS.length) {
  console.error("--readme writes the whole table: run every part");
  Deno.exit(2);
}
const TARGET_LINE = /\((?:NOT )?met\)/;
const encoder = new TextEncoder();
const BEGIN = "<!-- bench:all begin: written by `deno task bench:all --readme` -->";
const END = "<!-- bench:all end -->";
/** Everything printed to stdout, for `--readme`. */
let printed = "";

function print(line: string): void {
  printed += line + "\n";
  console.log(line);
}

/** Runs `task`, echoing its output as it comes; its exit code and the target lines it printed. */
async function runPart(task: string): Promise<[code: number, targets: string[]]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", task, ...(markdown ? ["--markdown"] : [])],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    printed += chunk;
    await Deno.stdout.write(encoder.encode(chunk));
  }
  const { code } = await child.status;
  const targets = text.split("\n").filter((line) => TARGET_LINE.test(line));
  return [code, targets.map((line) => line.replace(/^\s*(?:- )?/, ""))];
}

const started = performance.now();
const summary: string[] = [];
let failed = 0;
let missed = 0;
for (const part of parts) {
  print(
    markdown ? `\n### ${part.title}\n` : `\n=== ${part.title} (deno task ${part.task}) ===`,
  );
  const [code, targets] = await runPart(part.task);
  if (code !== 0) {
    failed++;
    print(`${part.task} exited with code ${code}`);
  }
  const bullet = markdown ? "- " : "  ";
  summary.push(markdown ? `\n**${part.title}**\n` : `${part.title}:`);
  if (targets.length === 0) {
    summary.push(`${bullet}${part.rows}: not measured (no target lines) (NOT met)`);
    missed++;
  }
  for (const line of targets) {
    summary.push(`${bullet}${line}`);
    if (line.includes("(NOT met)")) missed++;
  }
}
print(markdown ? "\n### Targets (issue 13)" : "\n=== Targets (issue 13) ===");
for (const line of summary) print(line);
print(
  `\n${missed} target line(s) not met; bench:all took ` +
    `${Math.round((performance.now() - started) / 1000)} s`,
);
if (readme) {
  if (failed) {
    console.error("not writing README.md: a part failed");
    Deno.exit(1);
  }
  const text = await Deno.readTextFile("README.md");
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) {
    console.error(`README.md has no ${BEGIN} ... ${END} block`);
    Deno.exit(1);
  }
  const header = `Deno ${Deno.version.deno}, written ${new Date().toISOString().slice(0, 16)}Z.`;
  await Deno.writeTextFile(
    "README.md",
    `${text.slice(0, begin)}${BEGIN}\n\n${header}\n${printed.trim()}\n\n${text.slice(end)}`,
  );
  // The README is checked by `deno fmt --check`: write it in fmt's shape.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", "README.md"] }).output();
  console.error("README.md: performance tables written");
}
if (failed) Deno.exit(1);
