"""The reference gateway of the wire-level twin (tests/conformance/wire_twin_test.ts).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) with one ``kind: external`` entry
per wire plugin (Echo, Modify, Block, State, Headers), all on one transport block pointing at a
plugin server (ours or the reference's), runs every case of the spec through it and prints, per
case, each field of what the gateway saw as canonical JSON text (``json.dumps`` with sorted keys,
so ints stay ints and floats floats: ``2`` and ``2.0`` differ): the manager's hook result and
contexts, and the acting plugin's external client called directly (``direct_*``: the wire
result as the reference's client reads it, before the manager folds it in).

Usage: .venv/bin/python tests/conformance/wire_gateway.py <spec.json>

The spec: ``{"transport": "mcp"|"grpc"|"unix_socket", "block": {...}, "cases": [...]}``; a case
is ``{"calls": [{"hook": <hook>, "plugin": <acting plugin>, "payload": {...}}, ...],
"global_state": {...}, "global_metadata": {...}, "user": ...}``: its calls share one global
context and pass the local contexts on (a post call sees what a pre call stored). The spec is
read with ``json``, so number texts keep their Python types (``2.0`` is a float, big integers
are exact ints).
"""

import asyncio
import copy
import json
import logging
import os
import sys
import tempfile

from cpex.framework.errors import PluginError
from cpex.framework import PromptPrehookPayload, ResourcePostFetchPayload, ResourcePreFetchPayload
from cpex.framework.hooks.tools import ToolPostInvokePayload, ToolPreInvokePayload
from cpex.framework.manager import PluginManager
from cpex.framework.models import GlobalContext, PluginContext

logging.basicConfig(level=logging.ERROR, stream=sys.stderr)

NAMES = [
    ("Echo", ["tool_pre_invoke", "tool_post_invoke", "prompt_pre_fetch", "resource_pre_fetch", "resource_post_fetch"]),
    ("Modify", ["tool_pre_invoke"]),
    ("Block", ["tool_pre_invoke"]),
    ("State", ["tool_pre_invoke"]),
    ("Headers", ["tool_pre_invoke"]),
]


MODELS = {
    "tool_pre_invoke": ToolPreInvokePayload,
    "tool_post_invoke": ToolPostInvokePayload,
    "prompt_pre_fetch": PromptPrehookPayload,
    "resource_pre_fetch": ResourcePreFetchPayload,
    "resource_post_fetch": ResourcePostFetchPayload,
}


def canon(value) -> str:
    """Canonical text of a Python value; NaN (never equal to itself) is written as a marker."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True)


def write_yaml(transport: str, block: dict, directory: str) -> str:
    entries = []
    for i, (name, hooks) in enumerate(NAMES):
        entries.append(
            {
                "name": name,
                "kind": "external",
                "hooks": hooks,
                "mode": "sequential",
                "on_error": "fail",
                "priority": 10 + i,
                transport: block,
            }
        )
    path = os.path.join(directory, "gateway.yaml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"plugins": entries}, f)  # JSON is YAML.
    return path


def dump_case(result, contexts, gctx) -> dict:
    violation = None
    if result.violation is not None:
        violation = result.violation.model_dump()
        violation["plugin_name"] = result.violation.plugin_name
    locals_ = {}
    for key, ctx in (contexts or {}).items():
        locals_[key] = {"state": ctx.state, "metadata": ctx.metadata}
    return {
        "continue_processing": canon(result.continue_processing),
        "modified_payload": canon(result.modified_payload.model_dump() if result.modified_payload is not None else None),
        "violation": canon(violation),
        "metadata": canon(result.metadata),
        "http_headers": canon(result.http_headers),
        "retry_delay_ms": canon(result.retry_delay_ms),
        "local_contexts": canon(sorted(canon(v) for v in locals_.values())),
        "global_state": canon(gctx.state),
        "global_metadata": canon(gctx.metadata),
    }


def plain(value):
    """A pydantic model (or anything else) as plain JSON-able data."""
    return value.model_dump() if hasattr(value, "model_dump") else value


async def direct_call(manager: PluginManager, call: dict, payload, case: dict, i: int) -> dict:
    """The acting plugin's external client called directly: the wire result as the reference's
    client reads it (before the manager folds it into the hook result)."""
    plugin = manager.get_plugin(call["plugin"])
    gctx = GlobalContext(
        request_id=f"direct-{i}",
        user=case.get("user"),
        state=copy.deepcopy(case.get("global_state") or {}),
        metadata=copy.deepcopy(case.get("global_metadata") or {}),
    )
    ctx = PluginContext(global_context=gctx)
    try:
        result = await plugin.invoke_hook(call["hook"], payload, ctx)
    except PluginError as err:
        return {"direct_error": canon(err.error.model_dump())}
    except Exception as err:  # noqa: BLE001 - reported per call
        return {"direct_exception": f"{type(err).__name__}: {err}"}
    dumped = {k: plain(v) for k, v in result.model_dump().items() if k != "background_tasks"}
    return {
        "direct_http_headers": canon(dumped.pop("http_headers")),
        "direct_retry_delay_ms": canon(dumped.pop("retry_delay_ms")),
        "direct_modified_payload": canon(dumped.pop("modified_payload")),
        "direct_result": canon(dumped),
        "direct_context": canon({"state": ctx.state, "metadata": ctx.metadata, "global_state": gctx.state}),
    }


async def run(spec: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="cpex-wire-gw-") as tmp:
        manager = PluginManager(write_yaml(spec["transport"], spec["block"], tmp))
        await manager.initialize()
        try:
            out = {"plugin_count": manager.plugin_count, "cases": []}
            for i, case in enumerate(spec["cases"]):
                gctx = GlobalContext(
                    request_id=f"case-{i}",
                    user=case.get("user"),
                    state=case.get("global_state") or {},
                    metadata=case.get("global_metadata") or {},
                )
                contexts = None
                dumped = []
                for call in case["calls"]:
                    model = MODELS[call["hook"]]
                    try:
                        payload = model(**call["payload"])
                        direct = await direct_call(manager, call, payload, case, i)
                        result, contexts = await manager.invoke_hook(call["hook"], payload, gctx, local_contexts=contexts)
                        dumped.append({**dump_case(result, contexts, gctx), **direct})
                    except PluginError as err:
                        dumped.append({"error": canon(err.error.model_dump())})
                    except Exception as err:  # noqa: BLE001 - reported per call
                        dumped.append({"exception": f"{type(err).__name__}: {err}"})
                out["cases"].append(dumped)
            return out
        finally:
            await manager.shutdown()
            PluginManager.reset()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    result = asyncio.run(asyncio.wait_for(run(spec), timeout=float(os.environ.get("WIRE_GATEWAY_TIMEOUT", "240"))))
    print(json.dumps(result, ensure_ascii=True))
