/**
 * Tests of the example plugins (examples/plugins/*) through a real PluginManager, of the demo
 * gateway config, and a smoke run of the demo itself.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type GlobalContext, type Plugin, PluginManager } from "../mod.ts";
import { ArgumentValidator } from "../examples/plugins/argument_validator.ts";
import { DenyList } from "../examples/plugins/deny_list.ts";
import { luhnValid, PiiMasker } from "../examples/plugins/pii_masker.ts";

const ctx = (): GlobalContext => ({ request_id: "req-1", server_id: "public-gateway" });

async function withManager(
  plugins: Plugin[],
  fn: (manager: PluginManager) => Promise<void>,
): Promise<void> {
  const manager = new PluginManager();
  await manager.initialize();
  try {
    for (const plugin of plugins) await manager.registerPlugin(plugin);
    await fn(manager);
  } finally {
    await manager.shutdown();
  }
}

/** The `args` of a (modified) pre-hook payload. */
const argsOf = (payload: unknown): unknown => (payload as { args?: unknown } | null)?.args;

const ALL_PRE = ["tool_pre_invoke", "prompt_pre_fetch"];
const ALL_HOOKS = [...ALL_PRE, "tool_post_invoke", "prompt_post_fetch"];

// --- ArgumentValidator ------------------------------------------------------------------------

Deno.test("argument validator allows arguments up to max_length", async () => {
  const plugin = new ArgumentValidator({
    name: "validator",
    kind: "example",
    hooks: ALL_PRE,
    config: { max_length: 10 },
  });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "search", args: { query: "0123456789", limit: 123456789012345 } },
      ctx(),
    );
    assert.equal(result.continue_processing, true);
    assert.equal(result.violation, null);
    assert.equal(result.modified_payload, null);
  });
});

Deno.test("argument validator blocks an over-long tool argument and names it", async () => {
  const plugin = new ArgumentValidator({
    name: "validator",
    kind: "example",
    hooks: ALL_PRE,
    config: { max_length: 10 },
  });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "search", args: { query: "ok", filters: { name: "x".repeat(11) } } },
      ctx(),
    );
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "ARGUMENT_TOO_LONG");
    assert.equal(result.violation?.plugin_name, "validator");
    assert.match(result.violation?.description ?? "", /'filters\.name'/);
    assert.deepEqual(result.violation?.details, {
      argument: "filters.name",
      length: 11,
      max_length: 10,
    });
  });
});

Deno.test("argument validator defaults max_length to 100 and checks prompt arguments", async () => {
  const plugin = new ArgumentValidator({ name: "validator", kind: "example", hooks: ALL_PRE });
  assert.equal(plugin.maxLength, 100);
  await withManager([plugin], async (manager) => {
    const [ok] = await manager.invokeHook(
      "prompt_pre_fetch",
      { prompt_id: "p", args: { text: "a".repeat(100) } },
      ctx(),
    );
    assert.equal(ok.continue_processing, true);
    const [blocked] = await manager.invokeHook(
      "prompt_pre_fetch",
      { prompt_id: "p", args: { text: "a".repeat(101) } },
      ctx(),
    );
    assert.equal(blocked.continue_processing, false);
    assert.equal(blocked.violation?.code, "ARGUMENT_TOO_LONG");
    assert.equal(blocked.violation?.details?.argument, "text");
  });
});

Deno.test("argument validator rejects a max_length that is not a positive integer", () => {
  for (const max_length of [0, -1, 2.5, "100"]) {
    assert.throws(
      () => new ArgumentValidator({ name: "v", kind: "example", config: { max_length } }),
      (err: Error) => err instanceof TypeError && /max_length/.test(err.message),
    );
  }
});

// --- DenyList ---------------------------------------------------------------------------------

Deno.test("deny list blocks a denied word case-insensitively with code deny", async () => {
  const plugin = new DenyList({
    name: "deny",
    kind: "example",
    hooks: ALL_PRE,
    config: { words: ["crap", "ignore previous instructions"] },
  });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "prompt_pre_fetch",
      { prompt_id: "greeting", args: { user: "Bob", text: "What a load of CRAP!" } },
      ctx(),
    );
    assert.equal(result.continue_processing, false);
    assert.equal(result.violation?.code, "deny");
    assert.equal(result.violation?.reason, "Prompt not allowed");
    assert.equal(result.violation?.plugin_name, "deny");
    assert.deepEqual(result.violation?.details, { argument: "text", word: "CRAP" });
  });
});

