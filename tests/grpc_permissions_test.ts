/**
 * Scoped permissions of the gRPC transport (design decision 7, spec/deno-tls-permissions.md
 * "Exact flags" (c) and (d)): `examples/grpc_server.ts` runs as a subprocess with exactly
 * `--allow-net=127.0.0.1:PORT` and `--allow-env=` the nine `GRPC_*` names (or the three socket
 * flags instead of the net flag), serves our client, answers `grpc.health.v1`, and stops
 * cleanly on SIGTERM; without any one flag it exits non-zero naming that flag, before grpc-js
 * is loaded. A gateway-side client in a subprocess needs only the net flag and the nine names
 * (no proxy variables), and its preflight names what is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PluginContext } from "../mod.ts";
import { GRPC_ENV_FLAG, GRPC_ENV_VARS } from "../src/external/grpc/permissions.ts";
import {
  connectPlugin,
  freePort,
  RawGrpcClient,
  socketPath,
  Subprocess,
  within,
} from "./helpers/grpc_fixtures.ts";

const EXAMPLE = new URL("../examples/grpc_server.ts", import.meta.url);
/** Bound on every wait for a subprocess (start-up includes a possible type check). */
const WAIT_MS = 60_000;

function example(flags: string[], address: string): Subprocess {
  return new Subprocess(["run", "--no-prompt", ...flags, EXAMPLE.pathname, address]);
}

async function exercise(address: string): Promise<void> {
  const plugin = await connectPlugin(address, { name: "ArgumentValidator" });
  try {
    assert.deepEqual(plugin.hooks, ["tool_pre_invoke", "prompt_pre_fetch"], "remote hooks merged");
    const call = (query: string) =>
      plugin.handleHook(
        "tool_pre_invoke",
        { name: "search", args: { query } },
        new PluginContext({ request_id: "r" }),
        { signal: new AbortController().signal, extensions: null },
      );
    assert.equal((await call("ok")).continue_processing, true);
    const blocked = await call("x".repeat(101));
    assert.equal(blocked.continue_processing, false);
    assert.equal(blocked.violation?.code, "ARGUMENT_TOO_LONG");
    assert.deepEqual(blocked.violation?.details, {
      argument: "query",
      length: 101,
      max_length: 100,
    });
  } finally {
    await plugin.shutdown();
  }
  const raw = await RawGrpcClient.connect(address);
  try {
    const health = await raw.call("/grpc.health.v1.Health/Check", new Uint8Array(0));
    assert.deepEqual([...health.bytes!], [0x08, 0x01], "grpc.health.v1 SERVING");
  } finally {
    raw.close();
  }
}

Deno.test("gRPC example server runs with exactly --allow-net=127.0.0.1:PORT and the nine GRPC_* names", async () => {
  const port = freePort();
  const server = example([`--allow-net=127.0.0.1:${port}`, GRPC_ENV_FLAG], `127.0.0.1:${port}`);
  try {
    await within(server.ready, "READY", WAIT_MS);
    await exercise(`127.0.0.1:${port}`);
    server.kill("SIGTERM");
    const { status, stdout, stderr } = await server.finish();
    assert.equal(status.code, 0, `exit ${status.code}; stderr: ${stderr}`);
    assert.equal(stdout, `READY grpc 127.0.0.1:${port}\n`);
    assert.equal(stderr, "", "no permission prompt, warning or error");
  } finally {
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
  }
});

Deno.test("gRPC example server on a Unix socket runs with exactly the three socket flags and the GRPC_* names", async () => {
  const path = socketPath("perm");
  const server = example(
    [`--allow-net=unix:${path}`, `--allow-read=${path}`, `--allow-write=${path}`, GRPC_ENV_FLAG],
    `unix:${path}`,
  );
  try {
    await within(server.ready, "READY", WAIT_MS);
    assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
    await exercise(path);
    server.kill("SIGTERM");
    const { status, stdout, stderr } = await server.finish();
    assert.equal(status.code, 0, `exit ${status.code}; stderr: ${stderr}`);
    assert.equal(stdout, `READY grpc ${path}\n`);
    assert.equal(stderr, "");
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "socket removed on SIGTERM");
  } finally {
    server.kill("SIGKILL");
    await server.finish().catch(() => {});
    await Deno.remove(path).catch(() => {});
  }
});

const ONE_ENV_SHORT = `--allow-env=${GRPC_ENV_VARS.slice(1).join(",")}`;

