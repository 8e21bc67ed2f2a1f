/**
 * The hook registry: hook name -> payload schema, modified-payload ("result") schema and
 * payload-condition target. It converts JSON (from the wire, or from a caller) into validated
 * payloads and results, and tells the manager which condition field applies to a hook.
 *
 * The registry is **not** needed to dispatch a hook in process: any string is a valid hook
 * name. Register a custom hook to get JSON validation (external plugins, `payloadAsJson`) and,
 * optionally, payload-specific conditions.
 *
 * @module
 */
import type { z } from "zod";
import type { PluginResult } from "../types.ts";
import { registerBuiltinHooks } from "./builtins.ts";
import { acceptsFast } from "./fast_checks.ts";
import {
  CONDITION_FIELDS,
  type ConditionField,
  type ConditionTarget,
  DEFAULT_MATCH_FIELDS,
  PAYLOAD_CONDITION_TARGETS,
} from "./conditions.ts";
import {
  type HookDataKind,
  type HookIssue,
  HookValidationError,
  UnknownHookError,
} from "./errors.ts";
import type { PayloadOf, ResultPayloadOf } from "./map.ts";
import { pluginResultSchema } from "./result.ts";
import type { Schema } from "./schema.ts";
import { asZod } from "./schema_helpers.ts";

/**
 * What {@linkcode HookRegistry.register} needs to know about a hook.
 *
 * @typeParam P The payload type plugins receive.
 * @typeParam R The type plugins return as `modified_payload` (defaults to `P`).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import type { HookDefinition } from "@cpex/core";
 * const def: HookDefinition<{ recipient: string }> = {
 *   payload: z.object({ recipient: z.string() }),
 * };
 * ```
 */
export interface HookDefinition<P = unknown, R = P> {
  /** Schema of the payload plugins receive: a zod schema (typed structurally). */
  payload: Schema<P>;
  /**
   * Schema of the modified payload plugins return, when it differs from the payload (a
   * "cross-type" hook); a zod schema. Defaults to `payload`.
   */
  result?: Schema<R>;
  /** Payload-specific condition field that applies to this hook (none by default). */
  conditionField?: ConditionField;
  /**
   * Payload attribute compared with `conditionField`'s list. Defaults to the built-in
   * attribute of that field (`tools` -> `name`, `prompts` -> `prompt_id`, `resources` -> `uri`,
   * `agents` -> `agent_id`). Only valid together with `conditionField`.
   */
  matchField?: string;
}

interface HookEntry {
  readonly payload: z.ZodType<unknown>;
  readonly result: z.ZodType<unknown>;
  readonly conditionTarget: ConditionTarget | null;
  resultSchema?: Schema<PluginResult<unknown>>;
}

/**
 * Maps hook names to their payload and result schemas.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { HookRegistry } from "@cpex/core";
 *
 * const registry = new HookRegistry();
 * registry.register("email_pre_send", {
 *   payload: z.object({ recipient: z.string(), subject: z.string().default("") }),
 * });
 * const payload = registry.parsePayload("email_pre_send", '{"recipient":"a@example.com"}');
 * console.log(payload); // { recipient: "a@example.com", subject: "" }
 * ```
 */
export class HookRegistry {
  readonly #entries = new Map<string, HookEntry>();

  /**
   * A new registry holding the 12 built-in hooks: the start of a manager's own registry (pass
   * it as `hookRegistry`), independent of the process-wide {@linkcode hookRegistry}.
   *
   * @returns A registry with the built-in hooks only.
   *
   * @example
   * ```ts
   * import { z } from "zod";
   * import { HookRegistry, PluginManager } from "@cpex/core";
   * const hooks = HookRegistry.withBuiltins();
   * hooks.register("email_pre_send", { payload: z.object({ recipient: z.string() }) });
   * const manager = new PluginManager(null, { hookRegistry: hooks });
   * console.log(manager.hookRegistry.isRegistered("tool_pre_invoke")); // true
   * ```
   */
  static withBuiltins(): HookRegistry {
    const registry = new HookRegistry();
    registerBuiltinHooks(registry);
    return registry;
  }