Deno.test("deny list matches whole words and phrases, not substrings", async () => {
  const plugin = new DenyList({
    name: "deny",
    kind: "example",
    hooks: ALL_PRE,
    config: { words: ["crap", "ignore previous instructions", "rm -rf"] },
  });
  await withManager([plugin], async (manager) => {
    const allowed = ["a scrappy startup", "crapulence", "ignore the previous one", "rm -r"];
    for (const text of allowed) {
      const [result] = await manager.invokeHook(
        "prompt_pre_fetch",
        { prompt_id: "p", args: { text } },
        ctx(),
      );
      assert.equal(result.continue_processing, true, text);
    }
    const [phrase] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "shell", args: { steps: [{ run: "echo hi" }, { run: "sudo rm   -RF /" }] } },
      ctx(),
    );
    assert.equal(phrase.continue_processing, false);
    assert.equal(phrase.violation?.details?.argument, "steps[1].run");
  });
});

Deno.test("deny list with no words allows everything", async () => {
  const plugin = new DenyList({ name: "deny", kind: "example", hooks: ALL_PRE });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t", args: { text: "crap" } },
      ctx(),
    );
    assert.equal(result.continue_processing, true);
  });
});

Deno.test("deny list blocking stops later sequential plugins", async () => {
  const deny = new DenyList({
    name: "deny",
    kind: "example",
    hooks: ALL_PRE,
    priority: 1,
    config: { words: ["crap"] },
  });
  const pii = new PiiMasker({ name: "pii", kind: "example", hooks: ALL_HOOKS, priority: 2 });
  await withManager([pii, deny], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t", args: { text: "crap from a@b.io" } },
      ctx(),
    );
    assert.equal(result.continue_processing, false);
    assert.equal(result.modified_payload, null);
    assert.deepEqual(result.executions.map((r) => r.plugin_name), ["deny"]);
  });
});

// --- PiiMasker --------------------------------------------------------------------------------

Deno.test("pii masker masks e-mail, phone, card and SSN in tool arguments", async () => {
  const plugin = new PiiMasker({ name: "pii", kind: "example", hooks: ALL_HOOKS });
  const payload = {
    name: "send_email",
    args: {
      to: "bob@example.com",
      body: "Card 4111 1111 1111 1111, call (555) 123-4567, SSN 078-05-1120.",
      count: 3,
    },
  };
  const snapshot = structuredClone(payload);
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook("tool_pre_invoke", payload, ctx());
    assert.equal(result.continue_processing, true);
    assert.deepEqual(argsOf(result.modified_payload), {
      to: "[REDACTED]",
      body: "Card [REDACTED], call [REDACTED], SSN [REDACTED].",
      count: 3,
    });
    assert.equal((result.modified_payload as { name: string }).name, "send_email");
    assert.deepEqual(result.metadata, { pii_masked: 4 });
    assert.deepEqual(result.executions.map((r) => r.payload_modified), [true]);
  });
  assert.deepEqual(payload, snapshot, "the caller's payload is never mutated");
});

Deno.test("pii masker leaves card numbers that fail the Luhn check", async () => {
  const plugin = new PiiMasker({ name: "pii", kind: "example", hooks: ALL_HOOKS });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      {
        name: "crm_lookup",
        args: { order: "4111 1111 1111 1112", ts: "1700000000001", other: "4111-1111-1111-1113" },
      },
      ctx(),
    );
    assert.equal(result.modified_payload, null);
    assert.equal(result.metadata?.pii_masked, undefined);
  });
  assert.equal(luhnValid("4111 1111 1111 1111"), true);
  assert.equal(luhnValid("4111-1111-1111-1111"), true);
  assert.equal(luhnValid("378282246310005"), true); // American Express test number
  assert.equal(luhnValid("4111 1111 1111 1112"), false);
  assert.equal(luhnValid("0"), false); // too short to be a card number
  assert.equal(luhnValid("4111 1111 1111 111x"), false);
});

