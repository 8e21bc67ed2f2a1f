/**
 * The `/metrics` listener's permission (issue 15 item 2): a Unix socket plugin server asked for
 * a metrics port runs with exactly the three socket flags plus `--allow-net=127.0.0.1` (loopback
 * by default) and answers `GET /metrics`; without that flag it refuses to start, before
 * listening on anything, naming the flag.
 *
 * @module
 */
import assert from "node:assert/strict";
import { within } from "./helpers/subprocess.ts";

const CHILD = new URL("./helpers/metrics_server_child.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
/** Bound on every wait for the subprocess (start-up includes a possible type check). */
const WAIT_MS = 60_000;

function start(path: string, extra: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${path}`,
      `--allow-write=${path}`,
      `--allow-net=unix:${path}`,
      ...extra,
      CHILD,
      path,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("the metrics listener runs with --allow-net=127.0.0.1 and serves GET /metrics", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-obs-perm-" });
  const path = `${dir}/p.sock`;
  const child = start(path, ["--allow-net=127.0.0.1"]);
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    const address = await within(
      (async () => {
        for (;;) {
          const { value, done } = await lines.read();
          if (done) throw new Error(`stdout ended: ${out}`);
          out += value;
          const found = /^METRICS (\S+)$/m.exec(out);
          if (found) return found[1];
        }
      })(),
      "METRICS line",
      WAIT_MS,
    );
    assert.match(out, /^READY unix /m);
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    const response = await fetch(`http://${address}/metrics`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^# TYPE cpex_plugin_calls_total counter$/m);
  } finally {
    child.kill("SIGTERM");
    await lines.cancel();
    const status = await within(child.status, "exit", WAIT_MS);
    const err = await stderr;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, err);
  }
});

Deno.test("without --allow-net for the metrics host the server refuses to start, naming the flag", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-obs-perm-" });
  const path = `${dir}/p.sock`;
  try {
    const output = await within(start(path, []).output(), "exit", WAIT_MS);
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, stderr);
    assert.doesNotMatch(stdout, /READY/);
    assert.match(stderr, /metrics listener needs Deno permissions.*--allow-net=127\.0\.0\.1$/m);
    // Refused before the transport bound its socket.
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
