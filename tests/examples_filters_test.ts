/**
 * Tests of the example filter plugins (examples/plugins/regex_filter.ts and
 * resource_filter.ts) through a real PluginManager, loaded from code and from YAML, and of the
 * catalog the example servers host plugins from.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type GlobalContext, type Plugin, PluginManager } from "../mod.ts";
import { RegexFilter } from "../examples/plugins/regex_filter.ts";
import { ResourceFilter } from "../examples/plugins/resource_filter.ts";
import { EXAMPLE_PLUGINS, hostedPlugins } from "../examples/plugins/catalog.ts";
import { mapStrings } from "../examples/plugins/text_walk.ts";

const ctx = (): GlobalContext => ({ request_id: "req-1", server_id: "gateway" });

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

const ALL_HOOKS = ["tool_pre_invoke", "tool_post_invoke", "prompt_pre_fetch", "prompt_post_fetch"];
/** The reference's SearchReplacePlugin fixture config. */
const CRAP_RULES = [{ search: "crap", replace: "crud" }, { search: "crud", replace: "yikes" }];

const regexFilter = (words: unknown[] = CRAP_RULES): RegexFilter =>
  new RegexFilter({
    name: "SearchReplace",
    kind: "example",
    mode: "transform",
    hooks: ALL_HOOKS,
    config: { words },
  });

// --- RegexFilter ------------------------------------------------------------------------------

Deno.test("regex filter applies its rules in order: crap becomes crud, then yikes", async () => {
  await withManager([regexFilter()], async (manager) => {
    const payload = { prompt_id: "greeting", args: { user: "What a crapshow", other: "crud" } };
    const snapshot = structuredClone(payload);
    const [result] = await manager.invokeHook("prompt_pre_fetch", payload, ctx());
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.modified_payload, {
      prompt_id: "greeting",
      args: { user: "What a yikesshow", other: "yikes" },
    });
    assert.deepEqual(result.metadata, { replacements: 3 });
    assert.deepEqual(payload, snapshot, "the caller's payload is never mutated");
  });
});

Deno.test("regex filter rewrites strings nested in tool arguments and leaves the rest", async () => {
  await withManager([regexFilter()], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      {
        name: "crap_tool", // the tool name is not an argument: untouched
        args: { query: "crap", limit: 3, tags: ["ok", "crap"], filter: { note: "no crap" } },
      },
      ctx(),
    );
    const modified = result.modified_payload as { name: string; args: unknown };
    assert.equal(modified.name, "crap_tool");
    assert.deepEqual(modified.args, {
      query: "yikes",
      limit: 3,
      tags: ["ok", "yikes"],
      filter: { note: "no yikes" },
    });
  });
});

Deno.test("regex filter rewrites tool results, plain strings and nested ones", async () => {
  await withManager([regexFilter()], async (manager) => {
    const [plain] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "echo", result: "crap in, crap out" },
      ctx(),
    );
    assert.deepEqual(plain.modified_payload, { name: "echo", result: "yikes in, yikes out" });
    assert.deepEqual(plain.metadata, { replacements: 4 });

    const [nested] = await manager.invokeHook(
      "tool_post_invoke",
      { name: "search", result: { hits: [{ title: "crap" }, { title: "fine", score: 1 }] } },
      ctx(),
    );
    assert.deepEqual(nested.modified_payload, {
      name: "search",
      result: { hits: [{ title: "yikes" }, { title: "fine", score: 1 }] },
    });
  });
});

Deno.test("regex filter rewrites only the message texts of a rendered prompt", async () => {
  await withManager([regexFilter()], async (manager) => {
    const [result] = await manager.invokeHook(
      "prompt_post_fetch",
      {
        prompt_id: "reply",
        result: {
          description: "crap template", // not a message text
          messages: [
            { role: "user", content: { type: "text", text: "this crap" } },
            { role: "assistant", content: { type: "image", data: "crap", mimeType: "x" } },
            { role: "assistant", content: { type: "text", text: "fine" } },
          ],
        },
      },
      ctx(),
    );
    assert.deepEqual(result.modified_payload, {
      prompt_id: "reply",
      result: {
        description: "crap template",
        messages: [
          { role: "user", content: { type: "text", text: "this yikes" } },
          { role: "assistant", content: { type: "image", data: "crap", mimeType: "x" } },
          { role: "assistant", content: { type: "text", text: "fine" } },
        ],
      },
    });
  });
});

