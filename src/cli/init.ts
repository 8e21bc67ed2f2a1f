/**
 * `cpex init NAME [--dir DIR] [--core PATH] [--socket PATH] [--grpc-port N] [--mcp-port N]`:
 * creates an external plugin project in DIR/NAME from `templates.ts`. Never overwrites: an
 * existing non-empty directory is refused.
 *
 * `@cpex/core` is imported as `jsr:@cpex/core@^VERSION`; with `--core PATH` the project links
 * that local checkout instead (deno.json `links`, so the checkout's own imports apply and no
 * registry is needed for it).
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type CommandSpec, parseArgs, UsageError } from "./args.ts";
import type { Output } from "./output.ts";
import { preflight } from "./preflight.ts";
import { classNameOf, projectFiles, socketPathOf } from "./templates.ts";
import { VERSION } from "./version.ts";

/**
 * The options of `init`.
 */
export const INIT_SPEC: CommandSpec = {
  name: "init",
  options: {
    dir: { type: "string" },
    core: { type: "string" },
    socket: { type: "string" },
    "grpc-port": { type: "string" },
    "mcp-port": { type: "string" },
  },
  positionals: { min: 1, max: 1, names: "NAME" },
};

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

function port(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`--${flag} must be an integer in 1..65535, got '${raw}'`, "init");
  }
  return value;
}

/**
 * The checkout this CLI runs from, when it runs from a local one (a `file:` module): what to
 * pass to `--core` when `jsr:@cpex/core` cannot be resolved.
 */
function runningCheckout(): string | null {
  const root = new URL("../../", import.meta.url);
  return root.protocol === "file:" ? fileURLToPath(root).replace(/\/$/, "") : null;
}

/** True when `path` does not exist or is an empty directory; throws for a non-directory. */
async function isFreeDirectory(path: string): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
  if (!info.isDirectory) throw new Error(`${path} exists and is not a directory`);
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/** Checks that `path` is a @cpex/core checkout; returns its absolute path. */
async function coreCheckout(path: string): Promise<string> {
  const root = resolve(path);
  let meta: { name?: unknown };
  try {
    meta = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no deno.json there"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`--core ${path} is not a @cpex/core checkout (${reason})`);
  }
  if (meta.name !== "@cpex/core") {
    throw new Error(
      `--core ${path} is not a @cpex/core checkout (its deno.json names ${
        JSON.stringify(meta.name ?? null)
      })`,
    );
  }
  return root;
}

/**
 * Runs `init` with the arguments after the command name and returns the exit code (0 when the
 * project was created; 1 when the directory is not empty or the checkout is not @cpex/core).
 *
 * @throws {UsageError} for a bad command line or project name.
 */
export async function initCommand(args: readonly string[], output: Output): Promise<number> {
  const parsed = parseArgs(args, INIT_SPEC);
  const name = parsed.positionals[0];
  if (!NAME.test(name)) {
    throw new UsageError(
      `invalid project name '${name}': start with a letter, then letters, digits, '-' or '_'`,
      "init",
    );
  }
  const parent = resolve((parsed.options.dir as string | undefined) ?? ".");
  const target = join(parent, name);
  const socketPath = parsed.options.socket as string | undefined;
  if (socketPath !== undefined && !socketPath.startsWith("/")) {
    throw new UsageError(`--socket must be an absolute path, got '${socketPath}'`, "init");
  }
  const grpcPort = port("grpc-port", parsed.options["grpc-port"] as string | undefined);
  const mcpPort = port("mcp-port", parsed.options["mcp-port"] as string | undefined);
  // Said up front, in the words `serve` uses, rather than as a failure half-way (issue 12).
  const core = parsed.options.core as string | undefined;
  preflight("init command", [
    { descriptor: { name: "read", path: parent }, flag: `--allow-read=${parent}` },
    { descriptor: { name: "write", path: parent }, flag: `--allow-write=${parent}` },
    ...(core === undefined ? [] : [{
      descriptor: { name: "read" as const, path: resolve(core) },
      flag: `--allow-read=${core}`,
    }]),
  ]);
  let coreSpecifier = `jsr:@cpex/core@^${VERSION}`;
  let coreLink: string | null = null;
  if (parsed.options.core !== undefined) {
    const core = await coreCheckout(parsed.options.core as string);
    coreLink = relative(target, core).replaceAll("\\", "/") || ".";
    const meta = JSON.parse(await Deno.readTextFile(join(core, "deno.json")));
    coreSpecifier = `jsr:@cpex/core@^${meta.version ?? VERSION}`;
  }
  if (!(await isFreeDirectory(target))) {
    output.stderr(`error: refusing to overwrite ${target}: it exists and is not empty\n`);
    return 1;
  }
  const files = projectFiles({
    name,
    className: classNameOf(name),
    coreSpecifier,
    coreLink,
    socketPath,
    grpcPort,
    mcpPort,
  });
  for (const [path, text] of Object.entries(files)) {
    const file = join(target, path);
    await Deno.mkdir(dirname(file), { recursive: true });
    await Deno.writeTextFile(file, text, { createNew: true });
  }
  const checkout = runningCheckout();
  const fallback = coreLink ? [] : [
    `If jsr:@cpex/core cannot be resolved (not published yet, or offline), create the project`,
    `from a @cpex/core checkout instead:`,
    `  cpex init ${name} --core ${checkout ?? "/path/to/cpex-core"}` +
    `${parsed.options.dir !== undefined ? ` --dir ${parsed.options.dir}` : ""}`,
    "",
  ];
  const fromCwd = relative(Deno.cwd(), target);
  const shown = fromCwd === "" ? "." : fromCwd.startsWith("..") ? target : fromCwd;
  output.stdout(
    [
      `Created ${shown}/ with plugin ${classNameOf(name)}:`,
      ...Object.keys(files).map((f) => `  ${f}`),
      "",
      coreLink
        ? `@cpex/core is linked from ${coreLink} (deno.json "links").`
        : `@cpex/core comes from ${coreSpecifier}.`,
      "",
      "Next:",
      `  cd ${shown}`,
      "  deno task test         # the plugin's tests",
      `  deno task serve:unix   # serve it on ${
        socketPath ?? socketPathOf(name)
      } (also serve:grpc, serve:mcp, serve:stdio)`,
      "",
      ...fallback,
    ].join("\n"),
  );
  return 0;
}
