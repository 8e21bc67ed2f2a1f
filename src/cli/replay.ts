/**
 * `cpex replay --config FILE RECORDING...`: runs recorded hook calls (JSONL written by a
 * recorder, issue 17) through a candidate config and prints how the decisions differ. Exit
 * code 0 when nothing changed, 1 when some decision did (so a pipeline can gate a policy
 * change), 2 for a usage error.
 *
 * @module
 */
import { PluginManager } from "../manager/manager.ts";
import { formatReplayReport, parseRecording, replayCalls } from "../replay/replay.ts";
import type { RecordedCall } from "../record/recorder.ts";
import { type CommandSpec, parseArgs, UsageError } from "./args.ts";
import type { Output } from "./output.ts";

/** The options of `replay`. */
export const REPLAY_SPEC: CommandSpec = {
  name: "replay",
  options: {
    config: { type: "string", short: "c" },
    json: { type: "boolean" },
    examples: { type: "string" },
  },
  positionals: { min: 1, max: 64, names: "RECORDING..." },
};

/** Runs `replay`; resolves with the exit code. */
export async function replayCommand(args: readonly string[], output: Output): Promise<number> {
  const { options, positionals } = parseArgs(args, REPLAY_SPEC);
  const config = options.config;
  if (typeof config !== "string") throw new UsageError("missing option --config FILE", "replay");
  const examples = options.examples === undefined ? 3 : Number(options.examples);
  if (!Number.isInteger(examples) || examples < 0) {
    throw new UsageError(`--examples must be a whole number, got '${options.examples}'`, "replay");
  }
  const calls: RecordedCall[] = [];
  let skipped = 0;
  for (const path of positionals) {
    const parsed = parseRecording(await Deno.readTextFile(path));
    calls.push(...parsed.calls);
    skipped += parsed.skipped;
  }
  // The candidate never records the replay, nor counts it in the process's metrics.
  const manager = new PluginManager(config, {
    recorder: null,
    metrics: null,
    logger: { warn: (m) => output.stderr(`${m}\n`), info: () => {} },
  });
  await manager.initialize();
  try {
    const report = await replayCalls(manager, calls, { examples });
    report.skipped = skipped;
    if (options.json) output.stdout(JSON.stringify(report, null, 2) + "\n");
    else output.stdout(formatReplayReport(report));
    return report.changed === 0 ? 0 : 1;
  } finally {
    await manager.shutdown();
  }
}
