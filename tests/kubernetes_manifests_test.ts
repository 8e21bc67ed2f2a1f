/**
 * The Kubernetes example (issue 14 item 5) says only what the server really does: each manifest
 * of `examples/kubernetes/` is parsed, its Deployment, headless Service, ConfigMap and
 * NetworkPolicy are checked against each other (labels, ports, probes, mounts, security
 * context, resources), and then the container's exact command line is run here (paths mapped
 * to this checkout, the port to a free one): it must print READY, answer the probes the
 * manifest declares (the kubelet's gRPC probe is `grpc.health.v1.Health/Check`; the HTTP one a
 * GET), serve a real hook call from a gateway, and stop cleanly on SIGTERM. Each permission
 * flag is then dropped in turn: the server must refuse to start naming it, so the flags are
 * exactly what `cpex serve`'s preflight requires.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseConfig, type PluginConfigInput, PluginManager } from "../mod.ts";
import { GRPC_ENV_FLAG } from "../src/external/grpc/permissions.ts";
import { freePort, RawGrpcClient } from "./helpers/grpc_fixtures.ts";
import { REPO } from "./helpers/cli.ts";
import { Subprocess, within } from "./helpers/subprocess.ts";

const DIR = `${REPO}examples/kubernetes/`;
const MANIFESTS = { grpc: "plugins-grpc.yaml", mcp: "plugins-mcp.yaml" } as const;
type Transport = keyof typeof MANIFESTS;

// deno-lint-ignore no-explicit-any
type Doc = any;

/** The documents of a manifest, by kind (one of each). */
async function load(file: string): Promise<Record<string, Doc>> {
  const docs = parseAllDocuments(await Deno.readTextFile(DIR + file));
  const byKind: Record<string, Doc> = {};
  for (const doc of docs as { errors: unknown[]; toJS(): Doc }[]) {
    assert.deepEqual(doc.errors, [], `${file} parses`);
    const value = doc.toJS();
    assert.equal(byKind[value.kind], undefined, `one ${value.kind} in ${file}`);
    byKind[value.kind] = value;
  }
  for (const kind of ["ConfigMap", "Deployment", "Service", "NetworkPolicy"]) {
    assert.ok(byKind[kind], `${file} has a ${kind}`);
  }
  return byKind;
}

/** `labels` has every key/value of `selector`. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The value after `--name` in `args`. */
function argOf(args: string[], name: string): string {
  const i = args.indexOf(name);
  assert.ok(i >= 0 && i + 1 < args.length, `${name} in the container args`);
  return args[i + 1];
}

/** A probe's port (number or container port name) as a number. */
function probePort(port: number | string, ports: { name: string; containerPort: number }[]) {
  if (typeof port === "number") return port;
  const found = ports.find((p) => p.name === port);
  assert.ok(found, `probe port ${port} names a container port`);
  return found.containerPort;
}

/** What the static checks learned, for the run. */
interface Checked {
  command: string[];
  args: string[];
  configDir: string;
  configKey: string;
  configText: string;
  host: string;
  port: number;
  probes: Doc[];
}

