/**
 * Scenario helpers shared by the direction-B interop suites (`unix_`, `grpc_`,
 * `mcp_client_interop_test.ts`), where OUR `PluginManager` is the gateway in front of the Python
 * reference's plugin runtimes: the request's global context and payload, the PluginError
 * expectation and the ten-concurrent-calls check.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type GlobalContext,
  type ObservabilityProvider,
  PluginError,
  type PluginManager,
} from "../../mod.ts";

/** The sanitizer options every interop test runs with. */
export const SANITIZE: { sanitizeOps: true; sanitizeResources: true } = {
  sanitizeOps: true,
  sanitizeResources: true,
};

/**
 * The global context of the scenarios' requests.
 *
 * @example
 * ```ts
 * import { globalContext } from "./gateway_scenarios.ts";
 * console.log(globalContext().request_id); // "req-1"
 * ```
 */
export function globalContext(): GlobalContext {
  return { request_id: "req-1", server_id: "srv-1", tenant_id: "ten-1", user: "alice" };
}

/** The `tool_pre_invoke` payload of the scenarios. */
export const PRE_PAYLOAD: { name: string; args: { q: string; n: number; tags: string[] } } = {
  name: "search",
  args: { q: "hello", n: 3, tags: ["a", "b"] },
};

/**
 * Awaits `promise` and returns the PluginError it rejects with; fails when it resolves or
 * rejects with anything else.
 *
 * @example
 * ```ts
 * import { PluginError } from "../../mod.ts";
 * import { expectPluginError } from "./gateway_scenarios.ts";
 * const error = await expectPluginError(
 *   Promise.reject(new PluginError({ message: "x", plugin_name: "p" })),
 * );
 * console.log(error.message); // "x"
 * ```
 */
export async function expectPluginError(promise: Promise<unknown>): Promise<PluginError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginError, `expected a PluginError, got ${error}`);
    return error;
  }
  assert.fail("expected the hook to fail with a PluginError");
}

/**
 * Sends ten concurrent `tool_pre_invoke` calls to the reference's `Echo` plugin (each sleeping
 * 0.4 s) and asserts each gets its own reply and that they ran in parallel (under 3 s).
 *
 * @example
 * ```ts ignore
 * await withGateway([{ name: "Echo" }], (manager) => assertConcurrentEchoReplies(manager));
 * ```
 */
export async function assertConcurrentEchoReplies(manager: PluginManager): Promise<void> {
  const calls = 10;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: calls }, (_, i) =>
      manager.invokeHook(
        "tool_pre_invoke",
        { name: "echo", args: { i, sleep: 0.4 } },
        { request_id: `r-${i}` },
      )),
  );
  const elapsed = performance.now() - started;
  results.forEach(([result], i) => {
    assert.deepEqual(result.metadata, {
      args: { i, sleep: 0.4 },
      user: null,
      request_id: `r-${i}`,
    });
  });
  // One at a time would take 10 x 0.4 s.
  assert.ok(elapsed < 3_000, `10 concurrent calls took ${Math.round(elapsed)} ms`);
}

/**
 * Asserts the violation of the `Block` test plugins (in either direction): code `DENY_WORD`,
 * reason, description, details, both error codes, and the `plugin_name` the gateway's executor
 * stamped from its own config (never on the wire).
 *
 * @example
 * ```ts ignore
 * assertDenyWordViolation(result.violation);
 * ```
 */
export function assertDenyWordViolation(violation: unknown): void {
  const v = violation as Record<string, unknown>;
  assert.equal(v.code, "DENY_WORD");
  assert.equal(v.reason, "Denied word");
  assert.equal(v.description, "argument q of search contains a denied word");
  assert.deepEqual(v.details, {
    word: "hello",
    positions: [0, 4],
    nested: { strict: true },
  });
  assert.equal(v.mcp_error_code, -32001);
  assert.equal(v.http_status_code, 403);
  assert.equal(v.plugin_name, "Block");
}

/** The W3C trace context the traced interop calls send (issue 15). */
export const TRACE_CONTEXT: Readonly<Record<string, string>> = Object.freeze({
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  tracestate: "cpex=interop",
});

/**
 * A tracing provider whose every span has {@linkcode TRACE_CONTEXT}: external plugins then send
 * it (gRPC metadata, MCP `_meta`); `sent` counts how often the transport asked for it.
 */
export function tracingProvider(): ObservabilityProvider & { sent: number } {
  const provider = {
    sent: 0,
    startSpan: () => "span",
    endSpan: () => {},
    traceContext: () => {
      provider.sent++;
      return { ...TRACE_CONTEXT };
    },
  };
  return provider;
}
