"""Python-reference gateway for tests/interop/mcp_server_interop_test.ts (direction A, MCP).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML file holding
``kind: external`` + ``mcp: <block>`` entries that point at OUR Deno plugin server (over
Streamable HTTP or as a STDIO child), invokes hooks through it, and prints one JSON object with
what the reference gateway saw. Unlike the raw Unix transport, MCP merges the remote config:
entries only set what a scenario overrides locally; hooks, mode and ``config`` come from our
server.

Usage: .venv/bin/python tests/interop/mcp_gateway.py '<mcp block as JSON>' <scenario>

Scenarios: allow, modify, block, raise_fail, raise_ignore, raise_structured, unknown_plugin,
unknown_hook, block_server_transform, echo, concurrent, context, merge, raw. The scenarios run by
``gateway_common.py`` (shared with the Unix and gRPC gateways). Logging goes to stderr; stdout
carries only the JSON answer.
"""

import json

import gateway_common
from cpex.framework.models import PluginConfig

CAPTURE = gateway_common.install_capture()
SCENARIOS = gateway_common.MERGING_SCENARIOS


async def run_manager(mcp: dict, scenario: str) -> dict:
    return await gateway_common.run_manager(
        lambda tmp: gateway_common.write_merging_yaml("mcp", mcp, scenario, tmp),
        scenario,
        tmp_prefix="cpex-mcp-gw-",
        hook_for=lambda manager: gateway_common.configured_hook(manager, SCENARIOS[scenario][0][0]),
        echo_args={"text": "h\u00e9llo \u2713 \U0001f600", "none": None, "flag": False, "list": [1.5, "x"], "n": 3},
        report_init_errors=True,
    )


def texts(result) -> list:
    return [json.loads(c.text) for c in result.content if getattr(c, "type", None) == "text"]


async def run_raw(mcp: dict) -> dict:
    """Tool calls on the reference client's own MCP session (no manager in between)."""
    # First-Party
    from cpex.framework.external.mcp.client import ExternalPlugin  # pylint: disable=import-outside-toplevel

    plugin = ExternalPlugin(PluginConfig.model_validate({"name": "Allow", "kind": "external", "mcp": mcp}))
    await plugin.initialize()
    try:
        session = plugin._session  # pylint: disable=protected-access
        out: dict = {}
        tools = await session.list_tools()
        out["tools"] = sorted(t.name for t in tools.tools)
        one = await session.call_tool("get_plugin_config", {"name": "allow"})
        out["allow"] = texts(one)
        out["allow_validated"] = PluginConfig.model_validate(texts(one)[0]).model_dump(mode="json")
        missing = await session.call_tool("get_plugin_config", {"name": "Missing"})
        out["missing"] = texts(missing)
        every = await session.call_tool("get_plugin_configs", {})
        out["all_names"] = [c.get("name") for c in texts(every)]
        structured = getattr(every, "structured_content", None) or getattr(every, "structuredContent", None)
        out["all_structured_names"] = [c.get("name") for c in (structured or {}).get("result", [])]
        ctx = {"state": {}, "global_context": {"request_id": "req-raw"}, "metadata": {}}
        nope = await session.call_tool(
            "invoke_hook",
            {"hook_type": "tool_pre_invoke", "plugin_name": "Nope", "payload": {"name": "t", "args": {}}, "context": ctx},
        )
        out["nope"] = texts(nope)
        bad_ctx = await session.call_tool(
            "invoke_hook",
            {"hook_type": "tool_pre_invoke", "plugin_name": "Allow", "payload": {"name": "t"}, "context": {"state": {}}},
        )
        out["bad_context"] = texts(bad_ctx)
        bad_payload = await session.call_tool(
            "invoke_hook",
            {"hook_type": "tool_pre_invoke", "plugin_name": "Allow", "payload": {"args": {}}, "context": ctx},
        )
        out["bad_payload"] = texts(bad_payload)
        return out
    finally:
        await plugin.shutdown()


async def run(mcp: str, scenario: str) -> dict:
    parsed = json.loads(mcp)
    return await (run_raw(parsed) if scenario == "raw" else run_manager(parsed, scenario))


if __name__ == "__main__":
    gateway_common.main(__doc__, SCENARIOS, "raw", run, timeout=40, capture=CAPTURE)
