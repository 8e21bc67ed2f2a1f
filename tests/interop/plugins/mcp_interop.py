"""Python test plugins for the MCP interop suite (direction B) that the Unix suite lacks.

The reference's MCP runtime (cpex 0.1.4, ``python -m cpex.framework.external.mcp.server.runtime``)
loads them from ``mcp_interop.yaml`` (``kind: plugins.mcp_interop.<Class>``, imported with the
working directory ``tests/interop/`` on ``sys.path``) next to the shared plugins of
``unix_interop.py``; our Deno gateway calls them over Streamable HTTP and STDIO.
"""

import os

from cpex.framework import Plugin, PluginContext, ToolPreInvokePayload, ToolPreInvokeResult


class ConfigAllowPlugin(Plugin):
    """Allows, and reports its own (server-side) config section and the argument types it saw."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        return ToolPreInvokeResult(
            metadata={
                "allowed_by": "python",
                "config": self._config.config,
                "arg_types": {k: type(v).__name__ for k, v in payload.args.items()},
            }
        )


class CrashPlugin(Plugin):
    """Ends the whole server process when ``args.crash`` is set (STDIO child-death checks)."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        if payload.args.get("crash"):
            os._exit(3)  # pylint: disable=protected-access
        return ToolPreInvokeResult(metadata={"pid": os.getpid()})
