/**
 * Errors raised when a hook payload or result is converted from JSON through the
 * {@linkcode HookRegistry}: an unregistered hook, malformed JSON, or data that does not match
 * the hook's schema.
 *
 * @module
 */

/**
 * One problem found while validating hook data: a dotted path (`args.query`,
 * `messages[0]`, empty for the whole value) and a message.
 *
 * @example
 * ```ts
 * import type { HookIssue } from "@cpex/core";
 * const issue: HookIssue = { path: "name", message: "Invalid input: expected string" };
 * ```
 */
export interface HookIssue {
  /** Where the problem is, e.g. `args.query` or `messages[0].role`; `""` for the root. */
  path: string;
  /** What is wrong. */
  message: string;
}

/**
 * Whether a payload (what a plugin receives) or a result (what it returns) was being
 * converted.
 *
 * @example
 * ```ts
 * import type { HookDataKind } from "@cpex/core";
 * const kind: HookDataKind = "payload";
 * ```
 */
export type HookDataKind = "payload" | "result";

/**
 * Thrown when JSON is converted for a hook that has no registered schema. The message matches
 * the reference: `No payload type registered for hook: <hook>` (or `result`).
 *
 * @example
 * ```ts
 * import { hookRegistry, UnknownHookError } from "@cpex/core";
 * try {
 *   hookRegistry.parsePayload("nope", {});
 * } catch (err) {
 *   if (err instanceof UnknownHookError) console.log(err.hook); // "nope"
 * }
 * ```
 */
export class UnknownHookError extends Error {
  /** The hook name that was asked for. */
  readonly hook: string;
  /** Whether a payload or a result conversion was asked for. */
  readonly kind: HookDataKind;

  /**
   * Creates the error for an unregistered hook.
   *
   * @param hook The unregistered hook name.
   * @param kind The kind of conversion that failed.
   */
  constructor(hook: string, kind: HookDataKind) {
    super(`No ${kind} type registered for hook: ${hook}`);
    this.name = "UnknownHookError";
    this.hook = hook;
    this.kind = kind;
  }
}

/**
 * Thrown when a hook payload or result is not valid JSON or does not match the hook's schema.
 * The message names the hook and every offending field path.
 *
 * @example
 * ```ts
 * import { HookValidationError, hookRegistry } from "@cpex/core";
 * try {
 *   hookRegistry.parsePayload("tool_pre_invoke", { name: 42 });
 * } catch (err) {
 *   if (err instanceof HookValidationError) console.log(err.issues[0].path); // "name"
 * }
 * ```
 */
export class HookValidationError extends Error {
  /** The hook whose data was invalid. */
  readonly hook: string;
  /** Whether the payload or the result was invalid. */
  readonly kind: HookDataKind;
  /** Every problem found, with its field path. */
  readonly issues: readonly HookIssue[];

  /**
   * Creates the error from the problems found.
   *
   * @param hook The hook name.
   * @param kind Whether the payload or the result was being converted.
   * @param issues The problems found (at least one).
   */
  constructor(hook: string, kind: HookDataKind, issues: readonly HookIssue[]) {
    const detail = issues.map((i) => `${i.path === "" ? "(root)" : i.path}: ${i.message}`)
      .join("; ");
    super(`Invalid ${kind} for hook '${hook}': ${detail}`);
    this.name = "HookValidationError";
    this.hook = hook;
    this.kind = kind;
    this.issues = issues;
  }
}
