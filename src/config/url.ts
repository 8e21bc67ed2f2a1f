/**
 * The URL security check applied to an external plugin's `mcp.url` (spec §2.7): web schemes
 * only, no credentials, no IPv6 literals, no line breaks or markup, a sane port, never
 * `0.0.0.0`, and — while SSRF protection is on (`PLUGINS_SSRF_PROTECTION_ENABLED`, default
 * true) — no private or loopback IPv4 literal. Host names are not resolved, so
 * `http://localhost:3001/mcp` passes and `http://127.0.0.1:3001/mcp` does not.
 *
 * Unlike the reference, hosts are read with the WHATWG URL parser, which also normalises
 * numeric IPv4 spellings (`http://2130706433/`, `http://0x7f.1/`) before the range check.
 *
 * @module
 */
import { readEnv } from "./env.ts";
import { toBoolean } from "./scalars.ts";

/** Options of {@linkcode checkUrl}. */
export interface UrlCheckOptions {
  /** Name used at the start of messages (default `URL`). */
  field?: string;
  /** Overrides PLUGINS_SSRF_PROTECTION_ENABLED. */
  ssrfProtection?: boolean;
}

/** Longest accepted URL. */
export const MAX_URL_LENGTH = 2048;

const ALLOWED_SCHEMES = ["http://", "https://", "ws://", "wss://"];
const DANGEROUS_PROTOCOLS = [
  "javascript:",
  "data:",
  "vbscript:",
  "about:",
  "chrome:",
  "file:",
  "ftp:",
  "mailto:",
];
const MARKUP =
  /<\s*\/?\s*(script|iframe|object|embed|applet|svg|img|link|meta|style|form|base|body|html|frame|frameset)\b/i;
const EVENT_HANDLER =
  /\bon(load|unload|error|abort|click|dblclick|mouse\w*|key\w*|focus\w*|blur|submit|change|input|reset|select|resize|scroll|drag\w*|drop|touch\w*|pointer\w*|animation\w*|transition\w*|begin|end|toggle|wheel|copy|cut|paste|contextmenu|message|hashchange|popstate|storage|beforeunload)\s*=/i;
const SCRIPT_PATTERNS = /(expression\s*\(|eval\s*\(|document\.(cookie|write)|window\.location)/i;

/**
 * Whether SSRF protection is on: PLUGINS_SSRF_PROTECTION_ENABLED parsed as a boolean, true when
 * unset, empty, unreadable or malformed (fail closed).
 */
export function ssrfProtectionEnabled(): boolean {
  const raw = readEnv("PLUGINS_SSRF_PROTECTION_ENABLED");
  if (raw === undefined || raw.trim() === "") return true;
  return toBoolean(raw) ?? true;
}

function ipv4(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

function isPrivateOrLoopback([a, b]: number[]): boolean {
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) || (a === 169 && b === 254);
}

/**
 * Checks a URL; returns the problem (starting with the field name) or `undefined` when the URL
 * is acceptable.
 */
export function checkUrl(url: string, options: UrlCheckOptions = {}): string | undefined {
  const field = options.field ?? "URL";
  if (url === "") return `${field} cannot be empty`;
  if (url.length > MAX_URL_LENGTH) {
    return `${field} exceeds maximum length of ${MAX_URL_LENGTH} characters`;
  }
  const lower = url.toLowerCase();
  if (!ALLOWED_SCHEMES.some((s) => lower.startsWith(s))) {
    return `${field} must start with one of: ${ALLOWED_SCHEMES.join(", ")}`;
  }
  if (DANGEROUS_PROTOCOLS.some((p) => lower.includes(p))) {
    return `${field} contains an unsupported or potentially dangerous protocol`;
  }
  if (url.includes("[") || url.includes("]")) {
    return `${field} contains an IPv6 address, which is not supported`;
  }
  if (url.includes("\r") || url.includes("\n")) return `${field} contains line breaks`;
  const q = url.indexOf("?");
  if ((q < 0 ? url : url.slice(0, q)).includes(" ")) return `${field} contains spaces`;
  if (MARKUP.test(url) || EVENT_HANDLER.test(url) || SCRIPT_PATTERNS.test(url)) {
    return `${field} contains HTML tags or script patterns`;
  }

  // Authority as written, to report credentials and bad ports before WHATWG normalisation.
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? "";
  if (authority.includes("@")) return `${field} contains credentials`;
  const portText = /:([^:]*)$/.exec(authority)?.[1];
  if (portText !== undefined && portText !== "") {
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return `${field} port must be between 1 and 65535`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${field} is not a valid URL`;
  }
  if (parsed.hostname === "") return `${field} must have a host`;
  if (parsed.username !== "" || parsed.password !== "") return `${field} contains credentials`;
  const host = parsed.hostname;
  if (host === "0.0.0.0") return `${field} contains an invalid IP address (0.0.0.0)`;
  const ip = ipv4(host);
  if (ip && isPrivateOrLoopback(ip) && (options.ssrfProtection ?? ssrfProtectionEnabled())) {
    return `${field} contains a private or loopback IP address (${host}); ` +
      `use a host name or set PLUGINS_SSRF_PROTECTION_ENABLED=false`;
  }
  return undefined;
}
