import assert from "node:assert/strict";
import { ConfigError } from "../src/errors.ts";
import { loadConfig, parseConfigText, substituteEnv } from "../src/config/load.ts";
import { parseYaml } from "../src/config/yaml.ts";
import { expectIssue, expectIssueAsync, withEnv } from "./config_test_helpers.ts";

async function withFile<T>(text: string, fn: (path: string) => T | Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "cpex_load_", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

const PLUGIN = "plugins:\n  - name: p\n    kind: plugins.a.A\n";

Deno.test("loadConfig reads, parses and validates a YAML file", async () => {
  await withFile(PLUGIN + "    priority: '5'\n", async (path) => {
    const config = await loadConfig(path);
    assert.equal(config.plugins[0].name, "p");
    assert.equal(config.plugins[0].priority, 5);
  });
});

Deno.test("loadConfig accepts a file URL", async () => {
  await withFile(PLUGIN, async (path) => {
    const config = await loadConfig(new URL(`file://${path}`));
    assert.equal(config.plugins.length, 1);
  });
});

Deno.test("a missing config file is an error naming the file", async () => {
  const path = "/tmp/cpex_definitely_missing_config.yaml";
  const issue = await expectIssueAsync(() => loadConfig(path), "", "file not found");
  assert.ok(issue);
  try {
    await loadConfig(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, path);
  }
});

Deno.test("a directory instead of a config file is an error", async () => {
  await expectIssueAsync(() => loadConfig("/tmp"), "", /directory/);
});

Deno.test("a YAML syntax error names the line and column", async () => {
  await withFile("plugins:\n  - name: p\n    hooks: [a, b\n", async (path) => {
    const issue = await expectIssueAsync(
      () => loadConfig(path),
      "",
      /^YAML syntax error at line \d+, column \d+: /,
    );
    assert.ok(issue);
  });
});

Deno.test("invalid content errors name the file and the path", async () => {
  await withFile(PLUGIN + "    mode: SEQUENTIAL\n", async (path) => {
    try {
      await loadConfig(path);
      assert.fail("expected a ConfigError");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, path);
      assert.equal(e.issues[0].path, "plugins[0].mode");
    }
  });
});

Deno.test("an empty document is an empty config", async () => {
  await withFile("", async (path) => {
    assert.deepEqual((await loadConfig(path)).plugins, []);
  });
  assert.deepEqual(parseConfigText("# only a comment\n").plugins, []);
});

Deno.test("env substitution replaces {{ env.NAME }} with whitespace tolerated", () => {
  const env = (name: string) => ({ A: "alpha", B: "beta" } as Record<string, string>)[name];
  assert.equal(substituteEnv("{{env.A}} {{ env.B }} {{   env.A\t}}", "f", env), "alpha beta alpha");
});

Deno.test("env substitution turns an undefined variable into an empty string", () => {
  assert.equal(substituteEnv("x: '{{ env.NOT_SET }}'", "f", () => undefined), "x: ''");
});

Deno.test("env substitution does not HTML-escape values", async () => {
  await withEnv({ CPEX_LOAD_TEST_VALUE: `a&b<c>'d"` }, () => {
    assert.equal(substituteEnv("{{ env.CPEX_LOAD_TEST_VALUE }}", "f"), `a&b<c>'d"`);
  });
});

Deno.test("env substitution supports env['NAME'] and a default filter", () => {
  const env = (name: string) => (name === "SET" ? "v" : undefined);
  assert.equal(substituteEnv(`{{ env['SET'] }} {{ env["SET"] }}`, "f", env), "v v");
  assert.equal(substituteEnv("{{ env.UNSET | default('fallback') }}", "f", env), "fallback");
  assert.equal(substituteEnv('{{ env.SET | default("fallback") }}', "f", env), "v");
});

Deno.test("an unsupported template expression is an error naming its line", () => {
  expectIssue(
    () => substituteEnv("a: 1\nb: {{ range(3) }}\n", "f.yaml"),
    "",
    /^line 2: unsupported template expression \{\{ range\(3\) \}\}/,
  );
});

Deno.test("loadConfig substitutes environment variables before parsing", async () => {
  await withEnv({ CPEX_LOAD_TEST_NAME: "FromEnv", CPEX_LOAD_TEST_PRIORITY: "3" }, async () => {
    await withFile(
      "plugins:\n  - name: {{ env.CPEX_LOAD_TEST_NAME }}\n    kind: k.K\n    priority: {{ env.CPEX_LOAD_TEST_PRIORITY }}\n",
      async (path) => {
        const [p] = (await loadConfig(path)).plugins;
        assert.equal(p.name, "FromEnv");
        assert.equal(p.priority, 3);
      },
    );
  });
});

Deno.test("YAML is read as YAML 1.1 like the reference", () => {
  const config = parseConfigText(
    "plugins:\n  - name: p\n    kind: external\n    mcp:\n      proto: STREAMABLEHTTP\n" +
      "      url: http://localhost:3001/mcp\n      tls: {verify: no, check_hostname: off}\n",
  );
  assert.equal(config.plugins[0].mcp?.tls?.verify, false);
  assert.equal(config.plugins[0].mcp?.tls?.check_hostname, false);
});

Deno.test("plain scalars resolve as PyYAML's SafeLoader resolves them (issue 11 item 1)", () => {
  // The full corpus against PyYAML itself is tests/interop/conformance_yaml_test.ts.
  assert.deepEqual(
    parseYaml("v: [y, n, Y, 08, 1e3, 0o17, 1:30, 1.5e+3, 0777, 0x1F, 1_000, -.inf, ~, On]\n"),
    { v: ["y", "n", "Y", "08", "1e3", "0o17", 90, 1500, 511, 31, 1000, -Infinity, null, true] },
  );
  assert.deepEqual(parseYaml("v: 2001-12-14\n"), { v: new Date(Date.UTC(2001, 11, 14)) });
  assert.throws(() => parseYaml("v: 2020-13-01\n"), /invalid timestamp/);
  assert.throws(() => parseYaml("v: =\n"), /tag:yaml.org,2002:value/);
});

Deno.test("a timestamp where a string is expected is refused, as pydantic refuses a date", () => {
  expectIssue(
    () => parseConfigText(PLUGIN + "    version: 2020-01-01\n"),
    "plugins[0].version",
    "expected a string (quote it in YAML); got a timestamp",
  );
});

Deno.test("duplicate YAML keys are allowed and the last one wins", () => {
  assert.equal(
    parseConfigText(PLUGIN + "    priority: 1\n    priority: 2\n").plugins[0].priority,
    2,
  );
});

Deno.test("YAML parsing does not consult LOG_TOKENS or LOG_STREAM", async () => {
  const log = console.log;
  const dir = console.dir;
  let calls = 0;
  console.log = () => void calls++;
  console.dir = () => void calls++;
  try {
    await withEnv({ LOG_TOKENS: "1", LOG_STREAM: "1" }, () => {
      assert.deepEqual(parseYaml("a: [1, 2]\n"), { a: [1, 2] });
      assert.equal(Deno.env.get("LOG_TOKENS"), "1"); // other lookups still work
    });
  } finally {
    console.log = log;
    console.dir = dir;
  }
  assert.equal(calls, 0);
});
