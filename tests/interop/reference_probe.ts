/**
 * Runs `reference_probe.py` in the reference's virtualenv: one JSON input on stdin, one JSON
 * answer on stdout (issue 11 conformance tests).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);
const PYTHON = new URL(".venv/bin/python", ROOT).pathname;
const SCRIPT = new URL("tests/interop/reference_probe.py", ROOT).pathname;

/**
 * Asks the reference: `mode` is `yaml`, `size` or `numbers` (see reference_probe.py); `input`
 * is the JSON text sent on stdin.
 *
 * @example
 * ```ts
 * import { askReference } from "./reference_probe.ts";
 * await askReference("yaml", JSON.stringify(["v: y"])); // [{ t: "str", v: "y" }]
 * ```
 */
export async function askReference(mode: string, input: string): Promise<unknown> {
  try {
    await Deno.stat(PYTHON);
  } catch {
    throw new Error(
      `${PYTHON} not found: run \`bash tests/interop/setup_venv.sh\` first (cpex[grpc]==0.1.4).`,
    );
  }
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`reference_probe.py ${mode} failed (${out.code}): ${err}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
