/**
 * The CLI's help texts: the overview (`--help`) and one page per command (`serve --help`,
 * `check --help`, `init --help`). Each page starts with its usage lines, which are also what a
 * usage error prints.
 *
 * @module
 */

/** How the help pages name the program. */
export const PROGRAM = "cpex";

const RUN_AS = "deno run [PERMISSIONS] jsr:@cpex/core/cli";

/**
 * The usage lines and the full help page of one command.
 */
export interface HelpPage {
  /** The usage lines (printed after a usage error). */
  readonly usage: string;
  /** The whole page (printed by `--help`). */
  readonly text: string;
}

function page(usage: string, body: string): HelpPage {
  return { usage, text: `${usage}\n\n${body.trim()}\n` };
}

const MAIN = page(
  `Usage: ${PROGRAM} <command> [options]
       ${PROGRAM} <command> --help`,
  `
The @cpex/core command line: serve plugins to gateways, check configs, start plugin projects.
Run it as \`${RUN_AS} <command> ...\` (in a checkout:
\`deno run [PERMISSIONS] cli.ts <command> ...\`).

Commands:
  serve    Serve the plugins of a config to gateways over unix, grpc, mcp (http) or stdio
  check    Validate a config and print each hook's plugins in execution order
  init     Create an external plugin project (plugin class, config, tests, deno tasks)
  replay   Run recorded hook calls through a candidate config and diff the decisions
  conformance
           Check any CPEX plugin server's wire contract over one transport (pass/fail table)
  help     Show the help of a command (same as <command> --help)

Options:
  -h, --help       Show this help
  -V, --version    Print the @cpex/core version

Exit codes: 0 success, 1 failure (invalid config, server error, refused overwrite),
2 usage error (unknown command or option, bad value).
`,
);

const SERVE = page(
  `Usage: ${PROGRAM} serve [--config FILE] --transport unix|grpc|mcp|http|stdio [options]`,
  `
Serve the plugins of a config file to gateways in other processes: the Deno counterpart of the
reference's plugin server runtimes (same config files, same PLUGINS_* variables). Prints
"READY <transport> <address>" on stdout once listening (never for stdio, where stdout carries
only MCP messages; diagnostics go to stderr) and stops on SIGINT/SIGTERM, removing its
socket file. SIGHUP reloads the config: calls in flight finish on the old plugins, later calls
reach the new ones, and a config that fails to load is logged while the old plugins keep serving.

Options:
  -c, --config FILE        Config file (else PLUGINS_CONFIG_PATH, else
                           ./resources/plugins/config.yaml)
  -t, --transport NAME     unix      raw length-prefixed protobuf on a Unix socket
                           grpc      gRPC (cpex.PluginService) on host:port or --uds
                           mcp       MCP Streamable HTTP at /mcp (aliases: http, streamablehttp)
                           stdio     MCP over stdin/stdout (for a gateway's STDIO cmd)
                           (else PLUGINS_TRANSPORT)
      --path SOCK          unix: socket path (else PLUGINS_UNIX_SOCKET_PATH, UNIX_SOCKET_PATH,
                           unix_socket_server_settings.path, /tmp/mcpgateway-plugins.sock)
  -H, --host HOST          grpc, mcp: host to bind
  -p, --port PORT          grpc, mcp: port to bind (0 picks a free one)
      --uds PATH           grpc, mcp: bind this Unix socket instead of host:port
      --tls-cert FILE      grpc, mcp: serve TLS with this certificate (needs --tls-key)
      --tls-key FILE       grpc, mcp: the certificate's private key
      --tls-ca FILE        grpc, mcp: CA bundle that verifies client certificates (mTLS)
      --client-auth MODE   grpc, mcp: none | optional | require client certificates
                           (default: require with --tls-ca, else none)
      --metrics-port PORT  unix, grpc: also serve GET /metrics (Prometheus text) over HTTP on
                           this port (0: any free one; else PLUGINS_METRICS_PORT; mcp
                           answers /metrics on its own port)
      --metrics-host HOST  host of that listener (else PLUGINS_METRICS_HOST, else 127.0.0.1)
      --allow-partial      Serve even if a plugin did not load or none did (by default
                           serve refuses to start: a missing security plugin fails closed)
      --log-level LEVEL    debug | info | warn | error (else PLUGINS_LOG_LEVEL, else info);
                           failed plugin calls name plugin, hook and request id, never payloads
      --log-format FORMAT  text (default) | json (one JSON object per line on stderr)
  -h, --help               Show this help

Unset mcp and grpc listen settings come from the config's server_settings (mcp) or
grpc_server_settings (grpc) block; without that block from the environment:
PLUGINS_SERVER_HOST/PORT/UDS and PLUGINS_SERVER_SSL_* (mcp), PLUGINS_GRPC_SERVER_HOST/PORT/UDS
and PLUGINS_GRPC_SERVER_SSL_* (grpc); else 127.0.0.1:8000 (mcp), 127.0.0.1:50051 (grpc).
Options override both. Environment variables are read only when --allow-env grants them.

Permissions (the server checks them before listening and names any missing flag):
  all        --allow-read=CONFIG,PLUGIN_MODULES   (the config and the plugin files it loads)
  unix       --allow-read=SOCK --allow-write=SOCK --allow-net=unix:SOCK
  grpc       --allow-net=HOST:PORT  --allow-env=GRPC_TRACE,GRPC_VERBOSITY,GRPC_NODE_TRACE,
             GRPC_NODE_VERBOSITY,GRPC_SSL_CIPHER_SUITES,GRPC_DEFAULT_SSL_ROOTS_FILE_PATH,
             GRPC_NODE_USE_ALTERNATIVE_RESOLVER,GRPC_NODE_DEBUG_SEND_ERROR_DETAILS,
             GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION
             (with --uds: --allow-net=unix:PATH --allow-read=PATH --allow-write=PATH)
  mcp        --allow-net=HOST:PORT
             (with --uds: --allow-net=unix:PATH --allow-read=PATH --allow-write=PATH)
  stdio      nothing more
  metrics    --allow-net=METRICS_HOST:METRICS_PORT (with --metrics-port)
  TLS        --allow-read= for the certificate, key and CA files

Examples:
  ${PROGRAM} serve -c plugins.yaml -t unix --path /tmp/my-plugins.sock
  ${PROGRAM} serve -c plugins.yaml -t grpc -H 127.0.0.1 -p 50051
  ${PROGRAM} serve -c plugins.yaml -t mcp -p 8443 --tls-cert srv.pem --tls-key srv.key \\
    --tls-ca ca.pem --client-auth require
  PLUGINS_CONFIG_PATH=plugins.yaml PLUGINS_TRANSPORT=stdio ${PROGRAM} serve
`,
);