for (
  const [label, flags, missing] of [
    ["the net flag", (_p: number) => [GRPC_ENV_FLAG], (p: number) => `--allow-net=127.0.0.1:${p}`],
    ["the env flag", (p: number) => [`--allow-net=127.0.0.1:${p}`], () => GRPC_ENV_FLAG],
    [
      "one of the nine GRPC_* names",
      (p: number) => [`--allow-net=127.0.0.1:${p}`, ONE_ENV_SHORT],
      () => GRPC_ENV_FLAG,
    ],
  ] as const
) {
  Deno.test(`gRPC example server without ${label} exits naming it`, async () => {
    const port = freePort();
    const server = example([...flags(port)], `127.0.0.1:${port}`);
    const { status, stdout, stderr } = await server.finish();
    assert.equal(status.code, 1);
    assert.equal(stdout, "");
    assert.match(
      stderr,
      /^PermissionPreflightError: The gRPC plugin server needs Deno permissions/,
    );
    assert.ok(stderr.includes(missing(port)), stderr);
    assert.doesNotMatch(stderr, /NotCapable/, "no crash inside grpc-js");
  });
}

for (const which of ["net", "read", "write"] as const) {
  Deno.test(`gRPC example server on a Unix socket without --allow-${which} exits naming it`, async () => {
    const path = socketPath("miss");
    const all = {
      net: `--allow-net=unix:${path}`,
      read: `--allow-read=${path}`,
      write: `--allow-write=${path}`,
    };
    const flags = Object.entries(all).filter(([k]) => k !== which).map(([, v]) => v);
    const server = example([...flags, GRPC_ENV_FLAG], `unix:${path}`);
    const { status, stderr } = await server.finish();
    assert.equal(status.code, 1);
    assert.ok(stderr.includes(all[which]), stderr);
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, "nothing was bound");
  });
}

Deno.test("a gateway-side gRPC client needs only the net flag and the nine GRPC_* names", async () => {
  const port = freePort();
  const server = example([`--allow-net=127.0.0.1:${port}`, GRPC_ENV_FLAG], `127.0.0.1:${port}`);
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-gp-" });
  try {
    await within(server.ready, "READY", WAIT_MS);
    const script = `${dir}/client.ts`;
    const client = new URL("../src/external/grpc/client.ts", import.meta.url).href;
    const context = new URL("../src/context.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { GrpcExternalPlugin } from ${JSON.stringify(client)};\n` +
        `import { PluginContext } from ${JSON.stringify(context)};\n` +
        `const p = new GrpcExternalPlugin({ name: "ArgumentValidator", kind: "external",\n` +
        `  grpc: { target: "127.0.0.1:${port}" } });\n` +
        "try {\n" +
        "  await p.initialize();\n" +
        `  const r = await p.handleHook("tool_pre_invoke", { name: "t", args: { q: "${
          "y".repeat(150)
        }" } },\n` +
        `    new PluginContext({ request_id: "r" }), { signal: new AbortController().signal, extensions: null });\n` +
        "  console.log(r.violation?.code);\n" +
        "} catch (e) {\n" +
        "  console.error(`${e.name}: ${e.message}`);\n" +
        "  Deno.exitCode = 1;\n" +
        "} finally {\n" +
        "  await p.shutdown();\n" +
        "}\n",
    );
    const config = new URL("../deno.json", import.meta.url).pathname;
    const run = async (flags: string[]) => {
      const child = new Subprocess(["run", "--no-prompt", `--config=${config}`, ...flags, script]);
      return await child.finish();
    };
    const ok = await run([`--allow-net=127.0.0.1:${port}`, GRPC_ENV_FLAG]);
    assert.equal(ok.status.code, 0, ok.stderr);
    assert.equal(ok.stdout, "ARGUMENT_TOO_LONG\n");
    assert.equal(ok.stderr, "");

    const noEnv = await run([`--allow-net=127.0.0.1:${port}`]);
    assert.equal(noEnv.status.code, 1);
    assert.match(noEnv.stderr, /^PermissionPreflightError: The gRPC plugin client needs/);
    assert.ok(noEnv.stderr.includes(GRPC_ENV_FLAG), noEnv.stderr);

    const noNet = await run([GRPC_ENV_FLAG]);
    assert.equal(noNet.status.code, 1);
    assert.ok(noNet.stderr.includes(`--allow-net=127.0.0.1:${port}`), noNet.stderr);
  } finally {
    server.kill("SIGTERM");
    await server.finish().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
