/**
 * Capability filtering of the extensions handed to hooks.
 *
 * @module
 */
import type { Extensions } from "../types.ts";

const SUBJECT_CAPS = [
  "read_subject",
  "read_roles",
  "read_teams",
  "read_claims",
  "read_permissions",
];
const SUBJECT_GATED: Record<string, string> = {
  roles: "read_roles",
  teams: "read_teams",
  claims: "read_claims",
  permissions: "read_permissions",
};

/**
 * The view of `extensions` a plugin with `capabilities` may see: `agent` needs `read_agent`,
 * `http` needs `read_headers` or `write_headers`, `delegation` needs `read_delegation` or
 * `append_delegation`, `security.labels` need `read_labels` or `append_labels`, and
 * `security.subject` needs a subject capability (roles, teams, claims and permissions each
 * gated by their own). Other slots are always visible.
 */
export function filterExtensions(
  extensions: Extensions | null | undefined,
  capabilities: ReadonlySet<string>,
): Extensions | null {
  if (!extensions) return null;
  const out: Extensions = {};
  for (const [slot, value] of Object.entries(extensions)) {
    switch (slot) {
      case "agent":
        if (capabilities.has("read_agent")) out[slot] = value;
        break;
      case "http":
        if (capabilities.has("read_headers") || capabilities.has("write_headers")) {
          out[slot] = value;
        }
        break;
      case "delegation":
        if (capabilities.has("read_delegation") || capabilities.has("append_delegation")) {
          out[slot] = value;
        }
        break;
      case "security":
        out[slot] = filterSecurity(value, capabilities);
        break;
      default:
        out[slot] = value;
    }
  }
  return out;
}

function filterSecurity(value: unknown, caps: ReadonlySet<string>): unknown {
  if (!value || typeof value !== "object") return value;
  const security = { ...(value as Record<string, unknown>) };
  if (!caps.has("read_labels") && !caps.has("append_labels")) security.labels = [];
  const subject = security.subject as Record<string, unknown> | null | undefined;
  if (subject && typeof subject === "object") {
    if (!SUBJECT_CAPS.some((c) => caps.has(c))) {
      delete security.subject;
    } else {
      const view: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(subject)) {
        const gate = SUBJECT_GATED[key];
        if (!gate || caps.has(gate)) view[key] = v;
      }
      security.subject = view;
    }
  }
  return security;
}