const CHECK = page(
  `Usage: ${PROGRAM} check FILE [--json]`,
  `
Validate a config file and print its effective plan: for each hook, the plugins in the order
they run (phases sequential, transform, audit, concurrent, fire_and_forget; by priority within
a phase, ties in file order) with mode, priority, on_error, timeout, conditions and transport
(in-process kind, or the external plugin's unix socket, gRPC target or MCP url/command).
Plugin modules are imported to check their export; no plugin is started or connected.

An invalid file prints each problem with its YAML path (e.g. plugins[1].mode) and exits 1.
So does what would break at runtime: a duplicate plugin name, a kind that is neither
'external' nor 'module.ts#Export', a missing module file or export, an export that is not a
Plugin class, an invalid plugin-manifest.yaml beside a module, an unset {{ env.NAME }} that
makes the config invalid. Warnings (exit 0) name misspelt hooks and keys with a suggestion
("did you mean \`tool_pre_invoke\`?") and unset variables elsewhere.

Options:
  --json       Print the plan (or the errors) as JSON on stdout
  -h, --help   Show this help

Notes: conditions show only the fields that apply to each hook (tools for tool hooks, prompts
for prompt hooks, ...), "always" when nothing restricts the plugin. The timeout is the plugin's
own, else PLUGINS_PLUGIN_TIMEOUT (with --allow-env), else plugin_settings.plugin_timeout, else
30 s. External mcp and grpc plugins take the values their YAML entry does not set from their
plugin server when the gateway connects; those are marked "(server may override)".

Permissions: --allow-read=FILE plus the plugin modules it names and what they import (e.g.
--allow-read=plugins.yaml,src); --allow-env=NAME for each {{ env.NAME }}. A missing one is
reported as a permission problem, with the flag to add.

Example:
  ${PROGRAM} check plugins.yaml
  ${PROGRAM} check plugins.yaml --json | jq '.hooks[].plugins[].name'
`,
);

const INIT = page(
  `Usage: ${PROGRAM} init NAME [--dir DIR] [--core PATH] [--socket PATH] [--grpc-port N] ` +
    `[--mcp-port N]`,
  `
Create an external plugin project in DIR/NAME (DIR defaults to the current directory):

  deno.json         imports @cpex/core; tasks test, check, serve:unix, serve:grpc, serve:mcp,
                    serve:stdio, each with only the permissions it needs
  src/plugin.ts     the plugin class, with a tool_pre_invoke hook that blocks listed tools
  src/plugin-manifest.yaml  its manifest: description, author, version, tags,
                    available_hooks, default_config (fills keys the config leaves out)
  plugins.yaml      the plugin server's config
  tests/            a unit test of the plugin and an in-process PluginManager test
  README.md         how to run it and how a gateway points at it

NAME must start with a letter and contain only letters, digits, '-' and '_'. An existing
non-empty DIR/NAME is never overwritten.

Options:
  --dir DIR         Create the project under DIR
  --core PATH       Use the @cpex/core checkout at PATH (linked through deno.json "links")
                    instead of jsr:@cpex/core (use it when jsr:@cpex/core cannot be resolved)
  --socket PATH     serve:unix socket (absolute; default /tmp/NAME.sock)
  --grpc-port N     serve:grpc port (default 50051)
  --mcp-port N      serve:mcp port (default 8000)
  -h, --help        Show this help

Permissions: --allow-read=DIR --allow-write=DIR (plus --allow-read=PATH with --core).

Example:
  ${PROGRAM} init tool-guard && cd tool-guard && deno task test
`,
);

