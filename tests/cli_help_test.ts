/**
 * The CLI's help and usage errors, run as a subprocess: `--help` on the CLI and on each
 * command, `--version`, and exit code 2 with the command's usage for an unknown command, an
 * unknown option or a bad value.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import denoJson from "../deno.json" with { type: "json" };

Deno.test("cli --help lists every command and exits 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: cpex <command>/);
    for (const command of ["serve", "check", "init", "conformance"]) {
      assert.match(r.stdout, new RegExp(`^  ${command}( |\n)`, "m"));
    }
    assert.equal(r.stderr, "");
  }
});

Deno.test("each command's --help prints its own page on stdout and exits 0", async () => {
  const expected: Record<string, RegExp[]> = {
    serve: [/^Usage: cpex serve /, /--transport NAME/, /--client-auth MODE/, /PLUGINS_TRANSPORT/],
    check: [
      /^Usage: cpex check FILE \[--json\]/,
      /phases sequential, transform, audit, concurrent, fire_and_forget/,
      /--json/,
    ],
    init: [/^Usage: cpex init NAME/, /--core PATH/, /serve:unix/],
    conformance: [/^Usage: cpex conformance --transport /, /--plugin A,B/, /ConformanceProbe/],
  };
  for (const [command, patterns] of Object.entries(expected)) {
    for (const args of [[command, "--help"], [command, "-h"], ["help", command]]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      for (const p of patterns) assert.match(r.stdout, p, `${args.join(" ")} lacks ${p}`);
    }
  }
});

Deno.test("--help wins over other arguments of a command, even invalid ones", async () => {
  const r = await runCli(["serve", "--bogus", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: cpex serve /);
});

Deno.test("--version prints the version of deno.json", async () => {
  const r = await runCli(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${denoJson.version}\n`);
});

Deno.test("no command is a usage error with exit code 2", async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^error: missing command\n\nUsage: cpex <command>/);
});

Deno.test("an unknown command is a usage error naming it, with exit code 2", async () => {
  const r = await runCli(["deploy", "x"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: unknown command 'deploy'/);
  assert.match(r.stderr, /Usage: cpex <command>/);
  assert.match(r.stderr, /Run 'cpex --help'/);
  const help = await runCli(["help", "deploy"]);
  assert.equal(help.code, 2);
  assert.match(help.stderr, /unknown command 'deploy'/);
});

Deno.test("an unknown option is a usage error with the command's usage and exit code 2", async () => {
  const cases: [string[], RegExp, RegExp][] = [
    [["--bogus"], /unknown option --bogus/, /Usage: cpex <command>/],
    [["serve", "--bogus"], /unknown option --bogus/, /Usage: cpex serve /],
    [["serve", "-x"], /unknown option -x/, /Usage: cpex serve /],
    [["check", "p.yaml", "--yaml"], /unknown option --yaml/, /Usage: cpex check /],
    [["init", "guard", "--force"], /unknown option --force/, /Usage: cpex init /],
  ];
  for (const [args, message, usage] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    assert.match(r.stderr, message);
    assert.match(r.stderr, usage);
  }
});

Deno.test("bad values and missing arguments are usage errors with exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["check"], /missing argument FILE/],
    [["check", "a.yaml", "b.yaml"], /too many arguments/],
    [["init"], /missing argument NAME/],
    [["init", "9lives"], /invalid project name '9lives'/],
    [["init", "../escape"], /invalid project name/],
    [["serve", "-t", "unix", "--config"], /option --config needs a value/],
    [["serve", "-t", "ftp"], /unknown transport 'ftp'/],
    [["serve"], /missing --transport \(or PLUGINS_TRANSPORT\)/],
    [["serve", "-t", "grpc", "--port", "http"], /--port must be an integer in 0\.\.65535/],
    [["serve", "-t", "grpc", "--port", "70000"], /--port must be an integer/],
    [["serve", "-t", "unix", "--host", "127.0.0.1"], /--host does not apply to --transport unix/],
    [["serve", "-t", "stdio", "--path", "/tmp/x.sock"], /--path does not apply to --transport/],
    [["serve", "-t", "grpc", "--path", "/tmp/x.sock"], /use --uds for a Unix socket/],
    [["serve", "-t", "unix", "--path", "rel.sock"], /--path must be an absolute path/],
    [["serve", "-t", "grpc", "--uds", "/tmp/g.sock", "-p", "1"], /--uds cannot be combined/],
    [["serve", "-t", "grpc", "--tls-cert", "/etc/hostname"], /needs both --tls-cert and --tls-key/],
    [
      ["serve", "-t", "mcp", "--tls-cert", "/nope.pem", "--tls-key", "/nope.key"],
      /--tls-cert: file not found: \/nope\.pem/,
    ],
    [
      ["serve", "-t", "grpc", "--tls-cert", "a", "--tls-key", "b", "--client-auth", "maybe"],
      /--client-auth must be one of none, optional, require/,
    ],
    [
      ["serve", "-t", "grpc", "--tls-cert", "a", "--tls-key", "b", "--client-auth", "require"],
      /--client-auth require needs --tls-ca/,
    ],
    [["serve", "-t", "unix", "-t", "grpc"], /option --transport was given more than once/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, { permissions: ["--allow-read=/nope.pem,/nope.key"] });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.match(r.stderr, /\n\nUsage: cpex /, args.join(" "));
  }
});
