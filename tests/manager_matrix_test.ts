/**
 * The full mode × outcome × on_error matrix: for every plugin mode (sequential, transform,
 * audit, concurrent, fire_and_forget), every outcome of its hook (allow, modify, block, throw,
 * time out) and every `on_error` (fail, ignore, disable), one test asserts the exact hook
 * result, the thrown `PluginError`, the runtime-disabled set, the background task errors and
 * the subject's execution record. The expected table is built from the spec (C13–C16, C20–C28,
 * C35–C41) plus our deliberate fixes (Q1, Q5, Q6).
 *
 * Every case registers the subject (priority 10) and a "witness" AUDIT plugin (priority 1000)
 * that runs after every serial subject, so the table also says whether the chain went on.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type ExecutionStatus,
  type OnError,
  PluginError,
  type PluginErrorModel,
  type PluginMode,
} from "../mod.ts";
import { executorOf } from "../src/manager/manager.ts";
import {
  type Behavior,
  block,
  gctx,
  hang,
  makeManager,
  recordOf,
  rejection,
  ScriptedPlugin,
  toolPayload,
} from "./helpers/plugins.ts";

type Outcome = "allow" | "modify" | "block" | "throw" | "timeout";

const MODES: PluginMode[] = ["sequential", "transform", "audit", "concurrent", "fire_and_forget"];
const OUTCOMES: Outcome[] = ["allow", "modify", "block", "throw", "timeout"];
const ON_ERRORS: OnError[] = ["fail", "ignore", "disable"];

const TIMEOUT = 0.05;
const MODIFIED = { name: "search", args: { query: "changed" }, headers: null };

const SUBJECT_NAME: Record<Outcome, string> = {
  allow: "allower",
  modify: "modifier",
  block: "blocker",
  throw: "boom",
  timeout: "slow",
};

const BEHAVIOUR: Record<Outcome, Behavior> = {
  allow: () => ({}),
  modify: (p) => ({ modified_payload: { ...p, args: { query: "changed" } } }),
  block: () => block("BLOCKED"),
  throw: () => {
    throw new Error("boom");
  },
  timeout: (_p, _c, { signal }) => hang(signal),
};

interface Expected {
  /** Message of the PluginError invokeHook throws, or null when it returns. */
  throws: string | null;
  continue_processing: boolean;
  modified_payload: unknown;
  violationCode: string | null;
  runtimeDisabled: string[];
  backgroundErrors: PluginErrorModel[];
  status: ExecutionStatus;
  /** Whether the AUDIT witness (priority 1000) ran. */
  witnessRan: boolean;
  /** The payload the witness saw, when it ran. */
  witnessSaw: unknown;
}

function expected(mode: PluginMode, outcome: Outcome, onError: OnError): Expected {
  const name = SUBJECT_NAME[outcome];
  const fails = outcome === "throw" || outcome === "timeout";
  const serial = mode === "sequential" || mode === "transform" || mode === "audit";
  const base: Expected = {
    throws: null,
    continue_processing: true,
    modified_payload: null,
    violationCode: null,
    runtimeDisabled: [],
    backgroundErrors: [],
    status: "completed",
    witnessRan: true,
    witnessSaw: toolPayload(),
  };
  if (mode === "fire_and_forget") {
    // C28: errors and timeouts are swallowed into the task's result whatever on_error says;
    // disable still disables. C41: the spawn record is a "completed" placeholder.
    if (!fails) return base;
    return {
      ...base,
      runtimeDisabled: onError === "disable" ? [name] : [],
      backgroundErrors: [{
        message: outcome === "throw" ? "Error('boom')" : "TimeoutError()",
        plugin_name: name,
      }],
    };
  }
  if (fails) {
    // C23/C24 + Q5: ignore/disable go on and record error/timeout; fail raises (C38, Q6).
    const status: ExecutionStatus = outcome === "throw" ? "error" : "timeout";
    if (onError === "fail") {
      return {
        ...base,
        throws: outcome === "throw" ? "Error('boom')" : `Plugin slow exceeded ${TIMEOUT}s timeout`,
        status,
        witnessRan: !serial,
      };
    }
    return { ...base, status, runtimeDisabled: onError === "disable" ? [name] : [] };
  }
  if (outcome === "modify") {
    // C11: SEQUENTIAL and TRANSFORM modifications chain; C13/C20: AUDIT/CONCURRENT discarded.
    const applied = mode === "sequential" || mode === "transform";
    return {
      ...base,
      modified_payload: applied ? MODIFIED : null,
      witnessSaw: applied ? MODIFIED : toolPayload(),
    };
  }
  if (outcome === "block") {
    // C15/C20: SEQUENTIAL and CONCURRENT halt; C13/C14: TRANSFORM and AUDIT cannot.
    if (mode === "sequential") {
      return { ...base, continue_processing: false, violationCode: "BLOCKED", witnessRan: false };
    }
    if (mode === "concurrent") {
      return { ...base, continue_processing: false, violationCode: "BLOCKED" };
    }
  }
  return base;
}

