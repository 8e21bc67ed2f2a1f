/**
 * An example plugin that masks personal data in tool and prompt arguments and results.
 *
 * It finds e-mail addresses, phone numbers, payment card numbers (only digit runs that pass
 * the Luhn check, so order numbers and timestamps are left alone) and US social security
 * numbers (`123-45-6789`) in every string nested in the payload's `args` (pre hooks) or
 * `result` (post hooks), and returns a masked copy. Payloads are never mutated.
 *
 * ```yaml
 * - name: PiiMasker
 *   kind: ./plugins/pii_masker.ts#PiiMasker
 *   hooks: [tool_pre_invoke, tool_post_invoke, prompt_pre_fetch, prompt_post_fetch]
 *   mode: transform
 *   config: { mask: "[{kind}]", mask_phones: false }
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

const Settings = z.object({
  /** Mask e-mail addresses. */
  mask_emails: z.boolean().default(true),
  /** Mask phone numbers. */
  mask_phones: z.boolean().default(true),
  /** Mask Luhn-valid payment card numbers. */
  mask_cards: z.boolean().default(true),
  /** Mask US social security numbers. */
  mask_ssns: z.boolean().default(true),
  /** Replacement text; `{kind}` becomes EMAIL, PHONE, CARD or SSN. */
  mask: z.string().default("[REDACTED]"),
});

/** The kinds of personal data the masker knows, in matching order. */
const PATTERNS = {
  email: String.raw`[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}`,
  ssn: String.raw`(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)`,
  // 13-19 digits, either contiguous or in the printed groupings (4-4-4-x, Amex 4-6-5).
  card: String
    .raw`(?<!\d)(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{4,5})(?!\d)`,
  phone: String
    .raw`(?<![\w+])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}|(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4})(?!\w)`,
} as const;
type Kind = keyof typeof PATTERNS;

/**
 * Masks e-mail addresses, phone numbers, Luhn-valid card numbers and US SSNs in arguments and
 * results. Returns `modified_payload` only when something was masked, with metadata
 * `{ pii_masked: <count> }`.
 *
 * Config: `mask_emails`, `mask_phones`, `mask_cards`, `mask_ssns` (booleans, default true) and
 * `mask` (default `"[REDACTED]"`; `{kind}` in it is replaced by `EMAIL`, `PHONE`, `CARD` or
 * `SSN`).
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { PiiMasker } from "./pii_masker.ts";
 *
 * const manager = new PluginManager();
 * await manager.registerPlugin(
 *   new PiiMasker({ name: "pii", kind: "example", hooks: ["tool_pre_invoke"], config: { mask: "[{kind}]" } }),
 * );
 * const [result] = await manager.invokeHook(
 *   "tool_pre_invoke",
 *   { name: "send_email", args: { to: "ada@example.com", body: "Call 555-123-4567" } },
 *   { request_id: "r1" },
 * );
 * console.log(result.modified_payload?.args); // { to: "[EMAIL]", body: "Call [PHONE]" }
 * console.log(result.metadata); // { pii_masked: 2 }
 * await manager.shutdown();
 * ```
 */
export class PiiMasker extends Plugin {
  readonly #pattern: RegExp | null;
  readonly #mask: string;

  /** Validates the config and compiles one matcher for the enabled kinds. */
  constructor(config: PluginConfigInput | PluginConfig) {
    super(config);
    const parsed = Settings.safeParse(this.config.config ?? {});
    if (!parsed.success) {
      throw new TypeError(`${this.name}: invalid config: ${z.prettifyError(parsed.error)}`);
    }
    const settings = parsed.data;
    const enabled: Record<Kind, boolean> = {
      email: settings.mask_emails,
      ssn: settings.mask_ssns,
      card: settings.mask_cards,
      phone: settings.mask_phones,
    };
    const kinds = (Object.keys(PATTERNS) as Kind[]).filter((kind) => enabled[kind]);
    // One pass with named alternatives: the first alternative that matches at a position wins,
    // so a card number is never re-read as a phone number.
    this.#pattern = kinds.length === 0
      ? null
      : new RegExp(kinds.map((kind) => `(?<${kind}>${PATTERNS[kind]})`).join("|"), "gu");
    this.#mask = settings.mask;
  }

