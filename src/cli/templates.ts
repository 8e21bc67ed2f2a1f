/**
 * The files of a project created by `cpex init`: deno.json (imports and scoped-permission
 * tasks), the plugin class, its config, two tests and a README. Pure text generation; `init.ts`
 * writes them.
 *
 * @module
 */
import { GRPC_ENV_VARS } from "../external/grpc/permissions.ts";

/**
 * What the templates are filled with.
 */
export interface TemplateParams {
  /** The project (and directory) name, e.g. `tool-guard`. */
  readonly name: string;
  /** The plugin class name, e.g. `ToolGuard` (also the plugin's name in plugins.yaml). */
  readonly className: string;
  /** What `@cpex/core` maps to in the import map, e.g. `jsr:@cpex/core@^0.1.0`. */
  readonly coreSpecifier: string;
  /** A local @cpex/core checkout to link (relative to the project), or null for JSR. */
  readonly coreLink: string | null;
  /** The Unix socket of `serve:unix` (default {@linkcode socketPathOf}). */
  readonly socketPath?: string;
  /** The gRPC port of `serve:grpc` (default 50051). */
  readonly grpcPort?: number;
  /** The MCP Streamable HTTP port of `serve:mcp` (default 8000). */
  readonly mcpPort?: number;
}

/** The addresses of a project, with the defaults filled in (one place for every template). */
interface Addresses {
  sock: string;
  grpc: string;
  grpcPort: number;
  mcp: string;
  mcpPort: number;
  /** What a gateway puts in `mcp.url`: `localhost`, which the SSRF check allows (not 127.0.0.1). */
  mcpUrl: string;
}

function addressesOf(p: TemplateParams): Addresses {
  const grpcPort = p.grpcPort ?? DEFAULT_GRPC_PORT;
  const mcpPort = p.mcpPort ?? DEFAULT_MCP_PORT;
  return {
    sock: p.socketPath ?? socketPathOf(p.name),
    grpc: `${SCAFFOLD_HOST}:${grpcPort}`,
    grpcPort,
    mcp: `${SCAFFOLD_HOST}:${mcpPort}`,
    mcpPort,
    mcpUrl: `http://localhost:${mcpPort}/mcp`,
  };
}

/**
 * `tool-guard` → `ToolGuard`: the plugin class name of a project name.
 */
export function classNameOf(name: string): string {
  return name.split(/[-_]+/).filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1)).join("");
}

/** The host the generated tasks bind. */
export const SCAFFOLD_HOST = "127.0.0.1";
/** The default gRPC port of the generated `serve:grpc` task (the reference runtime's). */
export const DEFAULT_GRPC_PORT = 50051;
/** The default port of the generated `serve:mcp` task (the reference runtime's). */
export const DEFAULT_MCP_PORT = 8000;

/**
 * The Unix socket path of the generated `serve:unix` task.
 */
export function socketPathOf(name: string): string {
  return `/tmp/${name}.sock`;
}

function denoJson(p: TemplateParams): string {
  const { sock, grpc, grpcPort, mcp, mcpPort } = addressesOf(p);
  // The server reads the config and imports the plugin module (src/) at run time.
  const read = "--allow-read=plugins.yaml,src";
  // check imports the plugin module, which imports @cpex/core: a linked checkout is read too.
  const checkRead = p.coreLink ? `${read},${p.coreLink}` : read;
  const cli = "@cpex/core/cli";
  const config: Record<string, unknown> = {
    imports: { "@cpex/core": p.coreSpecifier },
  };
  if (p.coreLink) config.links = [p.coreLink];
  config.tasks = {
    test: "deno test --sanitize-ops --sanitize-resources --allow-read=plugins.yaml,src",
    check: `deno run ${checkRead} ${cli} check plugins.yaml`,
    "serve:unix": `deno run ${read},${sock} --allow-write=${sock} --allow-net=unix:${sock} ` +
      `${cli} serve --config plugins.yaml --transport unix --path ${sock}`,
    "serve:grpc": `deno run ${read} --allow-net=${grpc} ` +
      `--allow-env=${GRPC_ENV_VARS.join(",")} ` +
      `${cli} serve --config plugins.yaml --transport grpc --host ${SCAFFOLD_HOST} --port ${grpcPort}`,
    "serve:mcp": `deno run ${read} --allow-net=${mcp} ` +
      `${cli} serve --config plugins.yaml --transport mcp --host ${SCAFFOLD_HOST} --port ${mcpPort}`,
    "serve:stdio": `deno run ${read} ${cli} serve --config plugins.yaml --transport stdio`,
  };
  config.fmt = { lineWidth: 100, proseWrap: "preserve" };
  return JSON.stringify(config, null, 2) + "\n";
}