Deno.test("pii masker ignores impossible SSNs and plain numbers", async () => {
  const plugin = new PiiMasker({ name: "pii", kind: "example", hooks: ALL_HOOKS });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      {
        name: "t",
        args: {
          a: "000-12-3456",
          b: "666-12-3456",
          c: "912-12-3456",
          d: "123-00-4567",
          e: "2024-01-15",
        },
      },
      ctx(),
    );
    assert.equal(result.modified_payload, null);
  });
});

Deno.test("pii masker masks strings nested in tool and prompt results", async () => {
  const plugin = new PiiMasker({
    name: "pii",
    kind: "example",
    hooks: ALL_HOOKS,
    config: { mask: "<{kind}>" },
  });
  await withManager([plugin], async (manager) => {
    const [tool] = await manager.invokeHook(
      "tool_post_invoke",
      {
        name: "crm_lookup",
        result: { customers: [{ email: "jane@example.org", id: 7 }, { note: "none" }] },
      },
      ctx(),
    );
    assert.deepEqual(tool.modified_payload, {
      name: "crm_lookup",
      result: { customers: [{ email: "<EMAIL>", id: 7 }, { note: "none" }] },
    });
    assert.deepEqual(tool.metadata, { pii_masked: 1 });

    const [prompt] = await manager.invokeHook(
      "prompt_post_fetch",
      {
        prompt_id: "reply",
        result: {
          messages: [{ role: "user", content: { type: "text", text: "+44 20 7946 0958" } }],
        },
      },
      ctx(),
    );
    assert.deepEqual(prompt.modified_payload, {
      prompt_id: "reply",
      result: { messages: [{ role: "user", content: { type: "text", text: "<PHONE>" } }] },
    });

    const [plain] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "echo", result: "reach me at ada@example.com" },
      ctx(),
    );
    assert.deepEqual(plain.modified_payload, { name: "echo", result: "reach me at <EMAIL>" });
  });
});

Deno.test("pii masker returns no modified payload when nothing is personal", async () => {
  const plugin = new PiiMasker({ name: "pii", kind: "example", hooks: ALL_HOOKS });
  await withManager([plugin], async (manager) => {
    const [result] = await manager.invokeHook(
      "prompt_pre_fetch",
      { prompt_id: "p", args: { text: "Summarize the Q3 report in 3 bullets" } },
      ctx(),
    );
    assert.equal(result.modified_payload, null);
    assert.deepEqual(result.executions.map((r) => r.payload_modified), [false]);
  });
});

Deno.test("pii masker config toggles turn each kind off", async () => {
  const text = "a@b.io 555-123-4567 4111111111111111 078-05-1120";
  const cases: Array<[Record<string, boolean>, string]> = [
    [{ mask_emails: false }, "a@b.io [X] [X] [X]"],
    [{ mask_phones: false }, "[X] 555-123-4567 [X] [X]"],
    [{ mask_cards: false }, "[X] [X] 4111111111111111 [X]"],
    [{ mask_ssns: false }, "[X] [X] [X] 078-05-1120"],
  ];
  for (const [toggles, expected] of cases) {
    const plugin = new PiiMasker({
      name: "pii",
      kind: "example",
      hooks: ALL_HOOKS,
      config: { ...toggles, mask: "[X]" },
    });
    await withManager([plugin], async (manager) => {
      const [result] = await manager.invokeHook(
        "tool_pre_invoke",
        { name: "t", args: { text } },
        ctx(),
      );
      assert.deepEqual(argsOf(result.modified_payload), { text: expected });
      assert.deepEqual(result.metadata, { pii_masked: 3 });
    });
  }
  const off = new PiiMasker({
    name: "off",
    kind: "example",
    config: { mask_emails: false, mask_phones: false, mask_cards: false, mask_ssns: false },
  });
  assert.deepEqual(off.maskText(text), { text, count: 0 });
  assert.throws(
    () => new PiiMasker({ name: "bad", kind: "example", config: { mask_cards: "yes" } }),
    /mask_cards/,
  );
});

// --- The demo gateway config and the demo -----------------------------------------------------

