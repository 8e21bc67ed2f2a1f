# -*- coding: utf-8 -*-
"""Runs differential-suite scenarios through the reference's plugin manager (cpex 0.1.4).

Usage: `.venv/bin/python tests/conformance/manager_driver.py [concurrency]`. Reads one JSON
scenario per stdin line (`{"id", "yaml_path", "timeout", "requests", "calls"}`), writes one JSON
line per scenario (`{"id", "outcome"}`) in completion order, then `{"done": true}`. Up to
`concurrency` scenarios run at once (each on its own TenantPluginManager, so no Borg state is
shared).

The outcome has the shape our side (manager_diff_test.ts) produces; compare.ts normalises both.
"""

import asyncio
import copy
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

logging.disable(logging.CRITICAL)

from pydantic import BaseModel  # noqa: E402

from cpex.framework import (  # noqa: E402
    AgentPostInvokePayload,
    AgentPreInvokePayload,
    GlobalContext,
    HttpAuthCheckPermissionPayload,
    HttpAuthResolveUserPayload,
    HttpPostRequestPayload,
    HttpPreRequestPayload,
    PromptPosthookPayload,
    PromptPrehookPayload,
    ResourcePostFetchPayload,
    ResourcePreFetchPayload,
    TenantPluginManager,
    ToolPostInvokePayload,
    ToolPreInvokePayload,
)
from cpex.framework.errors import PluginError, PluginViolationError  # noqa: E402
from cpex.framework.hooks.policies import HookPayloadPolicy  # noqa: E402
from cpex.framework.observability import current_trace_id  # noqa: E402

import behaviour_plugin  # noqa: E402

PAYLOADS = {
    "tool_pre_invoke": ToolPreInvokePayload,
    "tool_post_invoke": ToolPostInvokePayload,
    "prompt_pre_fetch": PromptPrehookPayload,
    "prompt_post_fetch": PromptPosthookPayload,
    "resource_pre_fetch": ResourcePreFetchPayload,
    "resource_post_fetch": ResourcePostFetchPayload,
    "agent_pre_invoke": AgentPreInvokePayload,
    "agent_post_invoke": AgentPostInvokePayload,
    "http_pre_request": HttpPreRequestPayload,
    "http_post_request": HttpPostRequestPayload,
    "http_auth_resolve_user": HttpAuthResolveUserPayload,
    "http_auth_check_permission": HttpAuthCheckPermissionPayload,
    behaviour_plugin.CUSTOM_HOOK: behaviour_plugin.CustomPayload,
}
behaviour_plugin.BehaviourPlugin.payload_classes = PAYLOADS


class Spans:
    """Records every span start and end."""

    def __init__(self):
        self.spans = []

    def start_span(self, trace_id, name, kind=None, resource_type=None, resource_name=None, attributes=None):
        self.spans.append({"name": name, "status": None, "attributes": dict(attributes or {})})
        return str(len(self.spans) - 1)

    def end_span(self, span_id, status="ok", attributes=None):
        span = self.spans[int(span_id)]
        span["status"] = status
        span["end"] = dict(attributes or {})


def dump(value):
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return copy.deepcopy(value)


def shrink(value):
    """Replaces strings longer than 1,000 code points by `<str:N>` (big-payload scenarios)."""
    if isinstance(value, str):
        return f"<str:{len(value)}>" if len(value) > 1000 else value
    if isinstance(value, list):
        return [shrink(v) for v in value]
    if isinstance(value, dict):
        return {k: shrink(v) for k, v in value.items()}
    return value


def violation_of(v):
    if v is None:
        return None
    out = v.model_dump(mode="json")
    out["plugin_name"] = v.plugin_name  # a private attribute: not in the dump
    return out


def records_of(executions):
    out = []
    for r in executions or []:
        d = r.model_dump(mode="json")
        out.append(
            {
                k: d.get(k)
                for k in (
                    "plugin_name",
                    "mode",
                    "status",
                    "requested_allow",
                    "effective_allow",
                    "matched",
                    "applied",
                    "payload_modified",
                    "error_code",
                    "reason",
                )
            }
        )
    return out


def error_of(exc):
    out = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, PluginError):
        out["plugin_name"] = exc.error.plugin_name
        out["message"] = exc.error.message
    if isinstance(exc, PluginViolationError):
        out["violation"] = violation_of(exc.violation)
        out["records"] = records_of(getattr(exc, "executions", None))
    return out


async def settle_background(current):
    """Waits for every task the call left behind (the reference's abandoned siblings: Q6)."""
    for _ in range(100):
        others = [t for t in asyncio.all_tasks() if t is not current and not t.done() and getattr(t, "_cpex_owner", None) is current]
        if not others:
            return
        await asyncio.gather(*others, return_exceptions=True)


