# -*- coding: utf-8 -*-
"""The reference side's scripted plugin of the manager differential suite.

One class for every generated plugin (`kind: behaviour_plugin.BehaviourPlugin` in the scenario
YAML; our side maps the same kind to `behaviour_plugin.ts`). What it does on each call comes from
its `config:` block: `script[i]` is the behaviour for the i-th call of the scenario's sequence
(the drivers put `_call: i` into the global context's metadata before each call).

A behaviour never branches on what the plugin observes, so one divergence does not cascade: it
records what it saw (payload, its local state, the global state) into `self.sink`, writes local
and global state, then allows, modifies, blocks, raises or sleeps past the timeout.
"""

import asyncio
import copy

from pydantic import BaseModel

from cpex.framework import (
    HttpAuthCheckPermissionResultPayload,
    HttpHeaderPayload,
    Plugin,
    PluginPayload,
    PluginResult,
)
from cpex.framework.models import PluginViolation

CUSTOM_HOOK = "conformance_custom"


class CustomPayload(PluginPayload):
    """Payload of the suite's custom hook (unregistered: the manager ignores its fields)."""

    item: str
    data: dict = {}


def dump(value):
    """JSON-able view of a payload, model or container."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    return value


def modify(hook, seen, name, tag, granted):
    """The hook-specific change a `modify` behaviour makes (the same function as on our side)."""
    p = copy.deepcopy(seen)
    if hook in ("tool_pre_invoke", "prompt_pre_fetch"):
        p["args"] = {**(p.get("args") or {}), name: tag}
    elif hook == "tool_post_invoke":
        result = p.get("result")
        p["result"] = {**(result if isinstance(result, dict) else {}), name: tag}
    elif hook == "prompt_post_fetch":
        result = p.get("result") or {}
        p["result"] = {**result, "messages": [*result.get("messages", []), {"role": "assistant", "text": tag}]}
    elif hook == "resource_pre_fetch":
        p["metadata"] = {**(p.get("metadata") or {}), name: tag}
    elif hook == "resource_post_fetch":
        content = p.get("content")
        p["content"] = {**(content if isinstance(content, dict) else {}), name: tag}
    elif hook == "agent_pre_invoke":
        p["parameters"] = {**(p.get("parameters") or {}), name: tag}
    elif hook == "agent_post_invoke":
        p["tool_calls"] = [*(p.get("tool_calls") or []), {"plugin": name, "tag": tag}]
    elif hook in ("http_pre_request", "http_post_request"):
        # Cross-type: the result is a header map; a later plugin may get that map as its input.
        headers = p.get("headers") if "path" in p else p
        p = {**(headers or {}), "x-" + name: tag}
    elif hook == "http_auth_resolve_user":
        base = {} if "headers" in p else p
        p = {**base, name: tag}
    elif hook == "http_auth_check_permission":
        p = {"granted": bool(granted), "reason": tag}
    elif hook == CUSTOM_HOOK:
        p["data"] = {**(p.get("data") or {}), name: tag}
    return p


def build(hook, data, payload_classes):
    """The reference's typed object for a modified payload of `hook`."""
    if hook in ("http_pre_request", "http_post_request"):
        return HttpHeaderPayload(data)
    if hook == "http_auth_resolve_user":
        return data
    if hook == "http_auth_check_permission":
        return HttpAuthCheckPermissionResultPayload(**data)
    return payload_classes[hook](**data)


class BehaviourPlugin(Plugin):
    """Runs the scripted behaviour of its config for each call."""

    payload_classes: dict = {}

    def __init__(self, config):
        super().__init__(config)
        self.sink = None  # set by the driver: list of trace events

    async def _run(self, hook, payload, context):
        cfg = self.config.config or {}
        call = context.global_context.metadata.get("_call", 0)
        script = cfg.get("script") or []
        b = (script[call] if call < len(script) else None) or {}
        seen = dump(payload)
        if self.sink is not None:
            self.sink.append(
                {
                    "plugin": self.name,
                    "hook": hook,
                    "call": call,
                    "payload": copy.deepcopy(seen),
                    "local": copy.deepcopy(dump(dict(context.state))),
                    "global": copy.deepcopy(dump(dict(context.global_context.state))),
                    "ctx": context,
                }
            )
        for k, v in (b.get("local") or {}).items():
            context.state[k] = v
        for k, v in (b.get("global") or {}).items():
            context.global_context.state[k] = v
        for k, v in (b.get("gmeta") or {}).items():
            context.global_context.metadata[k] = v
        act = b.get("act", "allow")
        if act == "throw":
            raise RuntimeError(f"boom {self.name}")
        if act == "sleep":
            await asyncio.sleep(b.get("seconds", 30))
        fields = {}
        if b.get("meta"):
            fields["metadata"] = dict(b["meta"])
        if b.get("retry"):
            fields["retry_delay_ms"] = b["retry"]
        if b.get("headers"):
            fields["http_headers"] = dict(b["headers"])
        if act == "modify" or b.get("modify"):
            data = modify(hook, seen, self.name, b.get("tag", self.name), b.get("granted", True))
            fields["modified_payload"] = build(hook, data, self.payload_classes)
        if b.get("violation"):
            fields["violation"] = PluginViolation(**b["violation"])
        if act == "block":
            fields["continue_processing"] = False
        return PluginResult(**fields)

    async def tool_pre_invoke(self, payload, context):
        return await self._run("tool_pre_invoke", payload, context)

    async def tool_post_invoke(self, payload, context):
        return await self._run("tool_post_invoke", payload, context)

    async def prompt_pre_fetch(self, payload, context):
        return await self._run("prompt_pre_fetch", payload, context)

    async def prompt_post_fetch(self, payload, context):
        return await self._run("prompt_post_fetch", payload, context)

    async def resource_pre_fetch(self, payload, context):
        return await self._run("resource_pre_fetch", payload, context)

    async def resource_post_fetch(self, payload, context):
        return await self._run("resource_post_fetch", payload, context)

    async def agent_pre_invoke(self, payload, context):
        return await self._run("agent_pre_invoke", payload, context)

    async def agent_post_invoke(self, payload, context):
        return await self._run("agent_post_invoke", payload, context)

    async def http_pre_request(self, payload, context):
        return await self._run("http_pre_request", payload, context)

    async def http_post_request(self, payload, context):
        return await self._run("http_post_request", payload, context)

    async def http_auth_resolve_user(self, payload, context):
        return await self._run("http_auth_resolve_user", payload, context)

    async def http_auth_check_permission(self, payload, context):
        return await self._run("http_auth_check_permission", payload, context)

    async def conformance_custom(self, payload, context):
        return await self._run(CUSTOM_HOOK, payload, context)