const GATEWAY = new URL("../examples/gateway.yaml", import.meta.url);

Deno.test("examples/gateway.yaml loads its plugins with relative kinds", async () => {
  const manager = new PluginManager(GATEWAY);
  await manager.initialize();
  try {
    assert.equal(manager.pluginCount, 4);
    assert.ok(manager.getPlugin("ArgumentValidator") instanceof ArgumentValidator);
    assert.ok(manager.getPlugin("DenyList") instanceof DenyList);
    assert.ok(manager.getPlugin("PiiMasker") instanceof PiiMasker);

    // server_ids condition: the validator runs for the public gateway only.
    const long = { name: "web_search", args: { query: "q".repeat(201) } };
    const [pub] = await manager.invokeHook("tool_pre_invoke", long, ctx());
    assert.equal(pub.violation?.code, "ARGUMENT_TOO_LONG");
    const [internal] = await manager.invokeHook("tool_pre_invoke", long, {
      request_id: "r2",
      server_id: "internal-admin",
    });
    assert.equal(internal.continue_processing, true);
    assert.ok(!internal.executions.some((r) => r.plugin_name === "ArgumentValidator"));

    // CallAudit keeps its context from the pre hook to the post hook of the same request.
    const global: GlobalContext = { request_id: "r3", server_id: "public-gateway", user: "al" };
    const [, contexts] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "crm_lookup", args: { id: "1" } },
      global,
    );
    const [post] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "crm_lookup", result: { email: "x@example.com" } },
      global,
      { localContexts: contexts ?? undefined },
    );
    assert.deepEqual(post.modified_payload, { name: "crm_lookup", result: { email: "[EMAIL]" } });
    const audit = post.metadata?.audit as { round_trip_us: number | null; user: string };
    assert.equal(typeof audit.round_trip_us, "number");
    assert.equal(audit.user, "al");
    const [fresh] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "crm_lookup", result: "ok" },
      { request_id: "r4", server_id: "public-gateway" },
    );
    assert.equal((fresh.metadata?.audit as { round_trip_us: null }).round_trip_us, null);
  } finally {
    await manager.shutdown();
  }
});

// --- The demo: servers on three transports, a gateway, cleanup ----------------------------------

const ROOT = new URL("..", import.meta.url);

/** A task's command line from deno.json, split into `deno run` arguments. */
async function taskArgs(name: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const words = (config.tasks[name] as string).split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], `task ${name}`);
  return words.slice(1);
}

/** What a demo run printed about its processes and socket. */
interface DemoTrace {
  socket: string;
  runDir: string;
  pids: number[];
}