function pluginTs(p: TemplateParams): string {
  const c = p.className;
  return `/**
 * ${c}: a policy plugin for @cpex/core gateways, served to them as an external plugin
 * (see plugins.yaml and the serve:* tasks in deno.json).
 *
 * On \`tool_pre_invoke\` it blocks calls to the tools listed in \`blocked_tools\`, and replaces
 * the values of the arguments named in \`redact_args\` with "[redacted]".
 *
 * @module
 */
import {
  Plugin,
  type PluginConfig,
  type PluginConfigInput,
  type PluginResult,
  type ToolPreInvokePayload,
} from "@cpex/core";

/** The settings of ${c}: the \`config:\` block of its entry in plugins.yaml. */
export interface ${c}Settings {
  /** Names of the tools that may not be called. */
  blocked_tools: string[];
  /** Names of the arguments whose values are replaced with "[redacted]". */
  redact_args: string[];
}

function stringList(plugin: string, field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new TypeError(\`\${plugin}: config.\${field} must be a list of strings\`);
  }
  return [...value];
}

/**
 * Blocks listed tools and redacts listed arguments before a tool runs.
 *
 * @example
 * \`\`\`ts
 * import { ${c} } from "./plugin.ts";
 * const plugin = new ${c}({
 *   name: "${c}",
 *   kind: "inline",
 *   hooks: ["tool_pre_invoke"],
 *   config: { blocked_tools: ["delete_all"] },
 * });
 * const result = plugin.tool_pre_invoke({ name: "delete_all", args: {} });
 * console.log(result.continue_processing); // false
 * \`\`\`
 */
export class ${c} extends Plugin {
  /** The validated settings. */
  readonly settings: ${c}Settings;

  /** Validates the \`config:\` block (a bad one fails at load time, not at the first call). */
  constructor(config: PluginConfigInput | PluginConfig) {
    super(config);
    const raw = this.config.config ?? {};
    this.settings = {
      blocked_tools: stringList(this.name, "blocked_tools", raw.blocked_tools),
      redact_args: stringList(this.name, "redact_args", raw.redact_args),
    };
  }

  /** Runs before every tool call the gateway makes. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    if (this.settings.blocked_tools.includes(payload.name)) {
      return {
        continue_processing: false,
        violation: {
          reason: "Tool blocked",
          description: \`The tool '\${payload.name}' may not be called\`,
          code: "TOOL_BLOCKED",
          details: { tool: payload.name },
        },
      };
    }
    const args = payload.args ?? {};
    const hits = this.settings.redact_args.filter((name) => Object.hasOwn(args, name));
    if (hits.length === 0) return {};
    // Payloads are immutable: return a modified copy instead of changing it.
    const redacted: Record<string, unknown> = { ...args };
    for (const name of hits) redacted[name] = "[redacted]";
    return { modified_payload: { ...payload, args: redacted }, metadata: { redacted: hits } };
  }
}
`;
}

function pluginsYaml(p: TemplateParams): string {
  const { sock } = addressesOf(p);
  return `# The plugin server's config: what \`deno task serve:*\` hosts for gateways.
# Check it with \`deno task check\`.

plugin_settings:
  fail_on_plugin_error: true # a plugin that cannot load stops the server from starting

plugins:
  - name: ${p.className}
    kind: ./src/plugin.ts#${p.className} # <module, relative to this file>#<export>
    description: Blocks listed tools and redacts listed arguments
    hooks: [tool_pre_invoke]
    mode: sequential # may block and modify
    priority: 10
    on_error: fail # a failure in the plugin fails the call (fail closed)
    config: # keys left out here come from default_config in src/plugin-manifest.yaml
      blocked_tools: [delete_all, drop_database]

# Where the servers listen when no --host/--port/--path is given (the serve:* tasks give them).
unix_socket_server_settings:
  path: ${sock}
`;
}

