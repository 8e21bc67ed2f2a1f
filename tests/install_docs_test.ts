/**
 * README "Install" (issue 12), run for real: `deno install -g -n cpex` with the documented flags
 * gives a working `cpex` command; a plain relative import of mod.ts from another project fails
 * with the documented `Import "zod" not a dependency`; deno.json `links` (what the README and
 * `init --core` use) works.
 *
 * @module
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { REPO, tempDir } from "./helpers/cli.ts";

const CORE = REPO.replace(/\/$/, "");

async function run(cwd: string, command: string, args: string[]) {
  const out = await new Deno.Command(command, {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("the README's deno install -g -n cpex command gives a working cpex command", async () => {
  const root = await tempDir("install");
  try {
    const installed = await run(root, Deno.execPath(), [
      "install",
      "-q",
      "-g",
      "--root",
      root,
      "-n",
      "cpex",
      "-c",
      `${CORE}/deno.json`,
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      `${CORE}/cli.ts`,
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    const version = await run(root, `${root}/bin/cpex`, ["--version"]);
    assert.equal(version.stdout, `${denoJson.version}\n`, version.stderr);
    const check = await run(CORE, `${root}/bin/cpex`, [
      "check",
      "tests/fixtures/cli/plan_order.yaml",
    ]);
    assert.equal(check.code, 0, check.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a plain relative import of mod.ts fails as the README says; deno.json links works", async () => {
  const dir = await tempDir("import");
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ imports: {} }));
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { Plugin } from "${CORE}/mod.ts";\nconsole.log(typeof Plugin);\n`,
    );
    const plain = await run(dir, Deno.execPath(), ["run", "-q", "main.ts"]);
    assert.notEqual(plain.code, 0);
    // The first bare import the graph meets names the package (zod, @opentelemetry/api, ...).
    assert.match(plain.stderr, /Import "[^"]+" not a dependency and not in import map/);

    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: { "@cpex/core": `jsr:@cpex/core@^${denoJson.version}` },
        links: [CORE],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { Plugin } from "@cpex/core";\nconsole.log(typeof Plugin);\n`,
    );
    const linked = await run(dir, Deno.execPath(), ["run", "-q", "main.ts"]);
    assert.equal(linked.code, 0, linked.stderr);
    assert.equal(linked.stdout, "function\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