function traceOf(out: string): DemoTrace {
  const socket = /^demo: socket (\S+) /m.exec(out)?.[1];
  assert.ok(socket, `the demo names its socket:\n${out}`);
  const pids = [...out.matchAll(/^(?:demo: gateway| {2}\S+) +pid (\d+) /gm)].map((m) =>
    Number(m[1])
  );
  return { socket, runDir: socket.slice(0, socket.lastIndexOf("/")), pids };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** No socket, no run directory, and none of the demo's processes left. */
async function assertCleanedUp(trace: DemoTrace, out: string): Promise<void> {
  assert.match(out, /^demo: socket .*; removed \/tmp\/cpex-demo\/run-/m);
  assert.equal(await exists(trace.socket), false, `socket ${trace.socket} left behind`);
  assert.equal(await exists(trace.runDir), false, `run directory ${trace.runDir} left behind`);
  if (Deno.build.os !== "linux") return;
  for (const pid of trace.pids) {
    let cmdline = "";
    try {
      cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ");
    } catch {
      continue; // gone
    }
    // A reused pid belongs to some other program; ours name this run's socket or script.
    assert.ok(
      !cmdline.includes(trace.runDir) && !/examples\/(demo\/gateway|\w+_server)\.ts/.test(cmdline),
      `process ${pid} is still running: ${cmdline}`,
    );
  }
}

Deno.test("the demo runs servers on three transports with its task's flags and cleans up", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: await taskArgs("demo"),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `${out}\n${new TextDecoder().decode(stderr)}`);
  assert.ok(!out.includes("\x1b["), "no colors when stdout is not a terminal");
  assert.match(out, /demo: all servers READY/);
  const trace = traceOf(out);
  assert.equal(trace.pids.length, 4, "three servers and the gateway");

  // The table: one row per call with its decision, then the deciding plugin and its transport
  // on an indented line (so the table fits 100 columns: issue 12).
  const row = (label: string, decision: string, plugin: string, transport: string) =>
    assert.match(
      out,
      new RegExp(
        `^ *\\d+ +${label} +\\w+ +${decision} +[\\d.]+\n +by ${plugin} \\(${transport}\\)`,
        "m",
      ),
      `row '${label}'`,
    );
  row("over-long search query", "block", "ArgumentValidator", "unix");
  row("jailbreak attempt", "block", "DenyList", "unix");
  row("rude prompt is toned down", "modify", "SearchReplace", "grpc");
  row("e-mail with personal data", "modify", "PiiMasker", "in-process");
  row("local file", "block", "ResourceFilter", "mcp-http");
  row("tracker on a subdomain", "block", "ResourceFilter", "mcp-http");
  row("config page with a secret", "modify", "ResourceFilter", "mcp-http");
  row("huge log download", "block", "ResourceFilter", "mcp-http");
  assert.match(out, /^ *1 +web search +tool_pre_invoke +allow /m);
  for (
    const code of ["ARGUMENT_TOO_LONG", "PROTOCOL_BLOCKED", "DOMAIN_BLOCKED", "CONTENT_TOO_LARGE"]
  ) {
    assert.match(out, new RegExp(code));
  }
  // One throughput line per transport, and the whole chain.
  for (const transport of ["unix", "grpc", "mcp-http", "in-process", "full chain"]) {
    assert.match(out, new RegExp(`^ +${transport} +.* calls/s`, "m"), `throughput of ${transport}`);
  }
  assert.match(
    out,
    /gateway \(pid \d+\) exited 0,\s+unix server \(pid \d+\) exited 0,\s+grpc server \(pid \d+\) exited 0,\s+mcp-http server \(pid \d+\) exited 0/,
  );
  // Issue 12: every line fits 100 columns, and the demo ends telling what to edit next.
  for (const line of out.split("\n")) assert.ok([...line].length <= 100, `too wide: ${line}`);
  assert.match(
    out,
    /Try your own plugin:\n.*examples\/plugins\/[\s\S]*examples\/gateway_all\.yaml/,
  );
  await assertCleanedUp(trace, out);
});

Deno.test("the demo stops the gateway, the servers and removes the socket on SIGINT", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: await taskArgs("demo"),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let out = "";
  const decoder = new TextDecoder();
  let signalled = false;
  for await (const chunk of child.stdout) {
    out += decoder.decode(chunk, { stream: true });
    // Interrupt once the gateway has connected to every server.
    if (!signalled && /^gateway: loaded/m.test(out)) {
      child.kill("SIGINT");
      signalled = true;
    }
  }
  const status = await child.status;
  const errors = await stderr;
  assert.ok(signalled, `the gateway never started:\n${out}\n${errors}`);
  assert.equal(status.code, 130, `${out}\n${errors}`);
  assert.match(out, /^demo: interrupted/m);
  // The gateway stops first (it shuts its plugin manager down), then every server.
  assert.match(
    out,
    /cleanup: gateway \(pid \d+\) exited 130,\s+unix server [\s\S]* grpc server [\s\S]* mcp-http server/,
  );
  await assertCleanedUp(traceOf(out), out);
});

Deno.test("the demo starts each server with the flags of its example task", async () => {
  const { serverSpecs } = await import("../examples/demo/servers.ts");
  const specs = serverSpecs({ socket: "/tmp/cpex-example.sock", grpcPort: 50051, mcpPort: 8000 });
  const tasks: Record<string, string> = {
    unix: "example:unix",
    grpc: "example:grpc",
    "mcp-http": "example:mcp",
  };
  for (const spec of specs) {
    const args = await taskArgs(tasks[spec.label]);
    const script = args.indexOf(spec.script);
    assert.ok(script > 0, `${tasks[spec.label]} runs ${spec.script}`);
    assert.deepEqual(spec.flags, args.slice(1, script), spec.label);
  }
});
