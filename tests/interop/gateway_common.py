"""What the three Python-reference gateways of direction A share (unix_gateway.py, grpc_gateway.py,
mcp_gateway.py): building the reference's ``PluginManager`` (cpex 0.1.4 in .venv) from a YAML
file of ``kind: external`` entries, running one hook scenario through it against OUR Deno plugin
server, and printing one JSON object with what the reference gateway saw.

Each gateway script only adds its transport: the scenario table, the transport block of the
entries, and its raw (manager-less) calls. The scripts import this module from their own
directory (``sys.path[0]``). Logging goes to stderr; stdout carries only the JSON answer.
"""

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from typing import Awaitable, Callable, Optional

from cpex.framework.errors import PluginError
from cpex.framework.hooks.tools import ToolPostInvokePayload, ToolPreInvokePayload
from cpex.framework.manager import PluginManager
from cpex.framework.models import GlobalContext

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


class LogCapture(logging.Handler):
    """Keeps the formatted log (tracebacks included) to report why an initialize failed."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def install_capture() -> LogCapture:
    """Adds a LogCapture to the root logger and returns it."""
    capture = LogCapture()
    logging.getLogger().addHandler(capture)
    return capture


# For the transports that merge the remote config (gRPC, MCP): name and the keys the gateway YAML
# sets locally (everything else comes from the server).
MERGING_SCENARIOS = {
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


def write_merging_yaml(transport: str, block: dict, scenario: str, directory: str) -> str:
    """Writes the gateway YAML of a merging transport: ``{name, kind, **local, <transport>: block}``."""
    entries = []
    for name, local in MERGING_SCENARIOS[scenario]:
        entries.append({"name": name, "kind": "external", **local, transport: block})
    path = os.path.join(directory, "gateway.yaml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"plugins": entries}, f)  # JSON is YAML.
    return path


def configured_hook(manager: PluginManager, name: str) -> Optional[str]:
    """The first hook of plugin ``name`` as the gateway merged it, None when it failed to load."""
    plugin = manager.get_plugin(name)
    if plugin is None:
        return None
    hooks = plugin.config.hooks
    hook = hooks[0] if hooks else "tool_pre_invoke"
    return getattr(hook, "value", hook)


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


async def run_manager(
    yaml_path: Callable[[str], str],
    scenario: str,
    *,
    tmp_prefix: str,
    hook_for: Callable[[PluginManager], Optional[str]],
    echo_args: dict,
    report_init_errors: bool,
) -> dict:
    """Builds the reference manager from ``yaml_path(tmpdir)`` and runs ``scenario`` through it.

    ``hook_for`` names the hook of the single-plugin scenarios (None: the plugin did not load,
    report only the plugin count). With ``report_init_errors`` a failing initialize is answered
    with ``init_error*`` keys instead of failing the script.
    """
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp:
        manager = PluginManager(yaml_path(tmp))
        if report_init_errors:
            try:
                await manager.initialize()
            except (Exception, asyncio.CancelledError) as err:  # noqa: BLE001 - reported to the test
                # A refused TLS handshake can surface as a CancelledError from the MCP SDK's task
                # group instead of a PluginError.
                PluginManager.reset()
                inner = err.error.model_dump(mode="json") if isinstance(err, PluginError) else None
                return {"init_error": str(err), "init_error_type": type(err).__name__, "init_error_model": inner}
        else:
            await manager.initialize()
        try:
            return await run_scenario(manager, scenario, hook_for=hook_for, echo_args=echo_args)
        finally:
            await manager.shutdown()
            PluginManager.reset()


async def run_scenario(
    manager: PluginManager,
    scenario: str,
    *,
    hook_for: Callable[[PluginManager], Optional[str]],
    echo_args: dict,
) -> dict:
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
        post, contexts = await manager.invoke_hook("tool_post_invoke", post_payload, gctx, local_contexts=contexts)
        out["post"] = dump_result(post)
        out["global_state_after_post"] = dict(gctx.state)
        out["local_after_post"] = locals_of(contexts)
        return out
    if scenario == "echo":
        gctx.user = {"id": "u1", "roles": ["admin"], "active": True}
        result, _ = await manager.invoke_hook(
            "tool_pre_invoke", ToolPreInvokePayload(name="echo", args=echo_args), gctx
        )
        out["result"] = dump_result(result)
        return out
    if scenario == "concurrent":
        started = time.monotonic()
        result, _ = await manager.invoke_hook("tool_pre_invoke", pre_payload(), gctx)
        out["elapsed_s"] = time.monotonic() - started
        out["result"] = dump_result(result)
        return out
    hook = hook_for(manager)
    if hook is None:
        return out  # the plugin failed to load (initialize errors are logged, not raised)
    payload = pre_payload() if hook == "tool_pre_invoke" else ToolPostInvokePayload(name="search", result="x")
    try:
        result, _ = await manager.invoke_hook(hook, payload, gctx)
        out["result"] = dump_result(result)
    except PluginError as err:
        out.update(dump_error(err))
    return out


def main(
    doc: str,
    scenarios: dict,
    raw_scenario: str,
    run: Callable[[str, str], Awaitable[dict]],
    *,
    timeout: float,
    capture: Optional[LogCapture] = None,
) -> None:
    """``<script> <target> <scenario>``: runs ``run(target, scenario)`` and prints its JSON answer.

    ``raw_scenario`` is the one scenario name accepted besides the keys of ``scenarios``. With a
    ``capture``, a failed initialize or an empty manager also reports the captured log.
    """
    if len(sys.argv) != 3 or (sys.argv[2] not in scenarios and sys.argv[2] != raw_scenario):
        print(doc, file=sys.stderr)
        sys.exit(2)
    out = asyncio.run(asyncio.wait_for(run(sys.argv[1], sys.argv[2]), timeout=timeout))
    if capture is not None and ("init_error" in out or out.get("plugin_count") == 0):
        # Includes what the event loop logged while closing a failed session.
        out["log"] = "\n".join(capture.lines)
    print(json.dumps(out, sort_keys=True))
