/**
 * Issue 17 items 1 and 2: recording hook traffic (sampling, rotation, redaction, dropping on a
 * failing writer) and replaying it through a candidate config with `cpex replay`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  CpexMetrics,
  type GlobalContext,
  HookRecorder,
  luhnValid,
  PluginManager,
  type RecordedCall,
  REDACTED,
} from "../mod.ts";
import { parseRecording, type ReplayReport } from "../testing.ts";
import { main } from "../src/cli/main.ts";
import { STEPS } from "../examples/demo/script.ts";
import { demoTraffic } from "./demo_traffic.ts";
import { socketPath, startPluginServer } from "./helpers/unix_fixtures.ts";
import { DenyList } from "../examples/plugins/deny_list.ts";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const GATEWAY = `${EXAMPLES}gateway.yaml`;
const quiet = { warn: () => {}, info: () => {} };

/** The gateway config with its plugin kinds made absolute, so the copy may live in /tmp. */
async function gatewayCopy(dir: string, edit: (yaml: string) => string = (y) => y) {
  const yaml = (await Deno.readTextFile(GATEWAY)).replaceAll("./plugins/", `${EXAMPLES}plugins/`);
  const path = `${dir}/candidate.yaml`;
  await Deno.writeTextFile(path, edit(yaml));
  return path;
}

async function record(path: string, n: number, redact: false | undefined = false) {
  const recorder = new HookRecorder({ path, redact });
  const manager = new PluginManager(GATEWAY, { recorder, metrics: null, logger: quiet });
  await manager.initialize();
  for (const [hook, payload, ctx] of demoTraffic(n)) {
    await manager.invokeHook(hook, payload as never, ctx);
  }
  await manager.shutdown();
  await recorder.close();
  return recorder;
}

async function replay(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["replay", ...args], {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
  });
  return { code, out, err };
}

