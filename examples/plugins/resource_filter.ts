/**
 * An example plugin that guards resource fetches: before the fetch it checks the URI's
 * protocol and domain, after the fetch it limits the content's size and redacts secrets in its
 * text (the reference docs' resource filter).
 *
 * ```yaml
 * - name: ResourceFilter
 *   kind: ./plugins/resource_filter.ts#ResourceFilter
 *   hooks: [resource_pre_fetch, resource_post_fetch]
 *   mode: sequential
 *   config:
 *     allowed_protocols: [https, http]
 *     blocked_domains: [tracker.example]        # also blocks cdn.tracker.example
 *     max_content_size: 65536                   # bytes of text (UTF-8) and decoded blobs
 *     content_filters:
 *       - { pattern: 'api[_-]?key\s*[:=]\s*\S+', replacement: "api_key: [REDACTED]", flags: i }
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
  type PluginViolation,
  type ResourcePostFetchPayload,
  type ResourcePreFetchPayload,
} from "../../mod.ts";

const protocol = z.string().trim().min(1).transform((p) => p.toLowerCase().replace(/:(\/\/)?$/, ""))
  .refine((p) => /^[a-z][a-z0-9+.-]*$/.test(p), "expected a URI scheme such as https");

const domain = z.string().trim().min(1).transform((d) =>
  d.toLowerCase().replace(/^\*?\./, "").replace(/\.$/, "")
).refine((d) => d !== "" && !/[\s/:@]/.test(d), "expected a domain name such as example.com");

const Filter = z.object({
  /** A JavaScript regular expression; every match is replaced. */
  pattern: z.string().min(1, "must not be empty"),
  /** What replaces a match (`$1` etc. refer to groups). */
  replacement: z.string().default("[REDACTED]"),
  /** Extra RegExp flags, e.g. `i`. */
  flags: z.string().regex(/^[imsuv]*$/, "only the flags i, m, s, u and v are allowed").default(""),
}).strict().superRefine((filter, ctx) => {
  try {
    new RegExp(filter.pattern, `g${filter.flags}`);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      path: ["pattern"],
      message: `invalid regular expression: ${(error as Error).message}`,
    });
  }
});

const Settings = z.object({
  /** URI schemes that may be fetched; an empty list allows every scheme. */
  allowed_protocols: z.array(protocol).default(["http", "https"]),
  /** Domains that may not be fetched, subdomains included. */
  blocked_domains: z.array(domain).default([]),
  /** Largest accepted content in bytes. */
  max_content_size: z.number().int().positive().default(1_048_576),
  /** Redactions applied in order to the content's text. */
  content_filters: z.array(Filter).default([]),
}).strict();

/**
 * Blocks `resource_pre_fetch` for a URI that does not parse (`INVALID_URI`), whose scheme is
 * not in `allowed_protocols` (`PROTOCOL_BLOCKED`) or whose host is, or is a subdomain of, one
 * of `blocked_domains` (`DOMAIN_BLOCKED`). In `resource_post_fetch` it blocks content larger
 * than `max_content_size` bytes (`CONTENT_TOO_LARGE`) and applies `content_filters` to the
 * content's text, returning `modified_payload` (and metadata `{ redactions: <count> }`) only
 * when something was redacted.
 *
 * The content may be a string, an object with a `text` (and/or base64 `blob`) field as in an
 * MCP resource content, an object with a `contents` list of those (an MCP read result), or a
 * list of any of these.
 *
 * @example
 * ```ts
 * import { PluginManager } from "@cpex/core";
 * import { ResourceFilter } from "./resource_filter.ts";
 *
 * const manager = new PluginManager();
 * await manager.registerPlugin(
 *   new ResourceFilter({
 *     name: "ResourceFilter",
 *     kind: "example",
 *     hooks: ["resource_pre_fetch"],
 *     config: { blocked_domains: ["evil.example"] },
 *   }),
 * );
 * const [result] = await manager.invokeHook(
 *   "resource_pre_fetch",
 *   { uri: "https://cdn.evil.example/x.js" },
 *   { request_id: "r1" },
 * );
 * console.log(result.violation?.code); // "DOMAIN_BLOCKED"
 * await manager.shutdown();
 * ```
 */
export class ResourceFilter extends Plugin {
  /** Allowed URI schemes, lower-case, without `:`. */
  readonly allowedProtocols: readonly string[];
  /** Blocked domains, lower-case. */
  readonly blockedDomains: readonly string[];
  /** The content size limit in bytes. */
  readonly maxContentSize: number;
  readonly #filters: readonly { pattern: RegExp; replacement: string }[];