Deno.test("regex filter returns no modified payload when nothing matches", async () => {
  await withManager([regexFilter()], async (manager) => {
    for (
      const [hook, payload] of [
        ["prompt_pre_fetch", { prompt_id: "p", args: { text: "all good" } }],
        ["tool_pre_invoke", { name: "t", args: { n: 1 } }],
        ["tool_post_invoke", { name: "t", result: null }],
        ["prompt_post_fetch", { prompt_id: "p", result: { messages: [] } }],
        ["prompt_post_fetch", { prompt_id: "p", result: "not messages" }],
      ] as const
    ) {
      const [result] = await manager.invokeHook(hook, payload, ctx());
      assert.equal(result.modified_payload, null, hook);
      assert.deepEqual(result.executions.map((r) => r.payload_modified), [false], hook);
    }
  });
  const empty = regexFilter([]);
  await withManager([empty], async (manager) => {
    const [result] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "t", args: { q: "crap" } },
      ctx(),
    );
    assert.equal(result.modified_payload, null);
  });
});

Deno.test("regex filter supports groups, JavaScript replacement syntax and flags", () => {
  const filter = regexFilter([
    { search: String.raw`(\d{3})-(\d{4})`, replace: "$1-XXXX" },
    { search: "SECRET", replace: "[hidden]", flags: "i" },
    { search: "(?<word>dog)", replace: "$<word>s" },
  ]);
  assert.deepEqual(filter.apply("call 555-1234, secret: a dog"), {
    text: "call 555-XXXX, [hidden]: a dogs",
    count: 3,
  });
  assert.deepEqual(filter.apply("nothing here"), { text: "nothing here", count: 0 });
});

Deno.test("regex filter rejects invalid config with the field's path", () => {
  const cases: Array<[unknown, RegExp]> = [
    [
      { words: [{ search: "(", replace: "x" }] },
      /invalid regular expression[^]*words\[0\]\.search/,
    ],
    [{ words: [{ search: "a" }] }, /words\[0\]\.replace/],
    [{ words: [{ search: "", replace: "x" }] }, /words\[0\]\.search/],
    [{ words: [{ search: "a", replace: "b", flags: "g" }] }, /flags/],
    [{ words: [{ search: "a", replace: "b", typo: 1 }] }, /typo/],
    [{ words: "crap" }, /words/],
    [{ patterns: [] }, /patterns/],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => new RegexFilter({ name: "f", kind: "example", config: config as never }),
      (err: Error) => err instanceof TypeError && message.test(err.message),
      JSON.stringify(config),
    );
  }
});

// --- ResourceFilter ---------------------------------------------------------------------------

const resourceFilter = (config: Record<string, unknown> = {}): ResourceFilter =>
  new ResourceFilter({
    name: "ResourceFilter",
    kind: "example",
    hooks: ["resource_pre_fetch", "resource_post_fetch"],
    config,
  });

Deno.test("resource filter allows http(s) by default and blocks other protocols", async () => {
  await withManager([resourceFilter()], async (manager) => {
    for (const uri of ["https://docs.example.com/a", "http://example.com"]) {
      const [ok] = await manager.invokeHook("resource_pre_fetch", { uri }, ctx());
      assert.equal(ok.continue_processing, true, uri);
      assert.equal(ok.modified_payload, null, uri);
    }
    const [blocked] = await manager.invokeHook(
      "resource_pre_fetch",
      { uri: "file:///etc/passwd" },
      ctx(),
    );
    assert.equal(blocked.continue_processing, false);
    assert.equal(blocked.violation?.code, "PROTOCOL_BLOCKED");
    assert.equal(blocked.violation?.plugin_name, "ResourceFilter");
    assert.deepEqual(blocked.violation?.details, {
      protocol: "file",
      allowed_protocols: ["http", "https"],
    });
  });
});

