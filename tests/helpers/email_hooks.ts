/**
 * A custom hook family that only a manager's own {@linkcode HookRegistry} knows
 * (`email_pre_send`), and a plugin for it. Run as a module it serves that plugin over MCP
 * STDIO with the same registry (what the STDIO case of `manager_own_registry_test.ts` starts):
 * `deno run --no-prompt tests/helpers/email_hooks.ts`.
 *
 * @module
 */
import { z } from "zod";
import { HookRegistry, Plugin, type PluginResult } from "../../mod.ts";
import { ExternalPluginServer } from "../../server.ts";

/** The custom hook. */
export const EMAIL_PRE_SEND = "email_pre_send";

/** The payload of {@linkcode EMAIL_PRE_SEND}; `subject` defaults to "" when absent. */
export interface EmailPayload {
  recipient: string;
  subject: string;
}

/** A fresh registry holding only {@linkcode EMAIL_PRE_SEND} (no built-in hooks). */
export function emailRegistry(): HookRegistry {
  const registry = new HookRegistry();
  registry.register<EmailPayload>(EMAIL_PRE_SEND, {
    payload: z.object({ recipient: z.string(), subject: z.string().default("") }),
  });
  return registry;
}

/**
 * Blocks recipients at `evil.example`; otherwise prefixes the subject with `[checked] `. The
 * subject arrives filled only when the server validated the payload with the registry (its
 * default), so the result shows which registry the server used.
 */
export class EmailGuard extends Plugin {
  email_pre_send(payload: EmailPayload): PluginResult<EmailPayload> {
    if (payload.recipient.endsWith("@evil.example")) {
      return {
        continue_processing: false,
        violation: { reason: "blocked recipient", description: payload.recipient, code: "EVIL" },
      };
    }
    return { modified_payload: { ...payload, subject: `[checked] ${payload.subject}` } };
  }
}

/** The server side: {@linkcode EmailGuard} hosted with {@linkcode emailRegistry}. */
export function emailServer(): ExternalPluginServer {
  return new ExternalPluginServer({
    plugins: [new EmailGuard({ name: "EmailGuard", kind: "inline", hooks: [EMAIL_PRE_SEND] })],
    manager: { hookRegistry: emailRegistry(), logger: { warn: () => {} } },
  });
}

if (import.meta.main) {
  const server = emailServer();
  const handle = await server.serve({ transport: "stdio" });
  await handle.finished;
  await server.close();
}
