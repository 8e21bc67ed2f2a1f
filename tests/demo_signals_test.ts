/**
 * The demo leaves no orphans (issue 12): closing the terminal (SIGHUP), SIGTERM, or killing
 * the demo outright (SIGKILL, which no handler sees) leaves no server or gateway process
 * running and no socket file behind. Runs the real demo with the `demo` task's flags and
 * signals it while its gateway is talking to the three servers.
 *
 * @module
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { REPO } from "./helpers/cli.ts";

const WAIT_MS = 90_000;

/** The `demo` task's `deno run` flags, so the test runs exactly what the README runs. */
function demoFlags(): string[] {
  const words = denoJson.tasks.demo.split(" ");
  return words.slice(words.indexOf("run") + 1, words.indexOf("examples/demo.ts"));
}

/** The processes of `pids` that exist and are not zombies (`ps`; /proc needs --allow-all). */
async function living(pids: number[]): Promise<number[]> {
  if (pids.length === 0) return [];
  const out = await new Deno.Command("ps", {
    args: ["-o", "pid=,stat=", "-p", pids.join(",")],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && stat && !stat.startsWith("Z")).map(([pid]) => Number(pid));
}

async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function signalDemo(signal: Deno.Signal): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...demoFlags(), "examples/demo.ts"],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) out += decoder.decode(chunk, { stream: true });
  })();
  const errors = new Response(child.stderr).text();
  let pids: number[] = [];
  let socket = "";
  try {
    // The gateway has loaded its plugins: every child is up and connected.
    await until(
      "the gateway to load its plugins",
      () => /gateway: loaded \d+ of \d+ plugins/.test(out),
    );
    pids = [...out.matchAll(/ pid (\d+) /g)].map((m) => Number(m[1]));
    socket = /demo: socket \$SOCK = (\S+)/.exec(out)![1];
    assert.equal(pids.length, 4, out); // three servers and the gateway
    assert.deepEqual(await living(pids), pids, "every child runs before the signal");
    assert.ok(exists(socket), "the unix server's socket exists before the signal");
    child.kill(signal);
    const status = await child.status;
    if (signal === "SIGKILL") assert.equal(status.signal, "SIGKILL");
    else assert.equal(status.code, 130, out);
    await until(
      "every child of the demo to exit",
      async () => (await living(pids)).length === 0,
      30_000,
    );
    await until("the socket file to be removed", () => !exists(socket), 10_000);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    for (const pid of await living(pids)) {
      try {
        Deno.kill(pid, "SIGKILL"); // never leave an orphan of a failed test behind
      } catch { /* gone */ }
    }
    await reading;
    await errors;
    if (socket) {
      await Deno.remove(socket.replace(/\/[^/]+$/, ""), { recursive: true }).catch(() => {});
    }
  }
}

for (const signal of ["SIGHUP", "SIGTERM", "SIGKILL"] as const) {
  Deno.test(`${signal} to the demo leaves no child process and no socket file`, async () => {
    await signalDemo(signal);
  });
}