Deno.test("resource filter normalises configured protocols; an empty list allows all", async () => {
  const custom = resourceFilter({ allowed_protocols: ["HTTPS:", "s3://"] });
  assert.deepEqual(custom.allowedProtocols, ["https", "s3"]);
  await withManager([custom], async (manager) => {
    const [s3] = await manager.invokeHook("resource_pre_fetch", { uri: "s3://bucket/k" }, ctx());
    assert.equal(s3.continue_processing, true);
    const [http] = await manager.invokeHook("resource_pre_fetch", { uri: "http://a.io" }, ctx());
    assert.equal(http.violation?.code, "PROTOCOL_BLOCKED");
  });
  await withManager([resourceFilter({ allowed_protocols: [] })], async (manager) => {
    const [any] = await manager.invokeHook("resource_pre_fetch", { uri: "ftp://x.io/f" }, ctx());
    assert.equal(any.continue_processing, true);
  });
});

Deno.test("resource filter blocks a blocked domain and its subdomains, not lookalikes", async () => {
  const filter = resourceFilter({ blocked_domains: ["Evil.Example", "*.tracker.io", "bad.org."] });
  assert.deepEqual(filter.blockedDomains, ["evil.example", "tracker.io", "bad.org"]);
  await withManager([filter], async (manager) => {
    const blocked: Array<[string, string, string]> = [
      ["https://evil.example/x", "evil.example", "evil.example"],
      ["https://cdn.EVIL.example./x", "cdn.evil.example", "evil.example"],
      ["http://a.b.tracker.io:8080/p", "a.b.tracker.io", "tracker.io"],
      ["https://bad.org", "bad.org", "bad.org"],
    ];
    for (const [uri, domain, rule] of blocked) {
      const [result] = await manager.invokeHook("resource_pre_fetch", { uri }, ctx());
      assert.equal(result.violation?.code, "DOMAIN_BLOCKED", uri);
      assert.deepEqual(result.violation?.details, { domain, blocked_domain: rule }, uri);
    }
    for (const uri of ["https://notevil.example/", "https://evil.example.com/", "https://io/"]) {
      const [result] = await manager.invokeHook("resource_pre_fetch", { uri }, ctx());
      assert.equal(result.continue_processing, true, uri);
    }
  });
});

Deno.test("resource filter blocks a URI that does not parse", async () => {
  await withManager([resourceFilter()], async (manager) => {
    const [result] = await manager.invokeHook(
      "resource_pre_fetch",
      { uri: "not a uri" },
      ctx(),
    );
    assert.equal(result.violation?.code, "INVALID_URI");
  });
});

Deno.test("resource filter blocks content over max_content_size in every content shape", async () => {
  await withManager([resourceFilter({ max_content_size: 10 })], async (manager) => {
    const post = (content: unknown) =>
      manager.invokeHook("resource_post_fetch", { uri: "https://a.io/f", content }, ctx());
    const [atLimit] = await post("0123456789");
    assert.equal(atLimit.continue_processing, true);
    const [over] = await post("0123456789A");
    assert.equal(over.violation?.code, "CONTENT_TOO_LARGE");
    assert.deepEqual(over.violation?.details, {
      size: 11,
      max_content_size: 10,
      uri: "https://a.io/f",
    });
    const [utf8] = await post({ type: "resource", text: "ééééééé" }); // 7 chars, 14 bytes
    assert.equal(utf8.violation?.details?.size, 14);
    const [contents] = await post({ contents: [{ text: "12345" }, { text: "678901" }] });
    assert.equal(contents.violation?.details?.size, 11);
    const [blob] = await post({ blob: btoa("0123456789AB") });
    assert.equal(blob.violation?.details?.size, 12);
    const [other] = await post({ bytes: 123456789 });
    assert.equal(other.continue_processing, true);
  });
});