  /** Validates the config; throws a `TypeError` naming every invalid field. */
  constructor(config: PluginConfigInput | PluginConfig) {
    super(config);
    const parsed = Settings.safeParse(this.config.config ?? {});
    if (!parsed.success) {
      throw new TypeError(`${this.name}: invalid config: ${z.prettifyError(parsed.error)}`);
    }
    const settings = parsed.data;
    this.allowedProtocols = settings.allowed_protocols;
    this.blockedDomains = settings.blocked_domains;
    this.maxContentSize = settings.max_content_size;
    this.#filters = settings.content_filters.map((f) => ({
      pattern: new RegExp(f.pattern, `g${f.flags}`),
      replacement: f.replacement,
    }));
  }

  /** Checks the URI's protocol and domain. */
  resource_pre_fetch(payload: ResourcePreFetchPayload): PluginResult<ResourcePreFetchPayload> {
    let url: URL;
    try {
      url = new URL(payload.uri);
    } catch {
      return block({
        reason: "Invalid URI",
        description: `Resource URI ${JSON.stringify(payload.uri)} cannot be parsed`,
        code: "INVALID_URI",
        details: { uri: payload.uri },
      });
    }
    const scheme = url.protocol.slice(0, -1).toLowerCase();
    if (this.allowedProtocols.length > 0 && !this.allowedProtocols.includes(scheme)) {
      return block({
        reason: "Protocol not allowed",
        description: `Protocol '${scheme}' is not allowed; allowed: ${
          this.allowedProtocols.join(", ")
        }`,
        code: "PROTOCOL_BLOCKED",
        details: { protocol: scheme, allowed_protocols: [...this.allowedProtocols] },
      });
    }
    const host = url.hostname.toLowerCase().replace(/\.$/, "");
    const blocked = host === ""
      ? undefined
      : this.blockedDomains.find((d) => host === d || host.endsWith(`.${d}`));
    if (blocked !== undefined) {
      return block({
        reason: "Domain blocked",
        description: `Domain '${host}' is blocked (${blocked})`,
        code: "DOMAIN_BLOCKED",
        details: { domain: host, blocked_domain: blocked },
      });
    }
    return {};
  }

  /** Limits the content's size and redacts its text. */
  resource_post_fetch(payload: ResourcePostFetchPayload): PluginResult<ResourcePostFetchPayload> {
    const size = contentSize(payload.content);
    if (size > this.maxContentSize) {
      return block({
        reason: "Content too large",
        description: `Resource content is ${size} bytes; the limit is ${this.maxContentSize}`,
        code: "CONTENT_TOO_LARGE",
        details: { size, max_content_size: this.maxContentSize, uri: payload.uri },
      });
    }
    if (this.#filters.length === 0) return {};
    let redactions = 0;
    const content = mapTexts(payload.content, (text) => {
      let out = text;
      for (const { pattern, replacement } of this.#filters) {
        const matches = out.match(pattern)?.length ?? 0;
        if (matches === 0) continue;
        redactions += matches;
        out = out.replace(pattern, replacement);
      }
      return out;
    });
    if (content === payload.content) return {};
    return { modified_payload: { ...payload, content }, metadata: { redactions } };
  }
}

function block(violation: PluginViolation): PluginResult<never> {
  return { continue_processing: false, violation };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const encoder = new TextEncoder();

/** The texts of a content, wherever the shapes listed on the class put them. */
function mapTexts(content: unknown, rewrite: (text: string) => string): unknown {
  if (typeof content === "string") return rewrite(content);
  if (Array.isArray(content)) {
    const out = content.map((item) => mapTexts(item, rewrite));
    return out.some((item, i) => item !== content[i]) ? out : content;
  }
  if (!isObj(content)) return content;
  let out: Obj = content;
  if (typeof content.text === "string") {
    const text = rewrite(content.text);
    if (text !== content.text) out = { ...out, text };
  }
  if (Array.isArray(content.contents)) {
    const contents = mapTexts(content.contents, rewrite);
    if (contents !== content.contents) out = { ...out, contents };
  }
  return out;
}

/** UTF-8 bytes of every text plus the decoded size of every base64 `blob`. */
function contentSize(content: unknown): number {
  if (typeof content === "string") return encoder.encode(content).length;
  if (Array.isArray(content)) return content.reduce((n: number, c) => n + contentSize(c), 0);
  if (!isObj(content)) return 0;
  let size = 0;
  if (typeof content.text === "string") size += encoder.encode(content.text).length;
  if (typeof content.blob === "string") {
    const b64 = content.blob.replace(/\s+/g, "");
    size += Math.floor(b64.length * 3 / 4) - (b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0);
  }
  if (Array.isArray(content.contents)) size += contentSize(content.contents);
  return size;
}