function checkStatic(transport: Transport, m: Record<string, Doc>): Checked {
  const deployment = m.Deployment;
  const spec = deployment.spec;
  assert.ok(spec.replicas >= 2, "several replicas");
  const podLabels = spec.template.metadata.labels;
  assert.ok(selects(spec.selector.matchLabels, podLabels), "the Deployment selects its pods");

  const pod = spec.template.spec;
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0, "a non-root uid");
  assert.equal(pod.containers.length, 1);
  const container = pod.containers[0];
  const sc = container.securityContext;
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.notEqual(sc.privileged, true);
  assert.deepEqual(sc.capabilities.drop, ["ALL"]);
  assert.equal(sc.capabilities.add, undefined);
  assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
  assert.ok(container.resources.limits.memory, "a memory limit");

  // The command: `deno run` with only the transport's permissions, then cli.ts serve ...
  const command: string[] = container.command;
  const args: string[] = container.args;
  assert.deepEqual(command.slice(0, 2), ["deno", "run"]);
  assert.equal(command.at(-1), "/app/cli.ts");
  assert.equal(args[0], "serve");
  for (const flag of command.slice(2, -1)) {
    assert.ok(
      ["--cached-only", "--no-prompt"].includes(flag) ||
        /^--allow-(read|net|env)=[^,]+(,[^,]+)*$/.test(flag),
      `only scoped read/net/env permissions: ${flag}`,
    );
  }
  assert.equal(argOf(args, "--transport"), transport);
  const host = argOf(args, "--host");
  const port = Number(argOf(args, "--port"));
  const netFlags = command.filter((f) => f.startsWith("--allow-net="));
  assert.deepEqual(netFlags, [`--allow-net=${host}:${port}`], "net: exactly the bind address");
  const envFlags = command.filter((f) => f.startsWith("--allow-env="));
  assert.deepEqual(envFlags, transport === "grpc" ? [GRPC_ENV_FLAG] : []);
  assert.equal(command.filter((f) => f.startsWith("--allow-read=")).length, 1);

  // Ports: the container's, the Service's and the NetworkPolicy's agree with --port.
  const ports = container.ports;
  assert.deepEqual(ports.map((p: Doc) => p.containerPort), [port]);
  const service = m.Service;
  assert.equal(service.spec.clusterIP, "None", "a headless Service");
  assert.ok(selects(service.spec.selector, podLabels), "the Service selects the pods");
  for (const p of service.spec.ports) {
    assert.equal(p.port, port);
    assert.equal(probePort(p.targetPort, ports), port);
  }
  const policy = m.NetworkPolicy;
  assert.ok(selects(policy.spec.podSelector.matchLabels, podLabels), "the policy selects them");
  for (const rule of policy.spec.ingress) {
    for (const p of rule.ports) assert.equal(probePort(p.port, ports), port);
  }

  // Probes: on the served port, with the protocol the transport's server answers.
  const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe];
  assert.ok(container.readinessProbe && container.livenessProbe, "readiness and liveness");
  for (const probe of probes.filter(Boolean)) {
    if (transport === "grpc") {
      assert.ok(probe.grpc, "a gRPC probe (grpc.health.v1)");
      assert.equal(probePort(probe.grpc.port, ports), port);
    } else {
      assert.ok(probe.httpGet, "an HTTP probe");
      assert.equal(probe.httpGet.path, "/health");
      assert.equal(probePort(probe.httpGet.port, ports), port);
    }
  }

  // The config comes from the ConfigMap mounted where --config points.
  const config = argOf(args, "--config");
  const configDir = config.slice(0, config.lastIndexOf("/"));
  const configKey = config.slice(configDir.length + 1);
  const mount = container.volumeMounts.find((v: Doc) => v.mountPath === configDir);
  assert.ok(mount, `a volume is mounted at ${configDir}`);
  assert.equal(mount.readOnly, true);
  const volume = pod.volumes.find((v: Doc) => v.name === mount.name);
  assert.equal(volume.configMap.name, m.ConfigMap.metadata.name);
  const configText = m.ConfigMap.data[configKey];
  assert.equal(typeof configText, "string", `the ConfigMap has ${configKey}`);
  return { command, args, configDir, configKey, configText, host, port, probes };
}

/**
 * Lays the ConfigMap out as the kubelet does (`..data` links to a timestamped directory and the
 * key links into `..data`), under a fresh directory standing for the mount path.
 */
async function mountConfigMap(dir: string, key: string, text: string): Promise<void> {
  const stamp = "..2026_12_02_16_00_00.000000001";
  await Deno.mkdir(`${dir}/${stamp}`);
  await Deno.writeTextFile(`${dir}/${stamp}/${key}`, text.replaceAll("/app/", REPO));
  // `ln`: Deno.symlink needs unscoped read and write permissions, the test task grants /tmp.
  await symlink(stamp, `${dir}/..data`);
  await symlink(`..data/${key}`, `${dir}/${key}`);
}

