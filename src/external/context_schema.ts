/**
 * Validation of plugin contexts received from the wire (MCP tool arguments, decoded protobuf).
 *
 * @module
 */
import { z } from "zod";
import type { PluginContextData } from "../types.ts";

const record = z.record(z.string(), z.unknown());

const userContext = z.object({
  user_id: z.string(),
  email: z.string().nullish(),
  full_name: z.string().nullish(),
  is_admin: z.boolean().optional(),
  groups: z.array(z.string()).optional(),
  roles: z.array(z.string()).optional(),
  team_id: z.string().nullish(),
  teams: z.array(z.string()).nullish(),
  department: z.string().nullish(),
  attributes: record.optional(),
  auth_method: z.string().nullish(),
  authenticated_at: z.string().nullish(),
  service_account: z.string().nullish(),
  delegation_chain: z.array(z.string()).optional(),
}).passthrough();

const globalContext = z.object({
  request_id: z.string({ error: "request_id is required and must be a string" }),
  user: z.union([z.string(), record]).nullish(),
  user_context: userContext.nullish(),
  tenant_id: z.string().nullish(),
  server_id: z.string().nullish(),
  // deno-lint-ignore no-control-regex
  content_type: z.string().max(200).regex(/^[^\x00-\x1f\x7f]*$/, "must be printable").nullish(),
  state: record.nullish(),
  metadata: record.nullish(),
});

const pluginContext = z.object({
  global_context: globalContext,
  state: record.nullish(),
  metadata: record.nullish(),
});

/**
 * Validates a context received from a gateway; throws a `TypeError` naming the field.
 */
export function parseContext(input: unknown): PluginContextData {
  const parsed = pluginContext.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.length ? issue.path.join(".") : "context";
    throw new TypeError(`Invalid context at ${path}: ${issue.message}`);
  }
  const c = parsed.data;
  const g = c.global_context;
  return {
    global_context: {
      request_id: g.request_id,
      user: g.user ?? null,
      user_context: (g.user_context ?? null) as PluginContextData["global_context"]["user_context"],
      tenant_id: g.tenant_id ?? null,
      server_id: g.server_id ?? null,
      content_type: g.content_type ?? null,
      state: g.state ?? {},
      metadata: g.metadata ?? {},
    },
    state: c.state ?? {},
    metadata: c.metadata ?? {},
  };
}
