/**
 * `cpex init`, run as a subprocess: the scaffold's files, its own `deno task test` passing
 * against this checkout (`--core`), its scoped-permission serve task actually serving, and the
 * refusals (non-empty directory, not a @cpex/core checkout).
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO, runCli, spawnCli, tempDir } from "./helpers/cli.ts";
import denoJson from "../deno.json" with { type: "json" };

const CORE = REPO.replace(/\/$/, "");

function initPermissions(dir: string): string[] {
  return [`--allow-read=${dir},${CORE}`, `--allow-write=${dir}`];
}

async function run(cwd: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("init --core scaffolds a project whose own tests pass against this checkout", async () => {
  const dir = await tempDir("init");
  try {
    const r = await runCli(["init", "tool-guard", "--dir", dir, "--core", CORE], {
      permissions: initPermissions(dir),
    });
    assert.equal(r.code, 0, r.stderr);
    const project = `${dir}/tool-guard`;
    assert.match(r.stdout, new RegExp(`^Created ${project}/ with plugin ToolGuard:`));
    const files = [
      "deno.json",
      "src/plugin.ts",
      "src/plugin-manifest.yaml",
      "plugins.yaml",
      "tests/plugin_test.ts",
    ];
    for (const file of files) {
      assert.ok((await Deno.stat(`${project}/${file}`)).isFile, file);
    }
    const config = await readJson(`${project}/deno.json`);
    assert.deepEqual(config.imports, { "@cpex/core": `jsr:@cpex/core@^${denoJson.version}` });
    const links = config.links as string[];
    assert.equal(links.length, 1);
    assert.equal(await Deno.realPath(`${project}/${links[0]}`), await Deno.realPath(CORE));
    assert.match(await Deno.readTextFile(`${project}/src/plugin.ts`), /tool_pre_invoke\(/);

    const test = await run(project, ["task", "test"]);
    assert.equal(test.code, 0, test.stdout + test.stderr);
    assert.match(test.stdout, /ok \| 5 passed \| 0 failed/);

    // The generated files pass the project's own fmt and lint, and its config checks clean.
    const fmt = await run(project, ["fmt", "--check"]);
    assert.equal(fmt.code, 0, fmt.stderr);
    const lint = await run(project, ["lint"]);
    assert.equal(lint.code, 0, lint.stderr);
    // The generated check task: it imports the plugin module and validates its manifest.
    const check = await run(project, ["task", "check"]);
    assert.equal(check.code, 0, check.stderr);
    assert.doesNotMatch(check.stdout, /warnings:/);
    assert.match(
      check.stdout,
      /1 +ToolGuard +sequential +10 +fail +30s +in-process \.\/src\/plugin\.ts#ToolGuard/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init writes a deno task per transport with only that transport's permissions", async () => {
  const dir = await tempDir("tasks");
  try {
    const name = `guard-${crypto.randomUUID().slice(0, 6)}`;
    const r = await runCli(["init", name, "--dir", dir], { permissions: initPermissions(dir) });
    assert.equal(r.code, 0, r.stderr);
    const config = await readJson(`${dir}/${name}/deno.json`);
    assert.deepEqual(config.imports, { "@cpex/core": `jsr:@cpex/core@^${denoJson.version}` });
    assert.equal(config.links, undefined);
    const tasks = config.tasks as Record<string, string>;
    assert.deepEqual(Object.keys(tasks).sort(), [
      "check",
      "serve:grpc",
      "serve:mcp",
      "serve:stdio",
      "serve:unix",
      "test",
    ]);
    const sock = `/tmp/${name}.sock`;
    for (const [task, command] of Object.entries(tasks)) {
      assert.doesNotMatch(command, /(^| )(-A|--allow-all)( |$)/, task);
      assert.doesNotMatch(
        command,
        /--allow-(read|write|net|env|run)( |$)/,
        `${task}: unscoped flag`,
      );
    }
    assert.match(tasks["serve:unix"], new RegExp(`--allow-net=unix:${sock} `));
    assert.match(tasks["serve:unix"], new RegExp(`--allow-write=${sock} `));
    assert.match(tasks["serve:grpc"], /--allow-net=127\.0\.0\.1:50051 --allow-env=GRPC_TRACE,/);
    assert.match(tasks["serve:mcp"], /--allow-net=127\.0\.0\.1:8000 /);
    assert.doesNotMatch(tasks["serve:stdio"], /--allow-(net|write|env)/);
    for (const t of ["serve:unix", "serve:grpc", "serve:mcp", "serve:stdio"]) {
      assert.match(tasks[t], / @cpex\/core\/cli serve --config plugins\.yaml --transport /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the scaffold's serve:unix permissions are enough to serve its plugin", async () => {
  const dir = await tempDir("serve");
  const name = `guard-${crypto.randomUUID().slice(0, 6)}`;
  const project = `${dir}/${name}`;
  try {
    const r = await runCli(["init", name, "--dir", dir, "--core", CORE], {
      permissions: initPermissions(dir),
    });
    assert.equal(r.code, 0, r.stderr);
    const task = ((await readJson(`${project}/deno.json`)).tasks as Record<string, string>)[
      "serve:unix"
    ];
    // The task's own command line, with this checkout's cli.ts for @cpex/core/cli (the
    // "./cli" export), run from the project directory.
    const [deno, runWord, ...rest] = task.split(" ");
    assert.deepEqual([deno, runWord], ["deno", "run"]);
    const cliAt = rest.indexOf("@cpex/core/cli");
    const server = spawnCli(rest.slice(cliAt + 1), {
      cwd: project,
      permissions: rest.slice(0, cliAt),
    });
    try {
      await server.waitFor("stdout", "READY");
      await server.waitFor("stderr", `1 plugin from plugins.yaml on unix /tmp/${name}.sock`);
    } finally {
      const result = await server.kill("SIGTERM");
      assert.equal(result.code, 0, result.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init refuses to overwrite a non-empty directory and leaves it untouched", async () => {
  const dir = await tempDir("refuse");
  try {
    await Deno.mkdir(`${dir}/taken`);
    await Deno.writeTextFile(`${dir}/taken/keep.txt`, "mine");
    const r = await runCli(["init", "taken", "--dir", dir], { permissions: initPermissions(dir) });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`refusing to overwrite ${dir}/taken: it exists and is not empty`),
    );
    const entries = [];
    for await (const e of Deno.readDir(`${dir}/taken`)) entries.push(e.name);
    assert.deepEqual(entries, ["keep.txt"]);
    // An existing empty directory is fine.
    await Deno.mkdir(`${dir}/empty`);
    const ok = await runCli(["init", "empty", "--dir", dir], { permissions: initPermissions(dir) });
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init --core refuses a directory that is not a @cpex/core checkout", async () => {
  const dir = await tempDir("core");
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ name: "@other/pkg" }));
    const r = await runCli(["init", "guard", "--dir", dir, "--core", dir], {
      permissions: initPermissions(dir),
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a @cpex\/core checkout \(its deno\.json names "@other\/pkg"\)/);
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assert.deepEqual(entries, ["deno.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init takes the socket path and ports as options, and its README's MCP URL is localhost", async () => {
  const dir = await tempDir("addr");
  try {
    const sock = `${dir}/custom.sock`;
    const r = await runCli(
      ["init", "addr", "--dir", dir, "--socket", sock, "--grpc-port", "6123", "--mcp-port", "9123"],
      { permissions: initPermissions(dir) },
    );
    assert.equal(r.code, 0, r.stderr);
    const project = `${dir}/addr`;
    const tasks = (await readJson(`${project}/deno.json`)).tasks as Record<string, string>;
    assert.match(tasks["serve:unix"], new RegExp(`--allow-net=unix:${sock} `));
    assert.match(tasks["serve:unix"], new RegExp(`--path ${sock}$`));
    assert.match(tasks["serve:grpc"], /--allow-net=127\.0\.0\.1:6123 .* --port 6123$/);
    assert.match(tasks["serve:mcp"], /--allow-net=127\.0\.0\.1:9123 .* --port 9123$/);
    const yaml = await Deno.readTextFile(`${project}/plugins.yaml`);
    assert.match(yaml, new RegExp(`path: ${sock}`));
    const readme = await Deno.readTextFile(`${project}/README.md`);
    assert.match(readme, /url: "http:\/\/localhost:9123\/mcp"/);
    assert.doesNotMatch(readme, /url: "http:\/\/127\.0\.0\.1/);
    assert.match(readme, new RegExp(`unix_socket: \\{ path: ${sock} \\}`));
    assert.match(readme, /grpc: \{ target: "127\.0\.0\.1:6123" \}/);
    assert.match(r.stdout, new RegExp(`serve it on ${sock} `));
    const bad = await runCli(["init", "x", "--dir", dir, "--mcp-port", "http"], {
      permissions: initPermissions(dir),
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--mcp-port must be an integer in 1\.\.65535, got 'http'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init writes the plugin manifest and prints the --core fallback for jsr:@cpex/core", async () => {
  const dir = await tempDir("manifest");
  try {
    const r = await runCli(["init", "mani", "--dir", dir], { permissions: initPermissions(dir) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /If jsr:@cpex\/core cannot be resolved/);
    // Run from this checkout, it names it.
    assert.ok(r.stdout.includes(`cpex init mani --core ${CORE} --dir ${dir}`), r.stdout);
    const manifest = await Deno.readTextFile(`${dir}/mani/src/plugin-manifest.yaml`);
    for (const key of ["description", "author", "version", "tags", "available_hooks"]) {
      assert.match(manifest, new RegExp(`^${key}: `, "m"), key);
    }
    assert.match(manifest, /^default_config:\n {2}blocked_tools: \[\]\n {2}redact_args: /m);
    const linked = await runCli(["init", "linked", "--dir", dir, "--core", CORE], {
      permissions: initPermissions(dir),
    });
    assert.doesNotMatch(linked.stdout, /cannot be resolved/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init without the permissions it needs says which flags to add, before writing", async () => {
  const dir = await tempDir("noperm");
  try {
    const r = await runCli(["init", "guard", "--dir", dir], {
      permissions: [`--allow-read=${dir}`],
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: PermissionPreflightError: The init command needs Deno permissions that were ` +
          `not granted; run with --allow-write=${dir}$`,
        "m",
      ),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