Deno.test("resource filter redacts text with its patterns and keeps other fields", async () => {
  const filter = resourceFilter({
    content_filters: [
      { pattern: String.raw`(password\s*[:=]\s*)\S+`, replacement: "$1[REDACTED]", flags: "i" },
      { pattern: String.raw`\bsk-[A-Za-z0-9]+` },
    ],
  });
  await withManager([filter], async (manager) => {
    const payload = {
      uri: "https://a.io/cfg",
      content: {
        type: "resource",
        uri: "https://a.io/cfg",
        mime_type: "text/plain",
        text: "PASSWORD=hunter2\nkey sk-abc123 and sk-def",
      },
    };
    const snapshot = structuredClone(payload);
    const [result] = await manager.invokeHook("resource_post_fetch", payload, ctx());
    assert.equal(result.continue_processing, true);
    assert.deepEqual(result.modified_payload, {
      ...payload,
      content: { ...payload.content, text: "PASSWORD=[REDACTED]\nkey [REDACTED] and [REDACTED]" },
    });
    assert.deepEqual(result.metadata, { redactions: 3 });
    assert.deepEqual(payload, snapshot, "the caller's payload is never mutated");

    const [list] = await manager.invokeHook(
      "resource_post_fetch",
      { uri: "u:x", content: { contents: [{ text: "fine" }, { text: "password: x" }] } },
      ctx(),
    );
    assert.deepEqual(list.modified_payload, {
      uri: "u:x",
      content: { contents: [{ text: "fine" }, { text: "password: [REDACTED]" }] },
    });
    const [plain] = await manager.invokeHook(
      "resource_post_fetch",
      { uri: "u:x", content: "token sk-1" },
      ctx(),
    );
    assert.deepEqual(plain.modified_payload, { uri: "u:x", content: "token [REDACTED]" });

    const [clean] = await manager.invokeHook(
      "resource_post_fetch",
      { uri: "u:x", content: { text: "nothing secret" } },
      ctx(),
    );
    assert.equal(clean.modified_payload, null);
    assert.deepEqual(clean.executions.map((r) => r.payload_modified), [false]);
  });
});

Deno.test("resource filter rejects invalid config with the field's path", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ max_content_size: 0 }, /max_content_size/],
    [{ max_content_size: "1MB" }, /max_content_size/],
    [{ allowed_protocols: ["ht tp"] }, /allowed_protocols\[0\]/],
    [{ blocked_domains: ["https://evil.example/"] }, /blocked_domains\[0\]/],
    [{ content_filters: [{ pattern: "[" }] }, /content_filters\[0\]\.pattern/],
    [{ content_filters: [{ pattern: "a", flags: "y" }] }, /content_filters\[0\]\.flags/],
    [{ blocked_domain: ["x.io"] }, /blocked_domain/],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => resourceFilter(config),
      (err: Error) => err instanceof TypeError && message.test(err.message),
      JSON.stringify(config),
    );
  }
});

// --- From YAML --------------------------------------------------------------------------------

const moduleUrl = (file: string): string =>
  new URL(`../examples/plugins/${file}`, import.meta.url).href;