for (const mode of MODES) {
  for (const outcome of OUTCOMES) {
    for (const onError of ON_ERRORS) {
      const want = expected(mode, outcome, onError);
      const name = SUBJECT_NAME[outcome];
      const verdict = want.throws !== null
        ? `throws PluginError "${want.throws}"`
        : `continue=${want.continue_processing}` +
          (want.modified_payload ? ", payload modified" : "") +
          (want.violationCode ? ", violation" : "") +
          (want.runtimeDisabled.length ? ", plugin disabled" : "") +
          (want.backgroundErrors.length ? ", background error" : "");
      Deno.test(`matrix: ${mode} plugin that ${outcome}s with on_error=${onError} -> ${verdict}`, async () => {
        const subject = new ScriptedPlugin({
          name,
          hooks: ["tool_pre_invoke"],
          mode,
          on_error: onError,
          priority: 10,
        }, BEHAVIOUR[outcome]);
        const witness = new ScriptedPlugin({
          name: "witness",
          hooks: ["tool_pre_invoke"],
          mode: "audit",
          priority: 1000,
        });
        const manager = await makeManager([subject, witness], { timeout: TIMEOUT });
        try {
          const invoke = () => manager.invokeHook("tool_pre_invoke", toolPayload(), gctx());

          if (want.throws !== null) {
            const error = await rejection(invoke());
            assert.ok(error instanceof PluginError, `expected PluginError, got ${error}`);
            assert.equal(error.message, want.throws);
            assert.equal(error.error.message, want.throws);
            assert.equal(error.error.plugin_name, name);
            const executions = (error as PluginError & { executions?: unknown[] }).executions;
            const record = recordOf(executions as never, name);
            assert.equal(record.status, want.status);
            assert.equal(record.effective_allow, false);
            assert.equal(witness.callCount, want.witnessRan ? 1 : 0);
            assert.deepEqual([...executorOf(manager).runtimeDisabled], []);
            return;
          }

          const [result] = await invoke();
          const backgroundErrors = await result.waitForBackgroundTasks();
          assert.equal(result.continue_processing, want.continue_processing);
          assert.deepEqual(result.modified_payload, want.modified_payload);
          assert.equal(result.violation?.code ?? null, want.violationCode);
          if (want.violationCode) assert.equal(result.violation?.plugin_name, name);
          assert.deepEqual(backgroundErrors, want.backgroundErrors);
          assert.equal(result.background_tasks.length, mode === "fire_and_forget" ? 1 : 0);
          assert.deepEqual([...executorOf(manager).runtimeDisabled], want.runtimeDisabled);
          assert.equal(subject.callCount, 1);

          const record = recordOf(result.executions, name);
          assert.equal(record.mode, mode);
          assert.equal(record.status, want.status);
          if (want.status === "error") {
            assert.equal(record.error_code, "plugin_error");
            assert.equal(record.reason, "Error('boom')");
          }
          if (want.status === "timeout") {
            assert.equal(record.error_code, "plugin_timeout");
            assert.equal(record.reason, `Plugin slow exceeded ${TIMEOUT}s timeout`);
          }
          if (want.violationCode) assert.equal(record.effective_allow, false);

          assert.equal(witness.callCount, want.witnessRan ? 1 : 0);
          if (want.witnessRan) assert.deepEqual(witness.calls[0].payload, want.witnessSaw);

          if (want.runtimeDisabled.length) {
            // C25: a runtime-disabled plugin is skipped by later invocations (no record).
            const [again] = await invoke();
            await again.waitForBackgroundTasks();
            assert.equal(subject.callCount, 1);
            assert.equal(again.executions.some((r) => r.plugin_name === name), false);
          }
        } finally {
          await manager.shutdown();
        }
      });
    }
  }
}
