"""A no-op plugin for the reference (cpex 0.1.4) Unix socket server, used by bench/unix_ratio.ts.

It allows every ``tool_pre_invoke`` call with a ``checked_by`` metadata entry: the Python counterpart of the
Deno ``Allow`` plugin in ``unix_server_child.ts``. Loaded as ``unix_allow_plugin.AllowPlugin``
from ``unix_python_plugins.yaml`` (the bench runs the server with ``bench/`` on PYTHONPATH).
"""

from cpex.framework import Plugin, PluginContext
from cpex.framework.hooks.tools import ToolPreInvokePayload, ToolPreInvokeResult


class AllowPlugin(Plugin):
    """Allows every tool call."""

    async def tool_pre_invoke(
        self, payload: ToolPreInvokePayload, context: PluginContext
    ) -> ToolPreInvokeResult:
        return ToolPreInvokeResult(continue_processing=True, metadata={"checked_by": "allow"})
