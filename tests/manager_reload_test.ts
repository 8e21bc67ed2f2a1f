/**
 * Hot reload (issue 14 item 4): `PluginManager.reload()` under a steady load of 20 calls in
 * flight, alternating two plugin sets 20 times, with in-process plugins and with external ones
 * served by real subprocesses (raw Unix socket, gRPC and MCP Streamable HTTP over Unix sockets):
 * 0 failed calls, each call answered by exactly one set, old plugins shut down only after their
 * calls drained, and as many file descriptors open after as before. Also: failed reloads keep
 * the old set and say why (and shut down what they started), reloads run one at a time, and
 * the `watch` option reloads when the file changes, and a reload ends the old set's sandboxes.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Config,
  type HookResult,
  parseConfig,
  Plugin,
  type PluginConfigInput,
  PluginManager,
  type PluginResult,
} from "../mod.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { gctx, rejection, toolPayload } from "./helpers/plugins.ts";
import { entry, tool } from "./helpers/sandbox.ts";
import { Subprocess, within } from "./helpers/subprocess.ts";

const IN_FLIGHT = 20;
const RELOADS = 20;
const CHILD = new URL("./helpers/reload_server_child.ts", import.meta.url).pathname;

/**
 * Open file descriptors of this process (sockets, pipes, files), listed by `ls` (reading
 * /proc/self/fd from Deno needs --allow-all); the pipes of that `ls` are counted every time.
 */