function pluginTest(p: TemplateParams): string {
  const c = p.className;
  return `import assert from "node:assert/strict";
import { ${c} } from "../src/plugin.ts";

const plugin = new ${c}({
  name: "${c}",
  kind: "inline",
  hooks: ["tool_pre_invoke"],
  config: { blocked_tools: ["delete_all"], redact_args: ["password"] },
});

Deno.test("${c} blocks a listed tool", () => {
  const result = plugin.tool_pre_invoke({ name: "delete_all", args: {} });
  assert.equal(result.continue_processing, false);
  assert.equal(result.violation?.code, "TOOL_BLOCKED");
});

Deno.test("${c} redacts a listed argument and keeps the others", () => {
  const result = plugin.tool_pre_invoke({
    name: "login",
    args: { user: "ada", password: "hunter2" },
  });
  assert.deepEqual(result.modified_payload?.args, { user: "ada", password: "[redacted]" });
});

Deno.test("${c} lets other calls through unchanged", () => {
  assert.deepEqual(plugin.tool_pre_invoke({ name: "search", args: { q: "deno" } }), {});
});

Deno.test("${c} refuses a config that is not a list of strings", () => {
  assert.throws(
    () => new ${c}({ name: "bad", kind: "inline", config: { blocked_tools: "delete_all" } }),
    /blocked_tools must be a list of strings/,
  );
});
`;
}

function managerTest(p: TemplateParams): string {
  return `import assert from "node:assert/strict";
import { PluginManager } from "@cpex/core";

// The same config the plugin server loads, run in-process by a gateway-side manager.
const CONFIG = new URL("../plugins.yaml", import.meta.url);

Deno.test("plugins.yaml: the manager blocks a listed tool and redacts arguments", async () => {
  const manager = new PluginManager(CONFIG);
  await manager.initialize();
  try {
    assert.equal(manager.pluginCount, 1);
    const [blocked] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "drop_database", args: {} },
      { request_id: "req-1" },
    );
    assert.equal(blocked.continue_processing, false);
    assert.equal(blocked.violation?.plugin_name, "${p.className}");

    const [redacted] = await manager.invokeHook(
      "tool_pre_invoke",
      { name: "login", args: { user: "ada", api_key: "k-123" } },
      { request_id: "req-2" },
    );
    assert.equal(redacted.continue_processing, true);
    assert.deepEqual(redacted.modified_payload?.args, { user: "ada", api_key: "[redacted]" });
  } finally {
    await manager.shutdown();
  }
});
`;
}

function manifestYaml(p: TemplateParams): string {
  return `# The plugin's manifest (the format of the reference's plugin catalog). A gateway or server
# that loads src/plugin.ts fills the keys a config entry's \`config:\` leaves out from
# default_config; \`deno task check\` validates this file.
description: Blocks listed tools and redacts listed arguments
author: ${p.name} authors
version: "0.1.0"
tags: [security, tools]
available_hooks: [tool_pre_invoke]
default_config:
  blocked_tools: []
  redact_args: [password, api_key]
`;
}

function readme(p: TemplateParams): string {
  const { sock, grpc, mcp, mcpUrl } = addressesOf(p);
  return `# ${p.name}

An external plugin for [@cpex/core](https://jsr.io/@cpex/core) gateways: \`${p.className}\`
(src/plugin.ts) blocks listed tools and redacts listed arguments on \`tool_pre_invoke\`.
Its settings live in plugins.yaml.

\`\`\`sh
deno task test          # unit test + in-process manager test
deno task check         # validate plugins.yaml and print the hook plan
deno task serve:unix    # raw Unix socket ${sock}
deno task serve:grpc    # gRPC on ${grpc}
deno task serve:mcp     # MCP Streamable HTTP on ${mcp} (path /mcp)
deno task serve:stdio   # MCP over stdin/stdout (for a gateway's STDIO cmd)
\`\`\`

Each task grants only what its transport needs (see deno.json). The servers print READY once
listening (stdio excepted) and stop on Ctrl-C.

## Pointing a gateway at it

Add one of these to the gateway's plugin config:

\`\`\`yaml
plugins:
  - name: ${p.className}
    kind: external
    hooks: [tool_pre_invoke]
    unix_socket: { path: ${sock} }
    # or: grpc: { target: "${grpc}" }
    # or: mcp: { proto: STREAMABLEHTTP, url: "${mcpUrl}" }
\`\`\`

The MCP URL says \`localhost\`: the gateway's SSRF check refuses \`http://127.0.0.1\` URLs
(the server itself binds ${mcp}).

src/plugin-manifest.yaml describes the plugin; its \`default_config\` fills the keys a
config entry's \`config:\` leaves out (here \`redact_args\`).
`;
}

/**
 * Every file of a new project, by path relative to the project directory.
 */
export function projectFiles(params: TemplateParams): Record<string, string> {
  return {
    "deno.json": denoJson(params),
    "src/plugin.ts": pluginTs(params),
    "src/plugin-manifest.yaml": manifestYaml(params),
    "plugins.yaml": pluginsYaml(params),
    "tests/plugin_test.ts": pluginTest(params),
    "tests/manager_test.ts": managerTest(params),
    "README.md": readme(params),
  };
}
