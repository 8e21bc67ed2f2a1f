/** The demo's scripted calls as test traffic (issue 17 record, replay and shadow tests). */
import type { GlobalContext } from "../mod.ts";
import { STEPS } from "../examples/demo/script.ts";

/** The demo's calls, cycled to `n`: every 5th through the trusted admin server. */
export function* demoTraffic(n: number): Generator<[string, unknown, GlobalContext, number]> {
  for (let i = 0; i < n; i++) {
    const step = STEPS[i % STEPS.length];
    const ctx: GlobalContext = {
      request_id: `req-${i}`,
      server_id: i % 5 === 0 ? "admin" : "public-gateway",
    };
    yield [step.hook, structuredClone(step.payload), ctx, i % STEPS.length];
  }
}