const REPLAY = page(
  `Usage: ${PROGRAM} replay --config FILE [--json] [--examples N] RECORDING...`,
  `
Run hook calls recorded by plugin_settings.record (JSONL; rotated files may be listed in order)
through the plugins of a candidate config, in-process and external alike, and print how the
decisions differ from the recorded ones: calls newly blocked, newly allowed, blocked by another
plugin or code, with another payload, newly failing; grouped by plugin and violation code with
a few examples each, and whole-chain latency percentiles recorded vs candidate. Calls of one
request id share plugin contexts, as they did live. The candidate records nothing.

Options:
  -c, --config FILE   The candidate config
      --json          Print the report as JSON on stdout
      --examples N    Examples per group (3)
  -h, --help          Show this help

Exit codes: 0 no decision changed, 1 some did (or the replay failed), 2 usage error.
Recordings are redacted (emails and card numbers by default), so a plugin that looks for those
sees the redacted text on replay: record with redact: false where the data may be kept.

Permissions: --allow-read for the config, its plugin modules and the recordings, plus what
its plugins and transports need (as for serve).

Example:
  ${PROGRAM} replay --config candidate.yaml hooks.jsonl.1 hooks.jsonl
`,
);

const CONFORMANCE = page(
  `Usage: ${PROGRAM} conformance --transport grpc|unix|mcp-http|mcp-stdio --target TARGET [options]
       ${PROGRAM} conformance --transport mcp-stdio [options] -- COMMAND [ARGS...]`,
  `
Drive any CPEX plugin server (ours, the Python reference, another implementation) through a
scenario set that checks the wire contract, and print a pass/fail table: config fetch
(get_plugin_configs, get_plugin_config, unknown names), unknown plugin and unknown hook errors,
the answer shape of each hosted plugin, every hook family, violations (code, reason, details
and error codes), PluginError and exception mapping, the context round trip (local state and
metadata, global state, ids), unicode, numbers (2^53, 2^60, extremes, -0, NaN), and calls in
flight at once matched to their requests.

Checks beyond config fetch and errors need the conformance probe: a plugin named
ConformanceProbe whose behaviour the payload drives (ConformanceProbe in @cpex/core/testing;
tests/interop/plugins/conformance_probe.py for the Python reference). Without it those checks
are skipped, not failed.

Targets: grpc HOST:PORT or unix:/PATH; unix /PATH; mcp-http URL (e.g.
http://localhost:8000/mcp); mcp-stdio the command line that starts the server (split on
spaces, or given after --; it inherits the environment).

Options:
  -t, --transport T     grpc, unix, mcp-http or mcp-stdio
      --target TARGET   Where the server is (see Targets)
      --plugin A,B      Plugins the generic checks drive (default: every listed plugin)
      --probe NAME      The conformance probe's name on the server (ConformanceProbe)
      --check ID,...    Run only these checks (an id ending in '.' selects a group: hook.)
      --concurrency N   Calls in flight in the concurrency check (16)
      --timeout MS      Deadline of one call (10000)
      --tls             Use TLS (grpc, mcp-http with an https URL); system roots unless --tls-ca
      --tls-ca FILE     CA bundle to verify the server
      --tls-cert FILE   Client certificate (mTLS), with --tls-key FILE
      --cwd DIR         Working directory of the mcp-stdio command
      --json            Print the report as JSON on stdout
  -h, --help            Show this help

Exit codes: 0 every check passed or was skipped, 1 a check failed or the server could not be
reached, 2 usage error.

Permissions: --allow-net to the target (a Unix socket, raw or gRPC, also needs
--allow-net=unix:PATH --allow-read=PATH --allow-write=PATH), --allow-env=GRPC_* names for grpc
(as for serve), --allow-read for TLS files, --allow-run for the mcp-stdio command.

Examples:
  ${PROGRAM} conformance --transport grpc --target 127.0.0.1:50051
  ${PROGRAM} conformance --transport unix --target /tmp/plugins.sock --json
  ${PROGRAM} conformance --transport mcp-stdio -- python -m cpex.framework.external.mcp.server.runtime
`,
);

const PAGES: Readonly<Record<string, HelpPage>> = {
  serve: SERVE,
  check: CHECK,
  init: INIT,
  replay: REPLAY,
  conformance: CONFORMANCE,
};

/**
 * The help page of `command`, or the overview for null; undefined for an unknown command.
 */
export function helpPage(command: string | null): HelpPage | undefined {
  if (command === null || command === "help") return MAIN;
  return Object.hasOwn(PAGES, command) ? PAGES[command] : undefined;
}
