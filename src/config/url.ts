/**
 * The URL security check applied to an external plugin's `mcp.url` (spec §2.7): web schemes
 * only, no credentials, no IPv6 literals, no line breaks or markup, a sane port, never
 * `0.0.0.0`, and — while SSRF protection is on (`PLUGINS_SSRF_PROTECTION_ENABLED`, default
 * true) — no private or loopback IPv4 literal (plus 100.64.0.0/10, which the reference misses).
 * gRPC targets get the same address ranges ({@linkcode checkGrpcTarget}), loopback excepted. Host names are not resolved, so
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
  // 100.64.0.0/10 (carrier-grade NAT, incl. the 100.100.100.200 metadata address) is not in the
  // reference's list (issue 9 item 11).
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
}

/** The 8 groups of a WHATWG-serialised IPv6 host (`[...]`, compressed, hex only), or undefined. */
function ipv6Groups(host: string): number[] | undefined {
  if (!host.startsWith("[") || !host.endsWith("]")) return undefined;
  const inner = host.slice(1, -1);
  const [head, tail, extra] = inner.split("::");
  if (extra !== undefined) return undefined;
  const parse = (part: string | undefined) =>
    part ? part.split(":").map((g) => parseInt(g, 16)) : [];
  const left = parse(head);
  const right = parse(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array(fill).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * How a target host (WHATWG-normalised: numeric IPv4 spellings become dotted quads, IPv6 is
 * bracketed and compressed) is classified: `unspecified` (0.0.0.0, ::), `loopback` (127/8, ::1,
 * and their IPv4-mapped forms), `private` (10/8, 172.16/12, 192.168/16, 169.254/16,
 * 100.64/10, IPv6 link-local fe80::/10 and unique-local fc00::/7, IPv4-mapped private), or
 * `public` (anything else, host names included: nothing is resolved).
 */
export function classifyHost(host: string): "unspecified" | "loopback" | "private" | "public" {
  const v6 = ipv6Groups(host);
  let v4 = ipv4(host);
  if (v6) {
    if (v6.every((g) => g === 0)) return "unspecified";
    if (v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1) return "loopback";
    if ((v6[0] & 0xffc0) === 0xfe80 || (v6[0] & 0xfe00) === 0xfc00) return "private";
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses: the IPv4 rules.
    if (v6.slice(0, 5).every((g) => g === 0) && (v6[5] === 0xffff || v6[5] === 0)) {
      v4 = [v6[6] >> 8, v6[6] & 0xff, v6[7] >> 8, v6[7] & 0xff];
    } else return "public";
  }
  if (!v4) return "public";
  if (v4.every((p) => p === 0)) return "unspecified";
  if (v4[0] === 127) return "loopback";
  return isPrivateOrLoopback(v4) ? "private" : "public";
}

/**
 * Checks a gRPC `target` (`host:port`, `[v6]:port`) with the URL rules' address ranges
 * (issue 9 item 11): never an unspecified address, and — while SSRF protection is on — no
 * private, link-local, unique-local or carrier-grade-NAT address in any spelling (decimal, hex,
 * octal IPv4, IPv4-mapped IPv6). Loopback stays allowed, as the reference allows it for gRPC.
 * Nothing is resolved or contacted. Returns the problem, or `undefined`.
 */
export function checkGrpcTarget(target: string, options: UrlCheckOptions = {}): string | undefined {
  const field = options.field ?? "target";
  let host: string;
  try {
    host = new URL(`http://${target}`).hostname;
  } catch {
    return `${field} is not a valid host:port (${JSON.stringify(target)})`;
  }
  const kind = classifyHost(host);
  if (kind === "unspecified") return `${field} contains an unspecified IP address (${host})`;
  if (kind === "private" && (options.ssrfProtection ?? ssrfProtectionEnabled())) {
    return `${field} contains a private, link-local or shared IP address (${host}); ` +
      `use a host name or set PLUGINS_SSRF_PROTECTION_ENABLED=false`;
  }
  return undefined;
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
