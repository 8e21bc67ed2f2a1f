"""The conformance probe for the Python reference (cpex 0.1.4).

The same contract as ``src/testing/conformance_probe.ts`` (see its module doc): the behaviour
of ``tool_pre_invoke`` is driven by ``payload.args["op"]`` (echo, block, raise, raise_plain,
context, sleep); every other hook answers ``metadata = {"probe": <hook>, "seen": <payload>}``.
The reference's runtimes load it from ``conformance_probe.yaml`` with ``tests/interop/`` as the
working directory (``kind: plugins.conformance_probe.ConformanceProbe``), so that
``cpex conformance`` can drive the reference's servers through every check.
"""

import asyncio
import copy

from pydantic import BaseModel

from cpex.framework import (
    Plugin,
    PluginContext,
    PluginError,
    PluginErrorModel,
    PluginResult,
    PluginViolation,
    ToolPreInvokePayload,
    ToolPreInvokeResult,
)


def _dump(value):
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return copy.deepcopy(value)


def _text(value, fallback):
    return value if isinstance(value, str) else fallback


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class ConformanceProbe(Plugin):
    """Payload-driven behaviour for the conformance runner."""

    async def tool_pre_invoke(self, payload: ToolPreInvokePayload, context: PluginContext) -> ToolPreInvokeResult:
        args = dict(payload.args or {})
        op = args.get("op")
        if op == "block":
            code = _number(args.get("mcp_error_code"))
            status = _number(args.get("http_status_code"))
            return ToolPreInvokeResult(
                continue_processing=False,
                violation=PluginViolation(
                    reason=_text(args.get("reason"), "blocked"),
                    description=_text(args.get("description"), ""),
                    code=_text(args.get("code"), ""),
                    details=args.get("details") if isinstance(args.get("details"), dict) else {},
                    mcp_error_code=int(code) if code is not None else None,
                    http_status_code=int(status) if status is not None else None,
                ),
            )
        if op == "raise":
            extra = {}
            if _number(args.get("mcp_error_code")) is not None:
                extra["mcp_error_code"] = int(args["mcp_error_code"])
            raise PluginError(
                error=PluginErrorModel(
                    message=_text(args.get("message"), "probe error"),
                    plugin_name=self.name,
                    code=_text(args.get("code"), ""),
                    details=args.get("details") if isinstance(args.get("details"), dict) else {},
                    **extra,
                )
            )
        if op == "raise_plain":
            raise ValueError(_text(args.get("message"), "probe failure"))
        if op == "context":
            g = context.global_context
            seen = {
                "state": copy.deepcopy(context.state),
                "metadata": copy.deepcopy(context.metadata),
                "global_state": copy.deepcopy(g.state or {}),
                "request_id": g.request_id,
                "server_id": g.server_id,
                "tenant_id": g.tenant_id,
                "user": _dump(g.user),
            }
            context.state["probe"] = args.get("value")
            context.metadata["probe"] = args.get("value")
            g.state["probe"] = args.get("value")
            return ToolPreInvokeResult(metadata={"seen": seen})
        if op == "sleep":
            await asyncio.sleep(float(args.get("ms") or 0) / 1000)
        return ToolPreInvokeResult(
            modified_payload=ToolPreInvokePayload(name=payload.name, args=args),
            metadata={"probe": "echo"},
        )

    def _seen(self, hook, payload):
        return PluginResult(metadata={"probe": hook, "seen": _dump(payload)})

    async def tool_post_invoke(self, payload, context):
        return self._seen("tool_post_invoke", payload)

    async def prompt_pre_fetch(self, payload, context):
        return self._seen("prompt_pre_fetch", payload)

    async def prompt_post_fetch(self, payload, context):
        return self._seen("prompt_post_fetch", payload)

    async def resource_pre_fetch(self, payload, context):
        return self._seen("resource_pre_fetch", payload)

    async def resource_post_fetch(self, payload, context):
        return self._seen("resource_post_fetch", payload)

    async def agent_pre_invoke(self, payload, context):
        return self._seen("agent_pre_invoke", payload)

    async def agent_post_invoke(self, payload, context):
        return self._seen("agent_post_invoke", payload)

    async def http_pre_request(self, payload, context):
        return self._seen("http_pre_request", payload)

    async def http_post_request(self, payload, context):
        return self._seen("http_post_request", payload)

    async def http_auth_resolve_user(self, payload, context):
        return self._seen("http_auth_resolve_user", payload)

    async def http_auth_check_permission(self, payload, context):
        return self._seen("http_auth_check_permission", payload)