  /**
   * Registers (or silently replaces) a hook's schemas. A replaced hook keeps its position in
   * {@linkcode HookRegistry.names}.
   *
   * @param name The hook name, e.g. `email_pre_send`.
   * @param definition The payload schema, and optionally the result schema and condition
   * target.
   * @throws {TypeError} If the name is empty, a schema is not a zod schema, or the condition
   * settings are invalid.
   *
   * @example
   * ```ts
   * import { z } from "zod";
   * import { HookRegistry } from "@cpex/core";
   * const registry = new HookRegistry();
   * registry.register("doc_pre_index", {
   *   payload: z.object({ doc_id: z.string() }),
   *   conditionField: "resources",
   *   matchField: "doc_id",
   * });
   * ```
   */
  register<P, R = P>(name: string, definition: HookDefinition<P, R>): void {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("Hook name must be a non-empty string");
    }
    const { payload, result, conditionField, matchField } = definition ?? {};
    if (!isZodSchema(payload)) {
      throw new TypeError(`Hook '${name}': 'payload' must be a zod schema`);
    }
    if (result !== undefined && !isZodSchema(result)) {
      throw new TypeError(`Hook '${name}': 'result' must be a zod schema`);
    }
    let conditionTarget: ConditionTarget | null = null;
    if (conditionField !== undefined) {
      if (!CONDITION_FIELDS.includes(conditionField)) {
        throw new TypeError(
          `Hook '${name}': 'conditionField' must be one of ${CONDITION_FIELDS.join(", ")}, got ${
            JSON.stringify(conditionField)
          }`,
        );
      }
      const attribute = matchField ?? DEFAULT_MATCH_FIELDS[conditionField];
      if (typeof attribute !== "string" || attribute === "") {
        throw new TypeError(`Hook '${name}': 'matchField' must be a non-empty string`);
      }
      conditionTarget = Object.freeze({ field: conditionField, attribute });
    } else if (matchField !== undefined) {
      throw new TypeError(`Hook '${name}': 'matchField' requires 'conditionField'`);
    }
    this.#entries.set(name, {
      payload: asZod<unknown>(payload),
      result: asZod<unknown>(result ?? payload),
      conditionTarget,
    });
  }

  /**
   * Removes a hook's registration.
   *
   * @param name The hook name.
   * @returns `true` if the hook was registered.
   *
   * @example
   * ```ts
   * import { HookRegistry } from "@cpex/core";
   * new HookRegistry().unregister("email_pre_send"); // false
   * ```
   */
  unregister(name: string): boolean {
    return this.#entries.delete(name);
  }

  /**
   * Whether `name` has registered schemas.
   *
   * @param name The hook name.
   * @returns `true` when registered.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * console.log(hookRegistry.isRegistered("tool_pre_invoke")); // true
   * ```
   */
  isRegistered(name: string): boolean {
    return this.#entries.has(name);
  }

  /**
   * The registered hook names, in registration order.
   *
   * @returns A new array of names.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * console.log(hookRegistry.names().length >= 12); // true
   * ```
   */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * The payload schema of a hook.
   *
   * @param name The hook name.
   * @returns The schema, or `null` if the hook is not registered.
   *
   * @example
   * ```ts
   * import { hookRegistry, ToolPreInvokePayloadSchema } from "@cpex/core";
   * console.log(hookRegistry.getPayloadSchema("tool_pre_invoke") === ToolPreInvokePayloadSchema);
   * ```
   */
  getPayloadSchema<H extends string>(name: H): Schema<PayloadOf<H>> | null {
    return (this.#entries.get(name)?.payload ?? null) as Schema<PayloadOf<H>> | null;
  }

  /**
   * The schema of the modified payload a hook's plugins return (the payload schema unless the
   * hook is cross-type).
   *
   * @param name The hook name.
   * @returns The schema, or `null` if the hook is not registered.
   *
   * @example
   * ```ts
   * import { hookRegistry, HttpHeaderPayloadSchema } from "@cpex/core";
   * console.log(hookRegistry.getResultPayloadSchema("http_pre_request") === HttpHeaderPayloadSchema);
   * ```
   */
  getResultPayloadSchema<H extends string>(name: H): Schema<ResultPayloadOf<H>> | null {
    return (this.#entries.get(name)?.result ?? null) as Schema<ResultPayloadOf<H>> | null;
  }

  /**
   * The schema of a whole result of a hook: a {@linkcode PluginResult} whose
   * `modified_payload` matches the hook's result payload schema. Built once per hook.
   *
   * @param name The hook name.
   * @returns The schema, or `null` if the hook is not registered.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * const schema = hookRegistry.getResultSchema("prompt_pre_fetch");
   * console.log(schema?.parse({}).continue_processing); // true
   * ```
   */
  getResultSchema<H extends string>(
    name: H,
  ): Schema<PluginResult<ResultPayloadOf<H>>> | null {
    const entry = this.#entries.get(name);
    if (entry === undefined) return null;
    entry.resultSchema ??= pluginResultSchema(entry.result);
    return entry.resultSchema as Schema<PluginResult<ResultPayloadOf<H>>>;
  }

  /**
   * Whether a hook's plugins return a different type than they receive (true for the HTTP
   * hooks; false for unregistered hooks).
   *
   * @param name The hook name.
   * @returns `true` when the result payload schema is not the payload schema.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * console.log(hookRegistry.isCrossType("http_auth_check_permission")); // true
   * console.log(hookRegistry.isCrossType("tool_pre_invoke")); // false
   * ```
   */
  isCrossType(name: string): boolean {
    const entry = this.#entries.get(name);
    return entry !== undefined && entry.result !== entry.payload;
  }

  /**
   * Which payload-specific condition field applies to a hook, and the payload attribute it is
   * matched against. A registration's `conditionField` wins; otherwise the reference's fixed
   * map applies (spec C47, also for unregistered names such as `token_delegate`); otherwise
   * `null` (payload-specific condition fields are ignored for the hook).
   *
   * @param name The hook name.
   * @returns The target, or `null`.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * console.log(hookRegistry.conditionTarget("prompt_pre_fetch")); // { field: "prompts", attribute: "prompt_id" }
   * console.log(hookRegistry.conditionTarget("http_pre_request")); // null
   * ```
   */
  conditionTarget(name: string): ConditionTarget | null {
    const registered = this.#entries.get(name)?.conditionTarget;
    if (registered) return registered;
    return Object.hasOwn(PAYLOAD_CONDITION_TARGETS, name) ? PAYLOAD_CONDITION_TARGETS[name] : null;
  }

  /**
   * Converts JSON (a string, or an already-parsed object) into a validated payload of a hook:
   * defaults are filled in and unknown fields dropped.
   *
   * @param name The hook name.
   * @param json A JSON text or a plain object.
   * @returns The validated payload.
   * @throws {UnknownHookError} If the hook is not registered.
   * @throws {HookValidationError} If the JSON is malformed or does not match the schema; the
   * error lists every offending field path.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * const p = hookRegistry.parsePayload("prompt_pre_fetch", '{"prompt_id":"p1","args":{"a":"b"}}');
   * console.log(p.args); // { a: "b" }
   * ```
   */
  parsePayload<H extends string>(name: H, json: string | object): PayloadOf<H> {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new UnknownHookError(name, "payload");
    return validate(name, "payload", entry.payload, json) as PayloadOf<H>;
  }

  /**
   * Converts JSON (a string, or an already-parsed object) into a validated
   * {@linkcode PluginResult} of a hook; `modified_payload` must match the hook's result
   * payload schema (or be `null`).
   *
   * @param name The hook name.
   * @param json A JSON text or a plain object.
   * @returns The validated result, defaults filled in.
   * @throws {UnknownHookError} If the hook is not registered.
   * @throws {HookValidationError} If the JSON is malformed or does not match the schema.
   *
   * @example
   * ```ts
   * import { hookRegistry } from "@cpex/core";
   * const r = hookRegistry.parseResult("http_pre_request", {
   *   modified_payload: { "x-tenant": "acme" },
   * });
   * console.log(r.continue_processing); // true
   * ```
   */
  parseResult<H extends string>(name: H, json: string | object): PluginResult<ResultPayloadOf<H>> {
    const schema = this.getResultSchema(name);
    if (schema === null) throw new UnknownHookError(name, "result");
    return validate(name, "result", schema, json);
  }
}

/**
 * Throws {@linkcode HookValidationError} when `value` does not match the payload schema of a
 * registered hook; does nothing for an unregistered hook. Unlike `parsePayload`, a string is a
 * payload (and rejected), never JSON text. Internal: the manager's once-per-invocation check.
 */
export function checkPayload(hooks: HookRegistry, name: string, value: unknown): void {
  const schema = hooks.getPayloadSchema(name);
  if (schema === null || acceptsFast(schema, value)) return;
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  throw new HookValidationError(
    name,
    "payload",
    parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  );
}

function isZodSchema(value: unknown): value is Schema<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === "function";
}