  /** Masks the tool's arguments. */
  tool_pre_invoke(payload: ToolPreInvokePayload): PluginResult<ToolPreInvokePayload> {
    return this.#maskField(payload, "args");
  }

  /** Masks the tool's result. */
  tool_post_invoke(payload: ToolPostInvokePayload): PluginResult<ToolPostInvokePayload> {
    return this.#maskField(payload, "result");
  }

  /** Masks the prompt's arguments. */
  prompt_pre_fetch(payload: PromptPrehookPayload): PluginResult<PromptPrehookPayload> {
    return this.#maskField(payload, "args");
  }

  /** Masks the rendered prompt. */
  prompt_post_fetch(payload: PromptPosthookPayload): PluginResult<PromptPosthookPayload> {
    return this.#maskField(payload, "result");
  }

  /**
   * Masks every string in `text`; returns the masked text and how many items were masked.
   *
   * @example
   * ```ts
   * import { PiiMasker } from "./pii_masker.ts";
   * const masker = new PiiMasker({ name: "pii", kind: "example" });
   * console.log(masker.maskText("card 4111 1111 1111 1111")); // { text: "card [REDACTED]", count: 1 }
   * ```
   */
  maskText(text: string): { text: string; count: number } {
    if (!this.#pattern) return { text, count: 0 };
    let count = 0;
    const masked = text.replace(this.#pattern, (match: string, ...rest: unknown[]) => {
      const groups = rest[rest.length - 1] as Record<Kind, string | undefined>;
      const kind = (Object.keys(groups) as Kind[]).find((k) => groups[k] !== undefined)!;
      if (kind === "card" && !luhnValid(match)) return match;
      if (kind === "phone" && !plausiblePhone(match)) return match;
      count++;
      return this.#mask.replaceAll("{kind}", kind.toUpperCase());
    });
    return { text: masked, count };
  }

  #maskField<P extends object, K extends keyof P & string>(payload: P, field: K): PluginResult<P> {
    let count = 0;
    const visit = (value: unknown): unknown => {
      if (typeof value === "string") {
        const masked = this.maskText(value);
        count += masked.count;
        return masked.count ? masked.text : value;
      }
      if (Array.isArray(value)) {
        let changed = false;
        const out = value.map((item) => {
          const next = visit(item);
          if (next !== item) changed = true;
          return next;
        });
        return changed ? out : value;
      }
      if (value !== null && typeof value === "object" && isPlainObject(value)) {
        let changed = false;
        const out: Record<string, unknown> = {};
        for (const [key, item] of Object.entries(value)) {
          const next = visit(item);
          if (next !== item) changed = true;
          out[key] = next;
        }
        return changed ? out : value;
      }
      return value;
    };
    const before = payload[field];
    const after = visit(before);
    if (after === before) return {};
    const modified = { ...payload, [field]: after } as P;
    return { modified_payload: modified, metadata: { pii_masked: count } };
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The Luhn (mod 10) check used by payment card numbers; spaces and dashes are ignored.
 *
 * @example
 * ```ts
 * import { luhnValid } from "./pii_masker.ts";
 * console.log(luhnValid("4111 1111 1111 1111"), luhnValid("4111 1111 1111 1112")); // true false
 * ```
 */
export function luhnValid(number: string): boolean {
  const digits = number.replace(/[ -]/g, "");
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** International numbers need 8 to 15 digits (E.164); national ones are matched as 3-3-4. */
function plausiblePhone(text: string): boolean {
  const digits = text.replace(/\D/g, "").length;
  return digits >= 10 && digits <= 15 || (text.startsWith("+") && digits >= 8 && digits <= 15);
}