async def run_scenario(sc):
    current_trace_id.set("conformance-trace")
    spans = Spans()
    out = {"load_error": None, "calls": []}
    try:
        policies = {
            hook: HookPayloadPolicy(writable_fields=frozenset(fields))
            for hook, fields in (sc.get("policies") or {}).items()
        }
        manager = TenantPluginManager(
            sc["yaml_path"],
            timeout=sc["timeout"],
            observability=spans,
            hook_policies=policies or None,
            default_hook_policy=sc.get("default_policy"),
        )
        await manager.initialize()
    except Exception as exc:  # a config the reference refuses
        out["load_error"] = {"type": type(exc).__name__, "message": str(exc)[:300]}
        return out
    sink = []
    names = [p.name for p in (manager.config.plugins or [])]
    for name in names:
        plugin = manager.get_plugin(name)
        if plugin is not None:
            plugin.sink = sink
    out["loaded"] = [n for n in names if manager.get_plugin(n) is not None]
    requests = {}
    try:
        for i, call in enumerate(sc["calls"]):
            req = call["request"]
            if req not in requests:
                spec = sc["requests"][req]
                requests[req] = {"gc": GlobalContext(**spec), "contexts": None}
            r = requests[req]
            gc = r["gc"]
            gc.metadata["_call"] = i
            hook = call["hook"]
            payload = PAYLOADS[hook](**call["payload"])
            sink.clear()
            entry_input = dump(payload)
            span_mark = len(spans.spans)
            entry = {"input": entry_input}
            # Tasks created during the call inherit this marker through the task factory below.
            task = asyncio.current_task()
            try:
                result, contexts = await manager.invoke_hook(
                    hook,
                    payload,
                    gc,
                    local_contexts=r["contexts"] if call.get("pass_contexts", True) else None,
                    violations_as_exceptions=call.get("raise", False),
                )
                bg = await result.wait_for_background_tasks()
                entry["result"] = {
                    "continue_processing": result.continue_processing,
                    "violation": violation_of(result.violation),
                    "modified_payload": dump(result.modified_payload),
                    "metadata": dump(result.metadata),
                    "retry_delay_ms": result.retry_delay_ms,
                    "http_headers": dump(result.http_headers),
                    "records": records_of(result.executions),
                    "background_errors": [{"plugin_name": e.plugin_name, "message": e.message} for e in bg],
                }
                if contexts is not None:
                    r["contexts"] = contexts
            except Exception as exc:
                entry["error"] = error_of(exc)
                contexts = None
            await settle_background(task)
            by_ctx = {}
            for ev in sink:
                by_ctx[id(ev["ctx"])] = ev["plugin"]
            if contexts is not None:
                entry["contexts"] = {
                    by_ctx.get(id(c), "?"): {"state": dump(dict(c.state))} for c in contexts.values()
                }
            entry["trace"] = [{k: v for k, v in ev.items() if k != "ctx"} for ev in sink]
            state = dict(gc.state)
            entry["global_state"] = dump(state)
            entry["global_metadata"] = dump(dict(gc.metadata))
            entry["disabled"] = sorted(manager.executor._runtime_disabled)
            entry["spans"] = copy.deepcopy(spans.spans[span_mark:])
            out["calls"].append(shrink(entry))
    finally:
        await manager.shutdown()
    return out


def task_factory(loop, coro, **kwargs):
    """Tags each task with the scenario task that created it (to await leftovers per scenario)."""
    task = asyncio.Task(coro, loop=loop, **kwargs)
    parent = asyncio.current_task(loop) if loop.is_running() else None
    if parent is not None:
        task._cpex_owner = getattr(parent, "_cpex_owner", parent)
    return task


async def main():
    loop = asyncio.get_running_loop()
    loop.set_task_factory(task_factory)
    # At most `limit` scenarios in flight; the next line is read only when one finishes, so a
    # long batch (with payloads at the size limit) never sits in memory at once.
    limit = asyncio.Semaphore(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
    pending = set()

    async def one(sc):
        try:
            task = asyncio.current_task()
            task._cpex_owner = task
            try:
                outcome = await run_scenario(sc)
            except Exception as exc:  # a driver bug: report it, never hang
                outcome = {"driver_error": repr(exc)}
            sys.stdout.write(json.dumps({"id": sc["id"], "outcome": outcome}) + "\n")
            sys.stdout.flush()
        finally:
            limit.release()

    while True:
        await limit.acquire()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            limit.release()
            break
        if not line.strip():
            limit.release()
            continue
        task = asyncio.create_task(one(json.loads(line)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*list(pending))
    sys.stdout.write(json.dumps({"done": True}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
