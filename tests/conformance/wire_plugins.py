"""Python twins of tests/conformance/wire_plugins.ts, served by the reference's plugin servers
(MCP, gRPC, Unix) in the wire-level conformance tests (wire_*_test.ts).

Each plugin acts only on a payload whose ``name`` is its own name in lower case (``echo``,
``modify``, ...; the prompt and resource payloads by ``prompt_id`` / ``uri``), so one gateway with every plugin configured exercises one behaviour per call;
on other payloads it allows and returns nothing. Loaded as ``kind: wire_plugins.<Class>`` with
``tests/conformance/`` on ``PYTHONPATH``.
"""

from cpex.framework import (
    Plugin,
    PluginContext,
    PluginViolation,
    PromptPrehookPayload,
    PromptPrehookResult,
    ResourcePostFetchPayload,
    ResourcePostFetchResult,
    ResourcePreFetchPayload,
    ResourcePreFetchResult,
    ToolPostInvokePayload,
    ToolPostInvokeResult,
    ToolPreInvokePayload,
    ToolPreInvokeResult,
)


def mine(payload, name: str) -> bool:
    return payload.name == name


class EchoPlugin(Plugin):
    """Returns the payload unchanged as ``modified_payload`` and its args as metadata."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        if not mine(payload, "echo"):
            return ToolPreInvokeResult()
        return ToolPreInvokeResult(modified_payload=payload, metadata={"args": payload.args})

    async def tool_post_invoke(self, payload: ToolPostInvokePayload, context: PluginContext) -> ToolPostInvokeResult:
        if not mine(payload, "echo"):
            return ToolPostInvokeResult()
        return ToolPostInvokeResult(modified_payload=payload, metadata={"result": payload.result})

    async def prompt_pre_fetch(self, payload: PromptPrehookPayload, context: PluginContext) -> PromptPrehookResult:
        if payload.prompt_id != "echo":
            return PromptPrehookResult()
        return PromptPrehookResult(modified_payload=payload, metadata={"args": payload.args})

    async def resource_pre_fetch(self, payload: ResourcePreFetchPayload, context: PluginContext) -> ResourcePreFetchResult:
        if payload.uri != "echo":
            return ResourcePreFetchResult()
        return ResourcePreFetchResult(modified_payload=payload, metadata={"metadata": payload.metadata})

    async def resource_post_fetch(self, payload: ResourcePostFetchPayload, context: PluginContext) -> ResourcePostFetchResult:
        if payload.uri != "echo":
            return ResourcePostFetchResult()
        return ResourcePostFetchResult(modified_payload=payload, metadata={"content": payload.content})


class ModifyPlugin(Plugin):
    """Adds ``args.touched`` (the other arguments pass through unchanged)."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        if not mine(payload, "modify"):
            return ToolPreInvokeResult()
        args = dict(payload.args or {})
        args["touched"] = True
        return ToolPreInvokeResult(modified_payload=payload.model_copy(update={"args": args}))


class BlockPlugin(Plugin):
    """Blocks with a full violation whose details carry the args."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        if not mine(payload, "block"):
            return ToolPreInvokeResult()
        return ToolPreInvokeResult(
            continue_processing=False,
            violation=PluginViolation(
                reason="Blocked",
                description="the wire twin blocks this call",
                code="WIRE_BLOCK",
                details={"args": payload.args, "count": len(payload.args or {})},
                mcp_error_code=-32001,
                http_status_code=429,
                http_headers={"Retry-After": "7"},
            ),
            http_headers={"X-Blocked": "yes"},
            retry_delay_ms=250,
        )


class StatePlugin(Plugin):
    """Copies the args into its local state and the global state, and notes it in metadata."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        if not mine(payload, "state"):
            return ToolPreInvokeResult()
        context.set_state("args", payload.args)
        context.metadata["seen"] = len(payload.args or {})
        context.global_context.state["wire_args"] = payload.args
        return ToolPreInvokeResult(metadata={"global_keys": sorted(context.global_context.state)})


class HeadersPlugin(Plugin):
    """Allows with ``http_headers`` (rate-limit style) and a metadata note."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        if not mine(payload, "headers"):
            return ToolPreInvokeResult()
        return ToolPreInvokeResult(
            http_headers={"X-RateLimit-Remaining": "3", "X-Wire": "twin"},
            metadata={"headers": True},
        )
