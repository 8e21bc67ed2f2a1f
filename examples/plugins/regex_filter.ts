/**
 * An example TRANSFORM plugin that rewrites text with an ordered list of regular-expression
 * search-and-replace rules (the reference's `SearchReplacePlugin`).
 *
 * Rules apply in order, each to the output of the previous one, so `crap → crud` followed by
 * `crud → yikes` turns "crap" into "yikes". They apply to every string nested in the arguments
 * of `tool_pre_invoke` and `prompt_pre_fetch`, to every string nested in the result of
 * `tool_post_invoke`, and to the message texts of `prompt_post_fetch`
 * (`result.messages[].content.text`). A modified payload is returned only when some text
 * changed; payloads are never mutated.
 *
 * ```yaml
 * - name: SearchReplace
 *   kind: ./plugins/regex_filter.ts#RegexFilter
 *   hooks: [prompt_pre_fetch, prompt_post_fetch, tool_pre_invoke, tool_post_invoke]
 *   mode: transform
 *   config:
 *     words:
 *       - { search: crap, replace: crud }
 *       - { search: crud, replace: yikes }
 *       - { search: '(\d{3})-(\d{4})', replace: "$1-XXXX" }   # JS replacement syntax
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
  type PromptPosthookPayload,
  type PromptPrehookPayload,
  type ToolPostInvokePayload,
  type ToolPreInvokePayload,
} from "../../mod.ts";
import { mapStrings } from "./text_walk.ts";

/** JavaScript RegExp flags the rules may use (`g` is always added). */
const FLAGS = /^[imsuv]*$/;

const Rule = z.object({
  /** A JavaScript regular expression. */
  search: z.string().min(1, "must not be empty"),
  /** Replacement text; `$1`, `$<name>` and `$&` refer to the match (JavaScript syntax). */
  replace: z.string(),
  /** Extra RegExp flags, e.g. `i` for case-insensitive matching. */
  flags: z.string().regex(FLAGS, "only the flags i, m, s, u and v are allowed").default(""),
}).strict().superRefine((rule, ctx) => {
  try {
    new RegExp(rule.search, `g${rule.flags}`);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      path: ["search"],
      message: `invalid regular expression: ${(error as Error).message}`,
    });
  }
});

const Settings = z.object({
  /** The rules, applied in order (the reference's key name). */
  words: z.array(Rule).default([]),
}).strict();

/** One compiled rule. */
interface CompiledRule {
  readonly pattern: RegExp;
  readonly replace: string;
}

/**
 * Applies `config.words` (an ordered list of `{ search, replace, flags? }` rules) to tool and
 * prompt arguments, tool results and rendered prompt messages. Returns `modified_payload` only
 * when a rule changed some text, with metadata `{ replacements: <count> }`.
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { RegexFilter } from "./regex_filter.ts";
 *
 * const manager = new PluginManager();
 * await manager.registerPlugin(
 *   new RegexFilter({
 *     name: "SearchReplace",
 *     kind: "example",
 *     mode: "transform",
 *     hooks: ["prompt_pre_fetch"],
 *     config: { words: [{ search: "crap", replace: "crud" }, { search: "crud", replace: "yikes" }] },
 *   }),
 * );
 * const [result] = await manager.invokeHook(
 *   "prompt_pre_fetch",
 *   { prompt_id: "greeting", args: { user: "what a crapshow" } },
 *   { request_id: "r1" },
 * );
 * console.log(result.modified_payload); // { prompt_id: "greeting", args: { user: "what a yikesshow" } }
 * await manager.shutdown();
 * ```
 */
export class RegexFilter extends Plugin {
  readonly #rules: readonly CompiledRule[];

  /** Validates and compiles `config.words`; throws a `TypeError` naming the bad rule. */
  constructor(config: PluginConfigInput | PluginConfig) {
    super(config);
    const parsed = Settings.safeParse(this.config.config ?? {});
    if (!parsed.success) {
      throw new TypeError(`${this.name}: invalid config: ${z.prettifyError(parsed.error)}`);
    }
    this.#rules = parsed.data.words.map((rule) => ({
      pattern: new RegExp(rule.search, `g${rule.flags}`),
      replace: rule.replace,
    }));
  }

  /**
   * Runs every rule over `text` in order; returns the result and how many matches were
   * replaced.
   *
   * @example
   * ```ts
   * import { RegexFilter } from "./regex_filter.ts";
   * const filter = new RegexFilter({
   *   name: "f",
   *   kind: "example",
   *   config: { words: [{ search: "cat", replace: "dog" }] },
   * });
   * console.log(filter.apply("cat and cat")); // { text: "dog and dog", count: 2 }
   * ```
   */
  apply(text: string): { text: string; count: number } {
    let count = 0;
    let out = text;
    for (const { pattern, replace } of this.#rules) {
      const matches = out.match(pattern)?.length ?? 0;
      if (matches === 0) continue;
      count += matches;
      out = out.replace(pattern, replace);
    }
    return { text: out, count };
  }

  /** Rewrites the tool's string arguments. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return this.#rewrite(payload, "args", (args) => this.#strings(args));
  }

  /** Rewrites the strings in the tool's result. */
  tool_post_invoke(payload: ToolPostInvokePayload): PluginResult<ToolPostInvokePayload> {
    return this.#rewrite(payload, "result", (result) => this.#strings(result));
  }

  /** Rewrites the prompt's arguments. */
  prompt_pre_fetch(payload: PromptPrehookPayload): PluginResult<PromptPrehookPayload> {
    return this.#rewrite(payload, "args", (args) => this.#strings(args));
  }

  /** Rewrites the texts of the rendered prompt's messages. */
  prompt_post_fetch(payload: PromptPosthookPayload): PluginResult<PromptPosthookPayload> {
    return this.#rewrite(payload, "result", (result) => this.#messageTexts(result));
  }

  #strings(value: unknown): { value: unknown; count: number } {
    let count = 0;
    const out = mapStrings(value, (text) => {
      const replaced = this.apply(text);
      count += replaced.count;
      return replaced.text;
    });
    return { value: out, count };
  }

  /** `{ messages: [{ content: { text } }] }`: only the texts change, nothing else is touched. */
  #messageTexts(result: unknown): { value: unknown; count: number } {
    if (!isRecord(result) || !Array.isArray(result.messages)) return { value: result, count: 0 };
    let count = 0;
    let changed = false;
    const messages = result.messages.map((message: unknown) => {
      if (!isRecord(message) || !isRecord(message.content)) return message;
      const text = message.content.text;
      if (typeof text !== "string") return message;
      const replaced = this.apply(text);
      count += replaced.count;
      if (replaced.text === text) return message;
      changed = true;
      return { ...message, content: { ...message.content, text: replaced.text } };
    });
    return { value: changed ? { ...result, messages } : result, count };
  }

  #rewrite<P extends object, K extends keyof P & string>(
    payload: P,
    field: K,
    rewrite: (value: unknown) => { value: unknown; count: number },
  ): PluginResult<P> {
    if (this.#rules.length === 0) return {};
    const before = payload[field];
    const { value, count } = rewrite(before);
    if (value === before) return {};
    return {
      modified_payload: { ...payload, [field]: value } as P,
      metadata: { replacements: count },
    };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