Deno.test("1,000 recorded demo calls replay against the same config with no change and exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-replay-" });
  try {
    const rec = `${dir}/hooks.jsonl`;
    const recorder = await record(rec, 1000);
    assert.equal(recorder.written, 1000);
    assert.equal(recorder.dropped, 0);
    assert.equal((await Deno.stat(rec)).mode! & 0o777, 0o600);
    const { calls, skipped } = parseRecording(await Deno.readTextFile(rec));
    assert.equal(calls.length, 1000);
    assert.equal(skipped, 0);
    // The decisions are in the file: the jailbreak prompt is blocked by DenyList.
    const jailbreak = calls[2];
    assert.equal(jailbreak.decision.continue, false);
    assert.deepEqual(
      [jailbreak.decision.violation?.plugin, jailbreak.decision.violation?.code],
      ["DenyList", "deny"],
    );
    assert.ok(jailbreak.decision.plugins.some((p) => p.name === "DenyList" && !p.allow));
    assert.ok(calls[4].decision.modified_payload, "PiiMasker's change is recorded");
    const { code, out } = await replay(["--config", await gatewayCopy(dir), rec]);
    assert.equal(code, 0, out);
    assert.match(out, /replayed 1000 calls: no decision changed/);
    assert.match(out, /recorded .*\n\s+candidate/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one deny-list word added: exactly the calls with that word are newly blocked, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-replay-" });
  try {
    const rec = `${dir}/hooks.jsonl`;
    await record(rec, 1000);
    const candidate = await gatewayCopy(
      dir,
      (y) => y.replace("words: [jailbreak,", "words: [crap, jailbreak,"),
    );
    const { code, out } = await replay(["--config", candidate, "--json", rec]);
    assert.equal(code, 1);
    const report = JSON.parse(out) as ReplayReport;
    // Which calls carry the word to a DenyList hook (prompt_pre_fetch, tool_pre_invoke) and
    // were allowed before: the "rude prompt" step only.
    const expected: string[] = [];
    for (const [hook, payload, ctx] of demoTraffic(1000)) {
      const text = JSON.stringify(payload);
      const denyHook = hook === "prompt_pre_fetch" || hook === "tool_pre_invoke";
      if (denyHook && /\bcrap\b/i.test(text) && !/ignore previous/i.test(text)) {
        expected.push(ctx.request_id);
      }
    }
    assert.ok(expected.length > 50);
    assert.equal(report.calls, 1000);
    assert.equal(report.changed, expected.length);
    assert.equal(report.groups.length, 1);
    const [group] = report.groups;
    assert.deepEqual([group.kind, group.plugin, group.code, group.count], [
      "newly_blocked",
      "DenyList",
      "deny",
      expected.length,
    ]);
    assert.equal(group.examples.length, 3);
    assert.deepEqual(group.examples.map((e) => e.request_id), expected.slice(0, 3));
    assert.equal(group.examples[0].was, "allowed");
    assert.equal(group.examples[0].now, "blocked by DenyList (deny)");
    assert.ok(report.latency.candidate.p99 >= report.latency.candidate.p50);
    // The text form names the group too.
    const text = await replay(["--config", candidate, rec]);
    assert.equal(text.code, 1);
    assert.match(text.out, new RegExp(`newly blocked: ${expected.length} by DenyList deny`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay reports a usage error without --config and skips unreadable lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-replay-" });
  try {
    const rec = `${dir}/hooks.jsonl`;
    await record(rec, 13);
    await Deno.writeTextFile(rec, '{"truncated', { append: true });
    assert.equal((await replay([rec])).code, 2);
    const { code, out } = await replay(["--config", await gatewayCopy(dir), rec]);
    assert.equal(code, 0);
    assert.match(out, /replayed 13 calls \(1 unreadable lines skipped\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;

Deno.test("default redaction leaves no e-mail or card number in the recording; paths are redacted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-record-" });
  try {
    const rec = `${dir}/hooks.jsonl`;
    const recorder = new HookRecorder({
      path: rec,
      redact: { paths: ["args.customer_id", "global_context.user"] }, // default patterns
    });
    const manager = new PluginManager(GATEWAY, { recorder, metrics: null, logger: quiet });
    await manager.initialize();
    for (const [hook, payload, ctx] of demoTraffic(26)) {
      ctx.user = "alice@corp.example";
      await manager.invokeHook(hook, payload as never, ctx);
    }
    // A violation reason quoting a card number, and a non-card 16-digit number that stays.
    await manager.invokeHook("tool_pre_invoke", {
      name: "pay",
      args: { card: "4111-1111-1111-1111", order: "1234 5678 9012 3456" },
    }, { request_id: "pay-1" });
    await manager.shutdown();
    await recorder.close();
    const text = await Deno.readTextFile(rec);
    assert.ok(STEPS.some((s) => EMAIL.test(JSON.stringify(s.payload))), "the traffic has e-mails");
    assert.doesNotMatch(text, EMAIL);
    for (const run of text.match(/\d(?:[ -]?\d){12,18}/g) ?? []) {
      assert.ok(!luhnValid(run), `card number ${run} left in the recording`);
    }
    assert.match(text, /1234 5678 9012 3456/);
    const calls = text.trim().split("\n").map((l) => JSON.parse(l) as RecordedCall);
    const crm = calls.find((c) => (c.payload as { name?: string }).name === "crm_lookup")!;
    assert.equal((crm.payload as { args: Record<string, unknown> }).args.customer_id, REDACTED);
    assert.equal((crm.global_context as GlobalContext).user, REDACTED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failing writer drops records, counted in the metric, and never fails a call", async () => {
  const metrics = new CpexMetrics();
  let attempts = 0;
  const stream = new WritableStream<Uint8Array>({
    write() {
      attempts++;
      throw new Error("ENOSPC: no space left on device");
    },
  });
  const recorder = new HookRecorder({ stream, metrics, redact: false });
  const manager = new PluginManager(GATEWAY, { recorder, metrics, logger: quiet });
  await manager.initialize();
  let blocked = 0;
  for (const [hook, payload, ctx] of demoTraffic(100)) {
    const [result] = await manager.invokeHook(hook, payload as never, ctx);
    if (!result.continue_processing) blocked++;
  }
  await recorder.flush();
  await manager.shutdown();
  await recorder.close();
  assert.ok(blocked > 0);
  assert.ok(attempts >= 1);
  assert.equal(recorder.written, 0);
  assert.equal(recorder.dropped, 100);
  assert.equal(metrics.recordDropped, 100);
});

Deno.test("a full queue drops records instead of waiting, and sample_rate 0 records nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-record-" });
  try {
    const recorder = new HookRecorder({ path: `${dir}/q.jsonl`, queueSize: 10, redact: false });
    const manager = new PluginManager(GATEWAY, { recorder, metrics: null, logger: quiet });
    await manager.initialize();
    // 50 calls before the writer gets a turn: the queue holds 10.
    await Promise.all(
      [...demoTraffic(50)].map(([h, p, c]) => manager.invokeHook(h, p as never, c)),
    );
    await manager.shutdown();
    await recorder.close();
    assert.equal(recorder.written + recorder.dropped, 50);
    assert.ok(recorder.dropped >= 40, `dropped ${recorder.dropped}`);

    const none = new HookRecorder({ path: `${dir}/none.jsonl`, sampleRate: 0 });
    const m2 = new PluginManager(GATEWAY, { recorder: none, metrics: null, logger: quiet });
    await m2.initialize();
    for (const [h, p, c] of demoTraffic(20)) await m2.invokeHook(h, p as never, c);
    await m2.shutdown();
    await none.close();
    assert.equal(none.written, 0);
    await assert.rejects(Deno.stat(`${dir}/none.jsonl`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugin_settings.record rotates at max_bytes and keeps max_files files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-record-" });
  try {
    const rec = `${dir}/hooks.jsonl`;
    const config = await gatewayCopy(dir, (y) =>
      y.replace(
        "plugin_settings:\n",
        `plugin_settings:\n  record: {path: "${rec}", max_bytes: 4000, max_files: 2}\n`,
      ));
    const manager = new PluginManager(config, { metrics: null, logger: quiet });
    await manager.initialize();
    for (const [h, p, c] of demoTraffic(200)) {
      if (STEPS[Number(c.request_id.slice(4)) % STEPS.length].label === "huge log download") {
        continue; // one 100 KB line would be a file of its own
      }
      await manager.invokeHook(h, p as never, c);
    }
    await manager.shutdown(); // closes the recorder it created
    for (const path of [rec, `${rec}.1`, `${rec}.2`]) {
      const size = (await Deno.stat(path)).size;
      assert.ok(size > 0 && size <= 4000, `${path}: ${size} bytes`);
    }
    await assert.rejects(Deno.stat(`${rec}.3`), Deno.errors.NotFound);
    // The newest calls are in the live file, each line whole.
    const { calls, skipped } = parseRecording(await Deno.readTextFile(rec));
    assert.equal(skipped, 0);
    assert.equal(
      calls.at(-1)!.global_context && (calls.at(-1)!.global_context as GlobalContext).request_id,
      "req-199",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay runs the candidate's external plugins too (a deny list on a Unix socket server)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpex-replay-" });
  const sock = socketPath("replay");
  const server = await startPluginServer([
    new DenyList({
      name: "DenyList",
      kind: "external-host",
      hooks: ["prompt_pre_fetch", "tool_pre_invoke"],
      config: { words: ["crap", "jailbreak", "ignore previous instructions", "rm -rf"] },
    }),
  ], sock);
  try {
    const rec = `${dir}/hooks.jsonl`;
    await record(rec, 130);
    const candidate = await gatewayCopy(dir, (y) =>
      y.replace(
        /kind: \S+deny_list\.ts#DenyList\n((?: {4}.*\n)*?) {4}config:\n {6}words: .*\n/,
        `kind: external\n$1    unix_socket: {path: "${sock}"}\n`,
      ));
    assert.match(await Deno.readTextFile(candidate), /kind: external/);
    const { code, out } = await replay(["--config", candidate, "--json", rec]);
    assert.equal(code, 1, out);
    const report = JSON.parse(out) as ReplayReport;
    const expected = [...demoTraffic(130)].filter(([h, p]) =>
      (h === "prompt_pre_fetch" || h === "tool_pre_invoke") &&
      /\bcrap\b/i.test(JSON.stringify(p)) && !/ignore previous/i.test(JSON.stringify(p))
    ).length;
    assert.deepEqual(
      report.groups.map((g) => [g.kind, g.plugin, g.code, g.count]),
      [["newly_blocked", "DenyList", "deny", expected]],
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