async function symlink(target: string, path: string): Promise<void> {
  const out = await new Deno.Command("ln", { args: ["-s", target, path], stderr: "piped" })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/** The container's command line for this checkout: paths mapped, host and port replaced. */
function localCommand(c: Checked, mountDir: string, port: number): string[] {
  const map = (s: string): string =>
    s.replaceAll(c.configDir, mountDir).replaceAll("/app/", REPO)
      .replaceAll(`${c.host}:${c.port}`, `127.0.0.1:${port}`);
  const args = c.args.map(map);
  args[args.indexOf("--host") + 1] = "127.0.0.1";
  args[args.indexOf("--port") + 1] = String(port);
  return [...c.command.slice(1).map(map), ...args];
}

/** Calls the served DenyList as a gateway would; true when it blocked. */
async function blocks(transport: Transport, port: number, query: string): Promise<boolean> {
  const entry: PluginConfigInput = {
    name: "DenyList",
    kind: "external",
    hooks: ["tool_pre_invoke"],
    on_error: "fail",
    ...(transport === "grpc"
      ? { grpc: { target: `127.0.0.1:${port}` } }
      : { mcp: { proto: "STREAMABLEHTTP", url: `http://localhost:${port}/mcp` } }),
  };
  const gateway = new PluginManager(parseConfig({ plugins: [entry] }), {
    logger: { warn: () => {} },
    metrics: null,
  });
  await gateway.initialize();
  try {
    const [result] = await gateway.invokeHook(
      "tool_pre_invoke",
      { name: "shell", args: { command: query } },
      { request_id: "k8s-1" },
    );
    return !result.continue_processing;
  } finally {
    await gateway.shutdown();
  }
}

/** Answers `probe` as the kubelet would ask it: true when healthy. */
async function probeOk(transport: Transport, port: number, probe: Doc): Promise<boolean> {
  if (transport === "grpc") {
    const client = await RawGrpcClient.connect(`127.0.0.1:${port}`);
    try {
      const service = new TextEncoder().encode(probe.grpc.service ?? "");
      const request = service.length ? new Uint8Array([0x0a, service.length, ...service]) : service;
      const out = await client.call("/grpc.health.v1.Health/Check", request);
      // HealthCheckResponse { status: SERVING (1) }
      return out.code === 0 && out.bytes !== null && out.bytes[0] === 0x08 && out.bytes[1] === 1;
    } finally {
      client.close();
    }
  }
  const response = await fetch(`http://127.0.0.1:${port}${probe.httpGet.path}`);
  const body = await response.json();
  return response.status >= 200 && response.status < 400 && body.status === "healthy";
}

for (const [transport, file] of Object.entries(MANIFESTS) as [Transport, string][]) {
  Deno.test(`kubernetes/${file}: the manifest agrees with itself and with what the server serves`, async () => {
    const checked = checkStatic(transport, await load(file));
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-res-reload-k8s-" });
    try {
      await mountConfigMap(dir, checked.configKey, checked.configText);
      const port = freePort();
      const server = new Subprocess(localCommand(checked, dir, port));
      try {
        await within(server.ready, `${file}: READY`, 60_000);
        for (const probe of checked.probes) {
          assert.ok(await probeOk(transport, port, probe), "the probe passes");
        }
        assert.equal(await blocks(transport, port, "rm -rf /"), true);
        assert.equal(await blocks(transport, port, "ls"), false);
      } finally {
        server.kill("SIGTERM");
        const { status, stderr } = await server.finish();
        assert.equal(status.code, 0, stderr);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`kubernetes/${file}: every permission it grants is one serve needs`, async () => {
    const checked = checkStatic(transport, await load(file));
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cpex-res-reload-k8s-" });
    try {
      await mountConfigMap(dir, checked.configKey, checked.configText);
      const port = freePort();
      const full = localCommand(checked, dir, port);
      // One run per granted path or address: without it, serve refuses to start.
      const grants: { flag: string; without: string[]; kind: string; item: string }[] = [];
      full.forEach((flag, i) => {
        const m = /^--allow-(read|net|env)=(.*)$/.exec(flag);
        if (!m) return;
        const items = m[2].split(",");
        // The nine GRPC_* names go together (grpc-js needs all of them).
        const groups = m[1] === "env" ? [items] : items.map((item) => [item]);
        for (const group of groups) {
          const rest = items.filter((item) => !group.includes(item));
          const without = [...full];
          if (rest.length) without[i] = `--allow-${m[1]}=${rest.join(",")}`;
          else without.splice(i, 1);
          // The error names the flag and (a prefix of) what was dropped.
          const flag = `--allow-${m[1]}=${group.join(",")}`;
          grants.push({ flag, without, kind: `--allow-${m[1]}`, item: group[0] });
        }
      });
      assert.ok(grants.length >= (transport === "grpc" ? 4 : 3));
      for (const grant of grants) {
        const run = new Subprocess(grant.without);
        const { status, stdout, stderr } = await run.finish();
        assert.equal(status.code, 1, `without ${grant.flag} serve must fail: ${stderr}`);
        assert.doesNotMatch(stdout, /READY/);
        assert.ok(
          stderr.includes(grant.kind) && stderr.includes(grant.item),
          `the error names ${grant.kind} and ${grant.item}: ${stderr}`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
