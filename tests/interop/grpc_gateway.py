"""Python-reference gateway for tests/interop/grpc_server_interop_test.ts (direction A, gRPC).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML file holding
``kind: external`` + ``grpc: <block>`` entries that point at OUR Deno plugin server (TCP
``target``, with or without ``tls``, or ``uds``), invokes hooks through it, and prints one JSON
object with what the reference gateway saw. gRPC merges the remote config: entries only set what
a scenario overrides locally; hooks, mode and ``config`` come from our server.

Usage: .venv/bin/python tests/interop/grpc_gateway.py '<grpc block as JSON>' <scenario>

Scenarios: allow, modify, block, raise_fail, raise_ignore, raise_structured, unknown_plugin,
unknown_hook, block_server_transform, echo, concurrent, context, merge, raw. The scenarios run by
``gateway_common.py`` (shared with the Unix and MCP gateways). Logging goes to stderr; stdout
carries only the JSON answer.
"""

import json

import gateway_common
import grpc
from cpex.framework.external.grpc.proto import plugin_service_pb2 as pb
from cpex.framework.external.grpc.proto import plugin_service_pb2_grpc as pb_grpc
from cpex.framework.models import PluginConfig
from google.protobuf import json_format

CAPTURE = gateway_common.install_capture()
SCENARIOS = gateway_common.MERGING_SCENARIOS


async def run_manager(block: dict, scenario: str) -> dict:
    return await gateway_common.run_manager(
        lambda tmp: gateway_common.write_merging_yaml("grpc", block, scenario, tmp),
        scenario,
        tmp_prefix="cpex-grpc-gw-",
        hook_for=lambda manager: gateway_common.configured_hook(manager, SCENARIOS[scenario][0][0]),
        echo_args={"text": "h\u00e9llo \u2713 \U0001f600", "none": None, "flag": False, "list": [1.5, "x"], "n": 3},
        report_init_errors=True,
    )


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


async def run(block: str, scenario: str) -> dict:
    parsed = json.loads(block)
    return await (run_raw(parsed) if scenario == "raw" else run_manager(parsed, scenario))


if __name__ == "__main__":
    gateway_common.main(__doc__, SCENARIOS, "raw", run, timeout=40, capture=CAPTURE)