async function withYaml(yaml: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cpex-filters-" });
  try {
    const path = `${dir}/plugins.yaml`;
    await Deno.writeTextFile(path, yaml);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("both filters load from a YAML config and run in one chain", async () => {
  const yaml = `
plugins:
  - name: SearchReplace
    kind: "${moduleUrl("regex_filter.ts")}#RegexFilter"
    hooks: [prompt_pre_fetch, prompt_post_fetch, tool_pre_invoke, tool_post_invoke]
    mode: transform
    priority: 150
    config:
      words:
        - search: crap
          replace: crud
        - search: crud
          replace: yikes
  - name: ResourceFilter
    kind: "${moduleUrl("resource_filter.ts")}#ResourceFilter"
    hooks: [resource_pre_fetch, resource_post_fetch]
    mode: sequential
    priority: 10
    config:
      max_content_size: 1048576
      allowed_protocols: [http, https]
      blocked_domains: [malicious.example.com]
      content_filters:
        - pattern: 'password\\s*[:=]\\s*\\S+'
          replacement: 'password: [REDACTED]'
`;
  await withYaml(yaml, async (path) => {
    const manager = new PluginManager(path);
    await manager.initialize();
    try {
      assert.equal(manager.pluginCount, 2);
      assert.ok(manager.getPlugin("SearchReplace") instanceof RegexFilter);
      const [prompt] = await manager.invokeHook(
        "prompt_pre_fetch",
        { prompt_id: "test_prompt", args: { user: "What a crapshow!" } },
        ctx(),
      );
      assert.deepEqual(prompt.modified_payload, {
        prompt_id: "test_prompt",
        args: { user: "What a yikesshow!" },
      });
      const [domain] = await manager.invokeHook(
        "resource_pre_fetch",
        { uri: "https://api.malicious.example.com/data" },
        ctx(),
      );
      assert.equal(domain.violation?.code, "DOMAIN_BLOCKED");
      const [redacted] = await manager.invokeHook(
        "resource_post_fetch",
        { uri: "https://ok.example/cfg", content: { text: "db password=abc" } },
        ctx(),
      );
      assert.deepEqual(redacted.modified_payload, {
        uri: "https://ok.example/cfg",
        content: { text: "db password: [REDACTED]" },
      });
    } finally {
      await manager.shutdown();
    }
  });
});

Deno.test("a filter with invalid YAML config stops the manager with a clear error", async () => {
  const yaml = `
plugin_settings:
  fail_on_plugin_error: true
plugins:
  - name: SearchReplace
    kind: "${moduleUrl("regex_filter.ts")}#RegexFilter"
    hooks: [prompt_pre_fetch]
    config:
      words:
        - search: "(unclosed"
          replace: x
`;
  await withYaml(yaml, async (path) => {
    const manager = new PluginManager(path);
    await assert.rejects(
      manager.initialize(),
      (err: Error) =>
        /SearchReplace/.test(err.message) && /words\[0\]\.search/.test(err.message) &&
        /invalid regular expression/.test(err.message),
    );
    await manager.shutdown();
  });
});

// --- The catalog of hostable example plugins and the shared text walker -----------------------

Deno.test("example servers host ArgumentValidator unless --plugins names others", () => {
  const byDefault = hostedPlugins(["/tmp/p.sock"]);
  assert.deepEqual(byDefault.plugins.map((p) => p.name), ["ArgumentValidator"]);
  assert.deepEqual(byDefault.args, ["/tmp/p.sock"]);
  const picked = hostedPlugins(["http", "--plugins=ResourceFilter, SearchReplace", "9000"]);
  assert.deepEqual(picked.plugins.map((p) => p.name), ["ResourceFilter", "SearchReplace"]);
  assert.deepEqual(picked.args, ["http", "9000"]);
  assert.throws(() => hostedPlugins(["--plugins=Nope"]), /unknown plugin Nope.*ArgumentValidator/);
  assert.throws(() => hostedPlugins(["--plugins="]), /none given/);
  for (const [name, make] of Object.entries(EXAMPLE_PLUGINS)) {
    const plugin = make();
    assert.equal(plugin.name, name);
    assert.ok(plugin.hooks.length > 0, name);
  }
});

Deno.test("mapStrings shares unchanged parts and never mutates its input", () => {
  const input = Object.freeze({
    a: "x",
    list: Object.freeze([1, "y", Object.freeze({ z: "z" })]),
    keep: Object.freeze({ n: 1, s: "s" }),
  });
  const out = mapStrings(input, (s) => s === "y" ? "Y" : s) as typeof input;
  assert.deepEqual(out, { a: "x", list: [1, "Y", { z: "z" }], keep: { n: 1, s: "s" } });
  assert.equal(out.keep, input.keep);
  assert.equal(out.list[2], input.list[2]);
  assert.equal(mapStrings(input, (s) => s), input);
});
