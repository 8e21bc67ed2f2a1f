/**
 * An example plugin that blocks tool calls and prompt fetches whose arguments are too long.
 *
 * Every string in the arguments is checked, also strings nested in objects and lists; the
 * violation names the offending argument by its path (`query`, `filters.name`, `items[2]`).
 *
 * ```yaml
 * - name: ArgumentValidator
 *   kind: ./plugins/argument_validator.ts#ArgumentValidator
 *   hooks: [tool_pre_invoke, prompt_pre_fetch]
 *   config: { max_length: 200 }
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
  /** Longest accepted string, in characters (UTF-16 code units). */
  max_length: z.number().int().positive().default(100),
});

/**
 * Blocks a request when one of its string arguments is longer than `config.max_length`
 * (default 100) characters, with violation code `ARGUMENT_TOO_LONG`.
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { ArgumentValidator } from "./argument_validator.ts";
 *
 * const manager = new PluginManager();
 * await manager.registerPlugin(
 *   new ArgumentValidator({
 *     name: "validator",
 *     kind: "example",
 *     hooks: ["tool_pre_invoke"],
 *     config: { max_length: 5 },
 *   }),
 * );
 * const [result] = await manager.invokeHook(
 *   "tool_pre_invoke",
 *   { name: "search", args: { query: "far too long" } },
 *   { request_id: "r1" },
 * );
 * console.log(result.violation?.code); // "ARGUMENT_TOO_LONG"
 * await manager.shutdown();
 * ```
 */
export class ArgumentValidator extends Plugin {
  /** The configured limit. */
  readonly maxLength: number;

  /** Validates `config.max_length`; throws a `TypeError` naming the field when it is invalid. */
  constructor(config: PluginConfigInput | PluginConfig) {
    super(config);
    const parsed = Settings.safeParse(this.config.config ?? {});
    if (!parsed.success) {
      throw new TypeError(`${this.name}: invalid config: ${z.prettifyError(parsed.error)}`);
    }
    this.maxLength = parsed.data.max_length;
  }

  /** Checks the tool's arguments. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return this.#check(payload.args, `tool '${payload.name}'`);
  }

  /** Checks the prompt's arguments. */
  prompt_pre_fetch(payload: PromptPrehookPayload): PluginResult<PromptPrehookPayload> {
    return this.#check(payload.args, `prompt '${payload.prompt_id}'`);
  }

  #check(
    args: Readonly<Record<string, unknown>> | null | undefined,
    target: string,
  ): PluginResult<never> {
    const found = findTooLong(args ?? {}, "", this.maxLength);
    if (!found) return {};
    return {
      continue_processing: false,
      violation: {
        reason: "Argument too long",
        description: `Argument '${found.path}' of ${target} is ${found.length} characters long; ` +
          `the limit is ${this.maxLength}`,
        code: "ARGUMENT_TOO_LONG",
        details: { argument: found.path, length: found.length, max_length: this.maxLength },
      },
    };
  }
}

/** Depth-first search for the first string longer than `max`; returns its path and length. */
function findTooLong(
  value: unknown,
  path: string,
  max: number,
): { path: string; length: number } | null {
  if (typeof value === "string") {
    return value.length > max ? { path, length: value.length } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findTooLong(value[i], `${path}[${i}]`, max);
      if (found) return found;
    }
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const found = findTooLong(item, path ? `${path}.${key}` : key, max);
      if (found) return found;
    }
  }
  return null;
}
