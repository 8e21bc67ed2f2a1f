"""Python-reference gateway for tests/interop/grpc_server_interop_test.ts (direction A, gRPC).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML file holding
``kind: external`` + ``grpc: <block>`` entries that point at OUR Deno plugin server (TCP
``target``, with or without ``tls``, or ``uds``), invokes hooks through it, and prints one JSON
object with what the reference gateway saw. gRPC merges the remote config: entries only set what
a scenario overrides locally; hooks, mode and ``config`` come from our server.

Usage: .venv/bin/python tests/interop/grpc_gateway.py '<grpc block as JSON>' <scenario>

Scenarios: allow, modify, block, raise_fail, raise_ignore, raise_structured, unknown_plugin,
unknown_hook, block_server_transform, echo, concurrent, context, merge, raw. Logging goes to
stderr; stdout carries only the JSON answer.
"""

import asyncio
import json
import logging
import os
import sys
import tempfile
import time

import grpc
from cpex.framework.errors import PluginError
from cpex.framework.external.grpc.proto import plugin_service_pb2 as pb
from cpex.framework.external.grpc.proto import plugin_service_pb2_grpc as pb_grpc
from cpex.framework.hooks.tools import ToolPostInvokePayload, ToolPreInvokePayload
from cpex.framework.manager import PluginManager
from cpex.framework.models import GlobalContext, PluginConfig
from google.protobuf import json_format

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


