/**
 * The sandbox keys of a plugin entry (issue 16): validated with clear errors, never silently
 * ignored, and shown by `check`'s plan.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError, getHookRegistry, parseConfig } from "../mod.ts";
import { buildPlan } from "../src/cli/plan.ts";
import { formatTransport } from "../src/cli/check.ts";
import { childArgs } from "../src/sandbox/process_carrier.ts";
import { workerPermissions } from "../src/sandbox/permissions.ts";

const KIND = "./guard.ts#Guard";

function issues(plugin: Record<string, unknown>): string[] {
  try {
    parseConfig({ plugins: [{ name: "g", kind: KIND, hooks: ["tool_pre_invoke"], ...plugin }] });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

Deno.test("sandbox keys are validated with errors naming the key", () => {
  assert.match(
    issues({ isolation: "vm" }).join(),
    /plugins\[0\]\.isolation: .*none, worker, process/,
  );
  assert.match(
    issues({ isolation: "worker", permissions: { disk: true } }).join(),
    /unknown permission 'disk'/,
  );
  assert.match(
    issues({ isolation: "worker", permissions: { read: 3 } }).join(),
    /permissions\.read: expected true, false or a list/,
  );
  assert.match(
    issues({ isolation: "worker", permissions: { read: ["/a,/b"] } }).join(),
    /may not contain ','/,
  );
  assert.match(issues({ isolation: "worker", workers: 0 }).join(), /plugins\[0\]\.workers/);
  assert.match(
    issues({ isolation: "worker", memory_mb: 64 }).join(),
    /'memory_mb' needs 'isolation: process'/,
  );
  assert.match(
    issues({ permissions: { read: true } }).join(),
    /'permissions' needs 'isolation: worker'/,
  );
  assert.match(
    issues({ isolation: "process", kind: "external", unix_socket: { path: "/tmp/x" } }).join(),
    /needs a module plugin/,
  );
  assert.deepEqual(
    issues({ isolation: "process", permissions: { read: ["/a"] }, memory_mb: 64, workers: 2 }),
    [],
  );
});

Deno.test("a plain plugin config has no sandbox keys", () => {
  const [p] = parseConfig({ plugins: [{ name: "g", kind: KIND }] }).plugins;
  assert.equal("isolation" in p || "permissions" in p || "workers" in p, false);
});

Deno.test("permissions become exactly those worker permissions and deno run flags", () => {
  const p = { read: ["/a", "/b"], net: true, env: [] };
  assert.deepEqual(workerPermissions(p), {
    sys: false,
    read: ["/a", "/b"],
    write: false,
    net: true,
    env: false,
    run: false,
    ffi: false,
    import: false,
  });
  const args = childArgs({ specifier: "file:///p.ts", exportName: "P" }, p, { memoryMb: 96 });
  assert.deepEqual(args.slice(0, 6), [
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-read=/a,/b",
    "--allow-net",
    "--v8-flags=--max-old-space-size=96",
  ]);
  assert.equal(args.length, 7);
});

Deno.test("check's plan shows the isolation and permissions", () => {
  const config = parseConfig({
    plugins: [
      {
        name: "g",
        kind: KIND,
        hooks: ["tool_pre_invoke"],
        isolation: "process",
        permissions: { read: ["/etc/words"] },
        memory_mb: 128,
      },
      { name: "plain", kind: KIND, hooks: ["tool_pre_invoke"] },
    ],
  });
  const [sandboxed, plain] = buildPlan(config, "inline", getHookRegistry()).hooks[0].plugins;
  assert.equal(
    formatTransport(sandboxed.transport),
    "process ./guard.ts#Guard (permissions: read=/etc/words; workers 1 memory 128 MiB)",
  );
  assert.equal(formatTransport(plain.transport), "in-process ./guard.ts#Guard");
});
