"""Python test plugins for the gRPC interop suite (direction B) that the Unix suite lacks.

The reference's gRPC runtime (cpex 0.1.4, ``python -m cpex.framework.external.grpc.server.runtime``)
loads them from ``grpc_interop.yaml`` (``kind: plugins.grpc_interop.<Class>``, imported with the
working directory ``tests/interop/`` on ``sys.path``) next to the shared plugins of
``unix_interop.py``; our Deno gateway calls them over gRPC (TCP, Unix socket, TLS).
"""

from cpex.framework import Plugin, PluginContext, ToolPreInvokePayload, ToolPreInvokeResult


class ReportConfigPlugin(Plugin):
    """Allows, and reports its own (server-side) config section and the argument types it saw."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        return ToolPreInvokeResult(
            metadata={
                "allowed_by": "python",
                "config": self._config.config,
                "arg_types": {k: type(v).__name__ for k, v in payload.args.items()},
            }
        )