async function openFds(): Promise<number> {
  const out = await new Deno.Command("ls", {
    args: ["-1", `/proc/${Deno.pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").length;
}

/** Polls `condition` every 20 ms until true, failing after `ms`. */
async function until(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms: ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Plugins alive per name (initialized and not yet shut down), and calls running per name. */
const alive = new Map<string, number>();
const running = new Map<string, number>();
const bump = (m: Map<string, number>, k: string, d: number) => m.set(k, (m.get(k) ?? 0) + d);

/**
 * The in-process twin of the child's `Tagger`: `X1` tags and allows, `X2` tags and blocks with
 * code `X`. Shutting down while one of its calls still runs is a test failure.
 */
class Tagger extends Plugin {
  override initialize(): Promise<void> {
    bump(alive, this.name, 1);
    return Promise.resolve();
  }
  async tool_pre_invoke(): Promise<PluginResult> {
    bump(running, this.name, 1);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const metadata = { [this.name]: true };
      if (this.name.endsWith("1")) return { metadata };
      const code = this.name.slice(0, -1);
      return {
        continue_processing: false,
        violation: { reason: "blocked", description: `blocked by ${code}`, code },
        metadata,
      };
    } finally {
      bump(running, this.name, -1);
    }
  }
  override shutdown(): Promise<void> {
    assert.equal(running.get(this.name) ?? 0, 0, `${this.name} shut down with calls running`);
    bump(alive, this.name, -1);
    return Promise.resolve();
  }
}

/** Fails initialize(): a plugin that will not load. */
class Broken extends Plugin {
  override initialize(): Promise<void> {
    return Promise.reject(new Error("cannot reach the policy store"));
  }
}

const KINDS = { "reload.Tagger": Tagger, "reload.Broken": Broken };

function inProcessSet(label: string): Config {
  return parseConfig({
    plugins: [1, 2].map((i) => ({
      name: `${label}${i}`,
      kind: "reload.Tagger",
      hooks: ["tool_pre_invoke"],
      on_error: "fail",
    })),
  });
}

/**
 * Runs `IN_FLIGHT` callers in a loop until `stop()` while `work` runs; every call must block
 * with the code of one set and carry exactly that set's two tags.
 */
async function underLoad(
  manager: PluginManager,
  labels: string[],
  work: () => Promise<void>,
): Promise<{ calls: number; failed: unknown[]; bySet: Map<string, number> }> {
  let stopping = false;
  let calls = 0;
  const failed: unknown[] = [];
  const bySet = new Map<string, number>();
  const check = (result: HookResult): void => {
    const code = String(result.violation?.code);
    assert.ok(labels.includes(code), `answered by an unknown set: ${code}`);
    assert.equal(result.continue_processing, false);
    // X1 ran (and X2 blocked): no plugin of another set took part. (A blocking plugin's own
    // metadata does not cross the wire, so X2's tag shows only in-process.)
    const tags = Object.keys(result.metadata);
    assert.ok(tags.includes(`${code}1`), `${code}1 did not run: ${tags}`);
    assert.ok(tags.every((t) => t.startsWith(code)), `a call saw two sets: ${tags}`);
    bump(bySet, code, 1);
  };
  const caller = async (n: number): Promise<void> => {
    for (let i = 0; !stopping; i++) {
      try {
        const [result] = await manager.invokeHook(
          "tool_pre_invoke",
          toolPayload({ q: `${n}-${i}` }),
          gctx(`r-${n}-${i}`),
        );
        check(result);
      } catch (error) {
        failed.push(error);
      }
      calls++;
    }
  };
  const callers = Array.from({ length: IN_FLIGHT }, (_, n) => caller(n));
  try {
    await work();
  } finally {
    stopping = true;
    await Promise.all(callers);
  }
  return { calls, failed, bySet };
}

Deno.test("reload 20 times under 20 calls in flight (in-process): 0 failed, one set per call", async () => {
  const manager = new PluginManager(inProcessSet("A"), {
    pluginKinds: KINDS,
    logger: { warn: () => {} },
    metrics: null,
  });
  await manager.initialize();
  const fdsBefore = await openFds();
  try {
    const { calls, failed, bySet } = await underLoad(manager, ["A", "B"], async () => {
      for (let i = 0; i < RELOADS; i++) {
        // Let some calls run on each set before the next swap.
        await new Promise((resolve) => setTimeout(resolve, 10));
        await manager.reload(inProcessSet(i % 2 === 0 ? "B" : "A"));
        // Resolved: the old set drained and its plugins are shut down.
        const gone = i % 2 === 0 ? "A" : "B";
        assert.equal(alive.get(`${gone}1`), 0);
        assert.equal(alive.get(`${gone}2`), 0);
      }
    });
    assert.deepEqual(failed, []);
    assert.ok(calls > RELOADS * 2, `only ${calls} calls ran`);
    assert.ok((bySet.get("A") ?? 0) > 0 && (bySet.get("B") ?? 0) > 0);
    // 20 reloads end on the first set again.
    assert.ok(manager.getPlugin("A1") && !manager.getPlugin("B1"));
    assert.ok(await openFds() <= fdsBefore, "no descriptor left behind");
  } finally {
    await manager.shutdown();
  }
  assert.equal(alive.get("A1"), 0);
  assert.equal(alive.get("B2"), 0);
});

Deno.test("a failed reload keeps the old set serving, says why and shuts down what it started", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-res-reload-" });
  const manager = new PluginManager(inProcessSet("A"), {
    pluginKinds: KINDS,
    logger: { warn: () => {} },
    metrics: null,
  });
  await manager.initialize();
  try {
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(bad, "plugins:\n  - name: x\n   kind: [unclosed\n");
    const yamlError = await rejection(manager.reload(bad));
    assert.match(String(yamlError), /bad\.yaml/);

    const missing = await rejection(manager.reload(`${dir}/missing.yaml`));
    assert.match(String(missing), /missing\.yaml/);

    // B1 loads and initializes, then Broken fails: B1 must be shut down again.
    const broken = parseConfig({
      plugins: [
        { name: "B1", kind: "reload.Tagger", hooks: ["tool_pre_invoke"] },
        { name: "Broken", kind: "reload.Broken", hooks: ["tool_pre_invoke"] },
      ],
    });
    const initError = await rejection(manager.reload(broken));
    assert.match(String(initError), /Broken.*cannot reach the policy store/);
    assert.equal(alive.get("B1"), 0, "the half-built set was not shut down");

    const unknownKind = parseConfig({
      plugins: [{ name: "C1", kind: "reload.Nope", hooks: ["tool_pre_invoke"] }],
    });
    assert.match(String(await rejection(manager.reload(unknownKind))), /C1/);

    // The old set still answers every call.
    const [result] = await manager.invokeHook("tool_pre_invoke", toolPayload(), gctx());
    assert.equal(result.violation?.code, "A");
    assert.equal(manager.pluginCount, 2);
    assert.equal(manager.config?.plugins[0].name, "A1");
  } finally {
    await manager.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("concurrent reloads run one at a time, in call order; the last one wins", async () => {
  const manager = new PluginManager(inProcessSet("A"), {
    pluginKinds: KINDS,
    logger: { warn: () => {} },
    metrics: null,
  });
  await manager.initialize();
  try {
    const peak = { now: 0, max: 0 };
    const labels = ["B", "C", "D", "E"];
    await Promise.all(labels.map((label) => {
      const done = manager.reload(inProcessSet(label));
      // Each set's plugins are all alive only between its swap-in and the next swap.
      const count = (): number => labels.filter((l) => (alive.get(`${l}1`) ?? 0) > 0).length;
      peak.now = count();
      peak.max = Math.max(peak.max, peak.now);
      return done.then(() => {
        peak.max = Math.max(peak.max, count());
      });
    }));
    // At most the outgoing and the incoming set were ever alive at once.
    assert.ok(peak.max <= 2, `${peak.max} sets alive at once`);
    assert.ok(manager.getPlugin("E1"));
    for (const label of ["B", "C", "D"]) assert.equal(alive.get(`${label}1`), 0);
  } finally {
    await manager.shutdown();
  }
});

Deno.test("reload() without an argument re-reads the manager's own file; fire-and-forget tasks hold the old set", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-res-reload-" });
  const path = `${dir}/plugins.yaml`;
  const finished: string[] = [];
  class Slow extends Plugin {
    async tool_pre_invoke(): Promise<PluginResult> {
      await new Promise((resolve) => setTimeout(resolve, 100));
      finished.push(this.name);
      return {};
    }
    override shutdown(): Promise<void> {
      // Shut down only after its background call finished.
      assert.deepEqual(finished, [this.name]);
      return Promise.resolve();
    }
  }
  const yaml = (name: string) =>
    `plugins:\n  - name: ${name}\n    kind: slow\n    mode: fire_and_forget\n    hooks: [tool_pre_invoke]\n`;
  await Deno.writeTextFile(path, yaml("Old"));
  const manager = new PluginManager(path, {
    pluginKinds: { slow: Slow },
    logger: { warn: () => {} },
  });
  await manager.initialize();
  try {
    const [result] = await manager.invokeHook("tool_pre_invoke", toolPayload(), gctx());
    assert.equal(result.background_tasks.length, 1);
    await Deno.writeTextFile(path, yaml("New"));
    await manager.reload();
    assert.deepEqual(finished, ["Old"]);
    assert.ok(manager.getPlugin("New") && !manager.getPlugin("Old"));
    await result.waitForBackgroundTasks();
  } finally {
    await manager.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watch: true reloads when the file is replaced, keeps the old set on a bad write, stops at shutdown", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-res-reload-" });
  const path = `${dir}/plugins.yaml`;
  const yaml = (label: string) =>
    ["1", "2"].map((i) =>
      `  - name: ${label}${i}\n    kind: reload.Tagger\n    hooks: [tool_pre_invoke]\n`
    ).join("");
  const logs: string[] = [];
  await Deno.writeTextFile(path, `plugins:\n${yaml("A")}`);
  const manager = new PluginManager(path, {
    pluginKinds: KINDS,
    watch: true,
    metrics: null,
    logger: { warn: (m) => logs.push(m), info: (m) => logs.push(m) },
  });
  await manager.initialize().catch(async (error) => {
    await Deno.remove(dir, { recursive: true });
    throw error;
  });
  try {
    // As editors save: write a temporary file, rename it over the config.
    await Deno.writeTextFile(`${dir}/.tmp`, `plugins:\n${yaml("B")}`);
    await Deno.rename(`${dir}/.tmp`, path);
    await until(() => manager.getPlugin("B1") !== null, "the watcher reloaded set B");
    await until(() => (alive.get("A1") ?? 0) === 0, "set A shut down");

    await Deno.writeTextFile(path, "plugins: [unclosed\n");
    await until(() => logs.some((l) => /reload of .* failed, keeping/.test(l)), "failure logged");
    assert.ok(manager.getPlugin("B1"));
    const [result] = await manager.invokeHook("tool_pre_invoke", toolPayload(), gctx());
    assert.equal(result.violation?.code, "B");
  } finally {
    await manager.shutdown();
  }
  try {
    // Stopped: a later change reloads nothing.
    await Deno.writeTextFile(path, `plugins:\n${yaml("C")}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(alive.get("C1") ?? 0, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A plugin server child hosting `LABEL1`/`LABEL2` with only its socket's permissions. */
function startServer(kind: "unix" | "grpc" | "mcp", path: string, label: string): Subprocess {
  return new Subprocess([
    "run",
    "--no-prompt",
    `--allow-read=${path}`,
    `--allow-write=${path}`,
    `--allow-net=unix:${path}`,
    ...(kind === "grpc" ? [GRPC_ENV_FLAG] : []),
    CHILD,
    kind,
    path,
    label,
  ]);
}

function externalSet(label: string, block: Partial<PluginConfigInput>): Config {
  return parseConfig({
    plugins: [1, 2].map((i) => ({
      name: `${label}${i}`,
      kind: "external",
      hooks: ["tool_pre_invoke"],
      on_error: "fail",
      ...block,
    })),
  });
}

type ServerKind = "unix" | "grpc" | "mcp";
const LABEL: Record<ServerKind, string> = { unix: "U", grpc: "G", mcp: "M" };

/** The gateway's client block for a server of `kind` on `path`. */
function clientBlock(kind: ServerKind, path: string): Partial<PluginConfigInput> {
  if (kind === "unix") return { unix_socket: { path, timeout: 10 } };
  if (kind === "grpc") return { grpc: { uds: path } };
  return { mcp: { proto: "STREAMABLEHTTP", url: "http://localhost/mcp", uds: path } };
}

for (const [first, second] of [["unix", "grpc"], ["mcp", "unix"]] as [ServerKind, ServerKind][]) {
  Deno.test(`reload 20 times under 20 calls in flight (external: ${first} and ${second} subprocesses): 0 failed, one set per call, no fd leaked`, async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const paths = [first, second].map((kind) => `/tmp/cpex-rl-${kind}-${tag}.sock`);
    const [a, b] = [LABEL[first], LABEL[second]];
    const servers = [startServer(first, paths[0], a), startServer(second, paths[1], b)];
    try {
      await within(Promise.all(servers.map((s) => s.ready)), "both plugin servers READY", 60_000);
      const sets = {
        [a]: externalSet(a, clientBlock(first, paths[0])),
        [b]: externalSet(b, clientBlock(second, paths[1])),
      };
      const fdsBefore = await openFds();
      const manager = new PluginManager(sets[a], { logger: { warn: () => {} }, metrics: null });
      await manager.initialize();
      let fdsLoaded = 0;
      try {
        fdsLoaded = await openFds();
        const { calls, failed, bySet } = await underLoad(manager, [a, b], async () => {
          for (let i = 0; i < RELOADS; i++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            await manager.reload(i % 2 === 0 ? sets[b] : sets[a]);
          }
        });
        assert.deepEqual(failed, []);
        assert.ok(calls > RELOADS * 2, `only ${calls} calls ran`);
        assert.ok((bySet.get(a) ?? 0) > 0 && (bySet.get(b) ?? 0) > 0);
        assert.ok(manager.getPlugin(`${a}1`) && !manager.getPlugin(`${b}1`));
        // The sets that served the load are gone with every connection they opened: two idle
        // reloads later, no more descriptors are open than for a freshly initialized set.
        await manager.reload(sets[b]);
        await manager.reload(sets[a]);
        let now = 0;
        await until(
          async () => (now = await openFds()) <= fdsLoaded,
          () => `${now} fds, not ${fdsLoaded}`,
        );
      } finally {
        await manager.shutdown();
      }
      let now = 0;
      await until(
        async () => (now = await openFds()) <= fdsBefore,
        () => `${now} fds, not ${fdsBefore}`,
      );
    } finally {
      for (const s of servers) s.kill("SIGTERM");
      for (const s of servers) {
        const { status, stderr } = await s.finish();
        assert.equal(status.code, 0, stderr);
      }
    }
  });
}

/** True while process `pid` exists (`kill -0`; reading /proc from Deno needs --allow-all). */
async function processAlive(pid: number): Promise<boolean> {
  const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
    .output();
  return out.success;
}

Deno.test("reload shuts down the old set's sandboxes: its plugin processes exit, workers end", async () => {
  const sandboxSet = (label: string): Config =>
    parseConfig({
      plugin_settings: { fail_on_plugin_error: true },
      plugins: [
        entry(`${label}-process`, "Crasher", "process", { timeout: 30 }),
        entry(`${label}-worker`, "Crasher", "worker", { timeout: 30 }),
      ],
    });
  const manager = new PluginManager(sandboxSet("A"), { logger: { warn: () => {} } });
  await manager.initialize();
  try {
    const pidOf = async (name: string): Promise<number> =>
      (await manager.invokeHookForPlugin(name, "tool_pre_invoke", tool(), { request_id: name }))
        .metadata.pid as number;
    const first = await pidOf("A-process");
    assert.notEqual(first, Deno.pid);
    assert.equal(await pidOf("A-worker"), Deno.pid);
    await manager.reload(sandboxSet("B"));
    const second = await pidOf("B-process");
    assert.notEqual(second, first);
    await until(async () => !(await processAlive(first)), `old plugin process ${first} exited`);
    assert.ok(await processAlive(second));
  } finally {
    await manager.shutdown();
  }
});

Deno.test("watch: true without read permission on the config's directory fails initialize() naming the flag", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-res-reload-" });
  const path = `${dir}/plugins.yaml`;
  await Deno.writeTextFile(path, "plugins: []\n");
  const child = new URL("./helpers/watch_child.ts", import.meta.url).pathname;
  try {
    const narrow = await new Subprocess(["run", "--no-prompt", `--allow-read=${path}`, child, path])
      .finish();
    assert.equal(narrow.status.code, 1);
    assert.match(narrow.stderr, new RegExp(`watch: true needs --allow-read=${dir} `));
    const wide = await new Subprocess(["run", "--no-prompt", `--allow-read=${dir}`, child, path])
      .finish();
    assert.equal(wide.status.code, 0, wide.stderr);
    assert.match(wide.stdout, /^READY$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
