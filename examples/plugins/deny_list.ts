/**
 * An example plugin that blocks prompts and tool calls containing a denied word.
 *
 * Words match case-insensitively and as whole words (`crap` matches "Crap!" but not
 * "scrappy"), in every string of the arguments, nested ones included.
 *
 * ```yaml
 * - name: DenyList
 *   kind: ./plugins/deny_list.ts#DenyList
 *   hooks: [prompt_pre_fetch, tool_pre_invoke]
 *   config: { words: [crap, "rm -rf"] }
 * ```
 *
 * @module
 */
import { z } from "zod";
import {
  Plugin,
  type PluginConfig,
  type PluginConfigInput,
  type PluginResult,
  type PromptPrehookPayload,
  type ToolPreInvokePayload,
} from "../../mod.ts";

const Settings = z.object({
  /** The denied words or phrases. */
  words: z.array(z.string().trim().min(1)).default([]),
});

/**
 * Blocks a request when any string argument contains one of `config.words` as a whole word
 * (case-insensitive), with violation code `deny` and reason `Prompt not allowed`.
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { DenyList } from "./deny_list.ts";
 *
 * const manager = new PluginManager();
 * await manager.registerPlugin(
 *   new DenyList({ name: "deny", kind: "example", hooks: ["prompt_pre_fetch"], config: { words: ["crap"] } }),
 * );
 * const [result] = await manager.invokeHook(
 *   "prompt_pre_fetch",
 *   { prompt_id: "greeting", args: { text: "What a load of CRAP" } },
 *   { request_id: "r1" },
 * );
 * console.log(result.continue_processing, result.violation?.code); // false "deny"
 * await manager.shutdown();
 * ```
 */
export class DenyList extends Plugin {
  /** The configured words, as given. */
  readonly words: readonly string[];
  readonly #pattern: RegExp | null;

  /** Validates `config.words` and compiles them into one matcher. */
  constructor(config: PluginConfigInput | PluginConfig) {
    super(config);
    const parsed = Settings.safeParse(this.config.config ?? {});
    if (!parsed.success) {
      throw new TypeError(`${this.name}: invalid config: ${z.prettifyError(parsed.error)}`);
    }
    this.words = parsed.data.words;
    this.#pattern = this.words.length === 0 ? null : new RegExp(
      // Whole words: no letter, digit or underscore (in any script) right before or after.
      `(?<![\\p{L}\\p{N}_])(?:${this.words.map(wordSource).join("|")})(?![\\p{L}\\p{N}_])`,
      "iu",
    );
  }

  /** Checks the prompt's arguments. */
  prompt_pre_fetch(payload: PromptPrehookPayload): PluginResult<PromptPrehookPayload> {
    return this.#check(payload.args);
  }

  /** Checks the tool's arguments. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return this.#check(payload.args);
  }

  #check(args: Readonly<Record<string, unknown>> | null | undefined): PluginResult<never> {
    if (!this.#pattern || !args) return {};
    const found = findWord(args, "", this.#pattern);
    if (!found) return {};
    return {
      continue_processing: false,
      violation: {
        reason: "Prompt not allowed",
        description: `A denied word was found in argument '${found.path}'`,
        code: "deny",
        details: { argument: found.path, word: found.word },
      },
    };
  }
}

/** A word or phrase as a regular expression source: literal, any run of spaces matches. */
function wordSource(word: string): string {
  return word.split(/\s+/).map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
    .join("\\s+");
}

/** Depth-first search for the first string that contains a denied word. */
function findWord(
  value: unknown,
  path: string,
  pattern: RegExp,
): { path: string; word: string } | null {
  if (typeof value === "string") {
    const match = pattern.exec(value);
    return match ? { path, word: match[0] } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findWord(value[i], `${path}[${i}]`, pattern);
      if (found) return found;
    }
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const found = findWord(item, path ? `${path}.${key}` : key, pattern);
      if (found) return found;
    }
  }
  return null;
}
