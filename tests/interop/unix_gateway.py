"""Python-reference gateway for tests/interop/unix_server_interop_test.ts (direction A).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML file holding
``kind: external`` + ``unix_socket: {path}`` entries that point at OUR Deno plugin server,
invokes hooks through it, and prints one JSON object with what the reference gateway saw.
Hooks, mode and on_error are set in the gateway YAML: the raw Unix transport never merges the
remote config.

Usage: .venv/bin/python tests/interop/unix_gateway.py <socket-path> <scenario>

Scenarios: allow, modify, block, raise_fail, raise_ignore, raise_structured, unknown_plugin,
unknown_hook, block_server_transform, echo, concurrent, context, config. The scenarios run by
``gateway_common.py`` (shared with the gRPC and MCP gateways). Logging goes to stderr; stdout
carries only the JSON answer.
"""

import asyncio
import json
import os

import gateway_common
from cpex.framework.external.grpc.proto import plugin_service_pb2 as pb
from cpex.framework.external.unix.protocol import read_message, write_message_async
from cpex.framework.models import PluginConfig
from google.protobuf import json_format

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


async def run_manager(socket_path: str, scenario: str) -> dict:
    return await gateway_common.run_manager(
        lambda tmp: write_yaml(socket_path, scenario, tmp),
        scenario,
        tmp_prefix="cpex-gw-",
        hook_for=lambda _manager: SCENARIOS[scenario][0][1][0],
        echo_args={"text": "h\u00e9llo \u2713 \U0001f600", "none": None, "flag": False, "list": [1.5, "x"]},
        report_init_errors=False,
    )


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


async def run(socket_path: str, scenario: str) -> dict:
    return await (run_config(socket_path) if scenario == "config" else run_manager(socket_path, scenario))


if __name__ == "__main__":
    gateway_common.main(__doc__, SCENARIOS, "config", run, timeout=30)
