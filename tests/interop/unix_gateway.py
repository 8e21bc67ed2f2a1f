"""Python-reference gateway for tests/interop/unix_server_interop_test.ts (direction A).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML file holding
``kind: external`` + ``unix_socket: {path}`` entries that point at OUR Deno plugin server,
invokes hooks through it, and prints one JSON object with what the reference gateway saw.
Hooks, mode and on_error are set in the gateway YAML: the raw Unix transport never merges the
remote config.

Usage: .venv/bin/python tests/interop/unix_gateway.py <socket-path> <scenario>

Scenarios: allow, modify, block, raise_fail, raise_ignore, raise_structured, unknown_plugin,
unknown_hook, block_server_transform, echo, concurrent, context, config. Logging goes to stderr; stdout carries only the JSON answer.
"""

import asyncio
import json
import logging
import os
import sys
import tempfile
import time

from cpex.framework.errors import PluginError
from cpex.framework.external.grpc.proto import plugin_service_pb2 as pb
from cpex.framework.external.unix.protocol import read_message, write_message_async
from cpex.framework.hooks.tools import ToolPostInvokePayload, ToolPreInvokePayload
from cpex.framework.manager import PluginManager
from cpex.framework.models import GlobalContext, PluginConfig
from google.protobuf import json_format

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

# name, hooks, mode, on_error for each scenario (all on the one socket under test).
SCENARIOS = {
    "allow": [("Allow", ["tool_pre_invoke"], "sequential", "fail")],
    "modify": [("Modify", ["tool_pre_invoke"], "transform", "fail")],
    "block": [("Block", ["tool_pre_invoke"], "sequential", "fail")],
    "raise_fail": [("Raise", ["tool_pre_invoke"], "sequential", "fail")],
    "raise_ignore": [("Raise", ["tool_pre_invoke"], "sequential", "ignore")],
    "raise_structured": [("RaiseStructured", ["tool_pre_invoke"], "sequential", "fail")],
    "unknown_plugin": [("Nope", ["tool_pre_invoke"], "sequential", "fail")],
    "unknown_hook": [("Allow", ["tool_post_invoke"], "sequential", "fail")],
    "block_server_transform": [("BlockSoft", ["tool_pre_invoke"], "sequential", "fail")],
    "echo": [("Echo", ["tool_pre_invoke"], "sequential", "fail")],
    "concurrent": [(f"Slow{i}", ["tool_pre_invoke"], "concurrent", "fail") for i in (1, 2, 3)],
    "context": [("Stateful", ["tool_pre_invoke", "tool_post_invoke"], "sequential", "fail")],
}


def write_yaml(socket_path: str, scenario: str, directory: str) -> str:
    lines = ["plugins:"]
    for name, hooks, mode, on_error in SCENARIOS[scenario]:
        lines += [
            f"  - name: {json.dumps(name)}",
            '    kind: "external"',
            f"    hooks: {json.dumps(hooks)}",
            f"    mode: {json.dumps(mode)}",
            f"    on_error: {json.dumps(on_error)}",
            "    unix_socket:",
            f"      path: {json.dumps(socket_path)}",
            "      timeout: 10.0",
            "      reconnect_attempts: 1",
        ]
    path = os.path.join(directory, "gateway.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def dump_result(result) -> dict:
    out = result.model_dump(mode="json")
    if result.violation is not None:
        # plugin_name is a private attribute stamped by the gateway's executor.
        out["violation"]["plugin_name"] = result.violation.plugin_name
    return out


def dump_error(err: PluginError) -> dict:
    return {"error": err.error.model_dump(mode="json"), "str": str(err)}


def pre_payload() -> ToolPreInvokePayload:
    return ToolPreInvokePayload(name="search", args={"q": "hello", "n": 3, "tags": ["a", "b"]})


async def run_manager(socket_path: str, scenario: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="cpex-gw-") as tmp:
        manager = PluginManager(write_yaml(socket_path, scenario, tmp))
        await manager.initialize()
        try:
            out: dict = {"plugin_count": manager.plugin_count}
            gctx = GlobalContext(request_id="req-1", server_id="srv-1", tenant_id="ten-1", user="alice")
            if scenario == "context":
                gctx.state["gateway_seed"] = "seed"
                gctx.metadata["gateway_meta"] = "m"
                pre, contexts = await manager.invoke_hook("tool_pre_invoke", pre_payload(), gctx)
                out["pre"] = dump_result(pre)
                out["global_state_after_pre"] = dict(gctx.state)
                out["local_after_pre"] = [
                    {"state": c.state, "metadata": c.metadata} for c in (contexts or {}).values()
                ]
                post_payload = ToolPostInvokePayload(name="search", result={"text": "hi"})
                post, contexts = await manager.invoke_hook(
                    "tool_post_invoke", post_payload, gctx, local_contexts=contexts
                )
                out["post"] = dump_result(post)
                out["global_state_after_post"] = dict(gctx.state)
                out["local_after_post"] = [
                    {"state": c.state, "metadata": c.metadata} for c in (contexts or {}).values()
                ]
                return out
            if scenario == "echo":
                gctx.user = {"id": "u1", "roles": ["admin"], "active": True}
                args = {"text": "h\u00e9llo \u2713 \U0001f600", "none": None, "flag": False, "list": [1.5, "x"]}
                result, _ = await manager.invoke_hook(
                    "tool_pre_invoke", ToolPreInvokePayload(name="echo", args=args), gctx
                )
                out["result"] = dump_result(result)
                return out
            if scenario == "concurrent":
                started = time.monotonic()
                result, _ = await manager.invoke_hook("tool_pre_invoke", pre_payload(), gctx)
                out["elapsed_s"] = time.monotonic() - started
                out["result"] = dump_result(result)
                return out
            hook = SCENARIOS[scenario][0][1][0]
            payload = pre_payload() if hook == "tool_pre_invoke" else ToolPostInvokePayload(name="search", result="x")
            try:
                result, _ = await manager.invoke_hook(hook, payload, gctx)
                out["result"] = dump_result(result)
            except PluginError as err:
                out.update(dump_error(err))
            return out
        finally:
            await manager.shutdown()
            PluginManager.reset()


async def run_config(socket_path: str) -> dict:
    """Config queries straight on the wire, read with the reference's protocol helpers."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        out: dict = {}
        for name in ("allow", "Missing"):
            await write_message_async(writer, pb.GetPluginConfigRequest(name=name).SerializeToString())
            resp = pb.GetPluginConfigResponse()
            resp.ParseFromString(await read_message(reader, timeout=10))
            entry: dict = {"found": resp.found}
            if resp.found:
                raw = json_format.MessageToDict(resp.config)
                entry["config"] = raw
                entry["validated"] = PluginConfig.model_validate(raw).model_dump(mode="json")
            out[name] = entry
        await write_message_async(writer, b"")
        all_resp = pb.GetPluginConfigsResponse()
        all_resp.ParseFromString(await read_message(reader, timeout=10))
        out["all_names"] = [json_format.MessageToDict(c).get("name") for c in all_resp.configs]
        return out
    finally:
        writer.close()
        await writer.wait_closed()


def main() -> None:
    if len(sys.argv) != 3 or (sys.argv[2] not in SCENARIOS and sys.argv[2] != "config"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    socket_path, scenario = sys.argv[1], sys.argv[2]
    coro = run_config(socket_path) if scenario == "config" else run_manager(socket_path, scenario)
    out = asyncio.run(asyncio.wait_for(coro, timeout=30))
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