function validate<T>(
  hook: string,
  kind: HookDataKind,
  schema: Schema<T>,
  json: string | object,
): T {
  let input: unknown = json;
  if (typeof json === "string") {
    try {
      input = JSON.parse(json);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new HookValidationError(hook, kind, [{ path: "", message: `Invalid JSON: ${reason}` }]);
    }
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues: HookIssue[] = parsed.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
  }));
  throw new HookValidationError(hook, kind, issues);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * The process-wide default registry, pre-loaded with the 12 built-in hooks. Custom hooks
 * registered here are seen by every manager that uses the default registry.
 *
 * @example
 * ```ts
 * import { hookRegistry } from "@cpex/core";
 * console.log(hookRegistry.isRegistered("http_auth_resolve_user")); // true
 * ```
 */
export const hookRegistry: HookRegistry = new HookRegistry();
registerBuiltinHooks(hookRegistry);

/**
 * Returns the default registry ({@linkcode hookRegistry}); the same instance every time.
 *
 * @returns The default registry.
 *
 * @example
 * ```ts
 * import { getHookRegistry, hookRegistry } from "@cpex/core";
 * console.log(getHookRegistry() === hookRegistry); // true
 * ```
 */
export function getHookRegistry(): HookRegistry {
  return hookRegistry;
}