class _Capture(logging.Handler):
    """Keeps the formatted log to report why an initialize failed."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


CAPTURE = _Capture()
logging.getLogger().addHandler(CAPTURE)

# name and the keys the gateway YAML sets locally (everything else comes from the server).
SCENARIOS = {
    "allow": [("Allow", {})],
    "modify": [("Modify", {"mode": "transform"})],
    "block": [("Block", {})],
    "raise_fail": [("Raise", {"on_error": "fail"})],
    "raise_ignore": [("Raise", {"on_error": "ignore"})],
    "raise_structured": [("RaiseStructured", {})],
    "unknown_plugin": [("Nope", {"hooks": ["tool_pre_invoke"]})],
    "unknown_hook": [("Allow", {"hooks": ["tool_post_invoke"]})],
    "block_server_transform": [("BlockSoft", {"mode": "sequential"})],
    "echo": [("Echo", {})],
    "concurrent": [(f"Slow{i}", {"mode": "concurrent"}) for i in (1, 2, 3)],
    "context": [("Stateful", {})],
    "merge": [("Allow", {"priority": 5, "description": "local description", "tags": ["local"]})],
}


def write_yaml(block: dict, scenario: str, directory: str) -> str:
    entries = []
    for name, local in SCENARIOS[scenario]:
        entries.append({"name": name, "kind": "external", **local, "grpc": block})
    path = os.path.join(directory, "gateway.yaml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"plugins": entries}, f)  # JSON is YAML.
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


def locals_of(contexts) -> list:
    return [{"state": c.state, "metadata": c.metadata} for c in (contexts or {}).values()]


async def run_manager(block: dict, scenario: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="cpex-grpc-gw-") as tmp:
        manager = PluginManager(write_yaml(block, scenario, tmp))
        try:
            await manager.initialize()
        except (Exception, asyncio.CancelledError) as err:  # noqa: BLE001 - reported to the test
            PluginManager.reset()
            inner = err.error.model_dump(mode="json") if isinstance(err, PluginError) else None
            return {"init_error": str(err), "init_error_type": type(err).__name__, "init_error_model": inner}
        try:
            out: dict = {"plugin_count": manager.plugin_count}
            gctx = GlobalContext(request_id="req-1", server_id="srv-1", tenant_id="ten-1", user="alice")
            if scenario == "merge":
                out["config"] = manager.get_plugin("Allow").config.model_dump(mode="json")
                result, _ = await manager.invoke_hook("tool_pre_invoke", pre_payload(), gctx)
                out["result"] = dump_result(result)
                return out
            if scenario == "context":
                gctx.state["gateway_seed"] = "seed"
                gctx.metadata["gateway_meta"] = "m"
                pre, contexts = await manager.invoke_hook("tool_pre_invoke", pre_payload(), gctx)
                out["pre"] = dump_result(pre)
                out["global_state_after_pre"] = dict(gctx.state)
                out["local_after_pre"] = locals_of(contexts)
                post_payload = ToolPostInvokePayload(name="search", result={"text": "hi"})
                post, contexts = await manager.invoke_hook(
                    "tool_post_invoke", post_payload, gctx, local_contexts=contexts
                )
                out["post"] = dump_result(post)
                out["global_state_after_post"] = dict(gctx.state)
                out["local_after_post"] = locals_of(contexts)
                return out
            if scenario == "echo":
                gctx.user = {"id": "u1", "roles": ["admin"], "active": True}
                args = {"text": "h\u00e9llo \u2713 \U0001f600", "none": None, "flag": False, "list": [1.5, "x"], "n": 3}
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
            plugin = manager.get_plugin(SCENARIOS[scenario][0][0])
            if plugin is None:
                return out  # the plugin failed to load (initialize errors are logged, not raised)
            hooks = plugin.config.hooks
            hook = hooks[0] if hooks else "tool_pre_invoke"
            hook = getattr(hook, "value", hook)
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


async def run_raw(block: dict) -> dict:
    """Calls on a plain grpc-python channel (no manager): config queries, health, raw errors."""
    target = f"unix://{block['uds']}" if block.get("uds") else block["target"]
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.PluginServiceStub(channel)
        out: dict = {}
        one = await stub.GetPluginConfig(pb.GetPluginConfigRequest(name="allow"), timeout=10)
        out["allow_found"] = one.found
        out["allow"] = json_format.MessageToDict(one.config)
        out["allow_validated"] = PluginConfig.model_validate(out["allow"]).model_dump(mode="json")
        missing = await stub.GetPluginConfig(pb.GetPluginConfigRequest(name="Missing"), timeout=10)
        out["missing_bytes"] = missing.SerializeToString().hex()
        every = await stub.GetPluginConfigs(pb.GetPluginConfigsRequest(), timeout=10)
        out["all_names"] = [json_format.MessageToDict(c).get("name") for c in every.configs]
        health = await pb_grpc.HealthStub(channel).Check(pb.HealthCheckRequest(service=""), timeout=10)
        out["cpex_health"] = pb.HealthCheckResponse.ServingStatus.Name(health.status)
        # The standard grpc.health.v1.Health/Check, spoken in raw bytes (request: empty service).
        std = channel.unary_unary("/grpc.health.v1.Health/Check")
        out["std_health_bytes"] = (await std(b"", timeout=10)).hex()
        nope = await stub.InvokeHook(
            pb.InvokeHookRequest(
                hook_type="tool_pre_invoke",
                plugin_name="Nope",
                payload=json_format.ParseDict({"name": "t", "args": {}}, pb.InvokeHookRequest().payload),
                context=pb.PluginContext(global_context=pb.GlobalContext(request_id="req-raw")),
            ),
            timeout=10,
        )
        out["nope"] = json_format.MessageToDict(nope, preserving_proto_field_name=True)
        out["nope_bytes"] = nope.SerializeToString().hex()
        bad_payload = await stub.InvokeHook(
            pb.InvokeHookRequest(
                hook_type="tool_pre_invoke",
                plugin_name="Allow",
                payload=json_format.ParseDict({"args": {}}, pb.InvokeHookRequest().payload),
                context=pb.PluginContext(global_context=pb.GlobalContext(request_id="req-raw")),
            ),
            timeout=10,
        )
        out["bad_payload"] = json_format.MessageToDict(bad_payload, preserving_proto_field_name=True)
        return out


def main() -> None:
    if len(sys.argv) != 3 or (sys.argv[2] not in SCENARIOS and sys.argv[2] != "raw"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    block, scenario = json.loads(sys.argv[1]), sys.argv[2]
    coro = run_raw(block) if scenario == "raw" else run_manager(block, scenario)
    out = asyncio.run(asyncio.wait_for(coro, timeout=40))
    if "init_error" in out or out.get("plugin_count") == 0:
        out["log"] = "\n".join(CAPTURE.lines)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
