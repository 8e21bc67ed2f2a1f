"""Python-reference gateway for tests/interop/mcp_server_interop_test.ts (direction A, MCP).

Builds the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML file holding
``kind: external`` + ``mcp: <block>`` entries that point at OUR Deno plugin server (over
Streamable HTTP or as a STDIO child), invokes hooks through it, and prints one JSON object with
what the reference gateway saw. Unlike the raw Unix transport, MCP merges the remote config:
entries only set what a scenario overrides locally; hooks, mode and ``config`` come from our
server.

Usage: .venv/bin/python tests/interop/mcp_gateway.py '<mcp block as JSON>' <scenario>

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

from cpex.framework.errors import PluginError
from cpex.framework.hooks.tools import ToolPostInvokePayload, ToolPreInvokePayload
from cpex.framework.manager import PluginManager
from cpex.framework.models import GlobalContext, PluginConfig

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


class _Capture(logging.Handler):
    """Keeps the formatted log (tracebacks included) to report why an initialize failed."""

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


def write_yaml(mcp: dict, scenario: str, directory: str) -> str:
    entries = []
    for name, local in SCENARIOS[scenario]:
        entries.append({"name": name, "kind": "external", **local, "mcp": mcp})
    path = os.path.join(directory, "gateway.yaml")
    with open(path, "w", encoding="utf-8") as f:
        # JSON is YAML.
        json.dump({"plugins": entries}, f)
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


async def run_manager(mcp: dict, scenario: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="cpex-mcp-gw-") as tmp:
        manager = PluginManager(write_yaml(mcp, scenario, tmp))
        try:
            await manager.initialize()
        except (Exception, asyncio.CancelledError) as err:  # noqa: BLE001 - reported to the test
            # A refused TLS handshake can surface as a CancelledError from the MCP SDK's task
            # group instead of a PluginError.
            PluginManager.reset()
            inner = err.error.model_dump(mode="json") if isinstance(err, PluginError) else None
            return {"init_error": str(err), "init_error_type": type(err).__name__, "init_error_model": inner}
        try:
            out: dict = {"plugin_count": manager.plugin_count}
            gctx = GlobalContext(request_id="req-1", server_id="srv-1", tenant_id="ten-1", user="alice")
            if scenario == "merge":
                plugin = manager.get_plugin("Allow")
                out["config"] = plugin.config.model_dump(mode="json")
                result, _ = await manager.invoke_hook("tool_pre_invoke", pre_payload(), gctx)
                out["result"] = dump_result(result)
                return out
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


def main() -> None:
    if len(sys.argv) != 3 or (sys.argv[2] not in SCENARIOS and sys.argv[2] != "raw"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mcp, scenario = json.loads(sys.argv[1]), sys.argv[2]
    coro = run_raw(mcp) if scenario == "raw" else run_manager(mcp, scenario)
    out = asyncio.run(asyncio.wait_for(coro, timeout=40))
    if "init_error" in out or out.get("plugin_count") == 0:
        # Includes what the event loop logged while closing the failed session.
        out["log"] = "\n".join(CAPTURE.lines)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
