"""Python test plugins for the raw Unix socket interop suite (direction B).

The reference's Unix runtime (cpex 0.1.4, ``python -m cpex.framework.external.unix.server.runtime``)
loads them from ``unix_interop.yaml`` (``kind: plugins.unix_interop.<Class>``, imported with the
working directory ``tests/interop/`` on ``sys.path``); our Deno gateway calls them.
"""

import asyncio

from cpex.framework import (
    Plugin,
    PluginContext,
    PluginError,
    PluginErrorModel,
    PluginViolation,
    ToolPostInvokePayload,
    ToolPostInvokeResult,
    ToolPreInvokePayload,
    ToolPreInvokeResult,
)


class AllowPlugin(Plugin):
    """Allows, and says so in the result metadata."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        return ToolPreInvokeResult(metadata={"allowed_by": "python", "arg_types": {k: type(v).__name__ for k, v in payload.args.items()}})


class ModifyPlugin(Plugin):
    """Upper-cases ``args.q`` and adds an argument."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        args = dict(payload.args)
        args["q"] = str(args.get("q")).upper()
        args["added"] = True
        return ToolPreInvokeResult(
            modified_payload=ToolPreInvokePayload(name=payload.name, args=args),
            metadata={"modified_by": "python"},
        )


class BlockPlugin(Plugin):
    """Blocks with a full violation."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        return ToolPreInvokeResult(
            continue_processing=False,
            violation=PluginViolation(
                reason="Denied word",
                description=f"argument q of {payload.name} contains a denied word",
                code="DENY_WORD",
                details={"word": payload.args.get("q"), "positions": [0, 4], "nested": {"strict": True}},
                mcp_error_code=-32001,
                http_status_code=403,
            ),
        )


class RaisePlugin(Plugin):
    """Always raises."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        raise ValueError("boom from python")


class RaiseStructuredPlugin(Plugin):
    """Raises a structured PluginError."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        raise PluginError(
            error=PluginErrorModel(
                message="quota exhausted",
                plugin_name="RaiseStructured",
                code="QUOTA",
                details={"limit": 5},
                mcp_error_code=-32002,
            )
        )


class StatefulPlugin(Plugin):
    """Writes local and global state in pre, reads its local state back in post."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        context.set_state("seen_q", payload.args.get("q"))
        context.set_state("calls", 1)
        context.metadata["phase"] = "pre"
        context.global_context.state["stateful_seen"] = True
        gc = context.global_context
        return ToolPreInvokeResult(
            metadata={
                "saw_global_state": dict(gc.state),
                "saw_request_id": gc.request_id,
                "saw_server_id": gc.server_id,
                "saw_tenant_id": gc.tenant_id,
                "saw_user": gc.user,
            }
        )

    async def tool_post_invoke(self, payload: ToolPostInvokePayload, context: PluginContext) -> ToolPostInvokeResult:
        before = dict(context.state)
        context.set_state("calls", int(context.get_state("calls", 0)) + 1)
        context.metadata["phase"] = "post"
        return ToolPostInvokeResult(metadata={"local_state_before_post": before})


class EchoPlugin(Plugin):
    """Echoes what it received in the result metadata; sleeps ``args.sleep`` seconds first."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        delay = payload.args.get("sleep")
        if delay:
            await asyncio.sleep(float(delay))
        gc = context.global_context
        return ToolPreInvokeResult(
            metadata={"args": payload.args, "user": gc.user, "request_id": gc.request_id}
        )
