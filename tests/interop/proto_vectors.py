"""Cross-check helper for tests/interop/codec_interop_test.ts.

Uses the reference implementation installed in .venv (cpex 0.1.4: its generated protobuf
classes, its pydantic models and its proto conversion helpers) to

  descriptor  compare the reference's compiled schema with our proto/plugin_service.proto
              (compiled here with grpc_tools.protoc); prints a JSON verdict;
  vectors     build wire messages the way the reference's gateway and servers do and print
              them as JSON [{name, type, spec, hex}] (deterministic map order);
  decode      read JSON [{name, type, hex}] on stdin (bytes produced by our codec), parse them
              with the reference and print what the reference sees.

Usage: .venv/bin/python tests/interop/proto_vectors.py descriptor|vectors|decode
"""

import json
import os
import sys
import tempfile

from google.protobuf import descriptor_pb2, json_format

from cpex.framework.external import proto_convert as pc
from cpex.framework.external.grpc.proto import plugin_service_pb2 as pb
from cpex.framework.models import (
    GlobalContext,
    PluginConfig,
    PluginContext,
    PluginResult,
    PluginViolation,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ser(msg) -> str:
    return msg.SerializeToString(deterministic=True).hex()


def struct_of(d: dict):
    s = pb.GetPluginConfigResponse().config.__class__()
    json_format.ParseDict(d, s)
    return s


# ---------------------------------------------------------------------------------------------
# descriptor


def normalized(fdp: descriptor_pb2.FileDescriptorProto) -> dict:
    fdp = descriptor_pb2.FileDescriptorProto.FromString(fdp.SerializeToString())
    fdp.ClearField("source_code_info")
    fdp.ClearField("options")
    d = json_format.MessageToDict(fdp, preserving_proto_field_name=True)
    d.pop("name", None)
    strip_json_names(d)
    # Message order in the file does not matter on the wire.
    d["message_type"] = sorted(d.get("message_type", []), key=lambda m: m["name"])
    return d


def strip_json_names(node) -> None:
    # protoc fills in json_name in descriptor sets; generated modules omit it.
    if isinstance(node, dict):
        node.pop("json_name", None)
        for v in node.values():
            strip_json_names(v)
    elif isinstance(node, list):
        for v in node:
            strip_json_names(v)


def cmd_descriptor() -> None:
    ref = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(ref)
    try:
        from grpc_tools import protoc
        import grpc_tools
    except ImportError:
        print(json.dumps({"skipped": "grpc_tools not installed"}))
        return
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.pb")
        rc = protoc.main([
            "protoc",
            f"-I{os.path.join(REPO, 'proto')}",
            f"-I{include}",
            f"--descriptor_set_out={out}",
            "plugin_service.proto",
        ])
        if rc != 0:
            print(json.dumps({"error": f"protoc failed with {rc} on proto/plugin_service.proto"}))
            return
        fds = descriptor_pb2.FileDescriptorSet.FromString(open(out, "rb").read())
    ours = fds.file[0]
    print(json.dumps({"reference": normalized(ref), "ours": normalized(ours)}, sort_keys=True))


# ---------------------------------------------------------------------------------------------
# vectors


def cmd_vectors() -> None:
    vectors = []

    def add(name, type_name, spec, msg):
        vectors.append({"name": name, "type": type_name, "spec": spec, "hex": ser(msg)})

    # InvokeHookRequest as the reference gateway builds it (payload = python-mode dump).
    contexts = {
        "minimal": PluginContext(global_context=GlobalContext(request_id="req-1", server_id="srv-1")),
        "user_string_and_state": PluginContext(
            global_context=GlobalContext(
                request_id="req-2",
                server_id="srv",
                tenant_id="tenant-a",
                user="alice@example.com",
                state={"counter": 3, "flags": [True, False, None]},
                metadata={"trace": {"id": "abc", "depth": 1.5}},
            ),
            state={"local": "x", "n": 0},
            metadata={"m": []},
        ),
        "user_empty_string": PluginContext(global_context=GlobalContext(request_id="r", user="")),
        "user_struct": PluginContext(
            global_context=GlobalContext(request_id="r", user={"email": "a@b.c", "roles": ["admin"]})
        ),
        "user_empty_struct": PluginContext(global_context=GlobalContext(request_id="r", user={})),
    }
    payloads = {
        "minimal": {"name": "echo", "args": {"text": "hello"}, "headers": None},
        "user_string_and_state": {
            "name": "search",
            "args": {"q": "ünïcødé 中文 🎉", "limit": 10, "ratio": 0.25, "big": 2**60, "neg": -3,
                     "nested": {"list": [1, "a", None, True, {"k": []}, []], "empty": {}}},
            "headers": {"x-tenant": "a"},
        },
        "user_empty_string": {"name": "t", "args": {}, "headers": None},
        "user_struct": {"name": "t", "args": {"z": 0, "f": False, "s": ""}, "headers": None},
        "user_empty_struct": {"name": "t", "args": {}, "headers": None},
    }
    for key, ctx in contexts.items():
        req = pb.InvokeHookRequest(hook_type="tool_pre_invoke", plugin_name="ArgGuard")
        json_format.ParseDict(payloads[key], req.payload)
        req.context.CopyFrom(pc.pydantic_context_to_proto(ctx))
        add(f"invoke_request/{key}", "InvokeHookRequest", {
            "hook_type": "tool_pre_invoke",
            "plugin_name": "ArgGuard",
            "payload": payloads[key],
            "context": ctx.model_dump(mode="json"),
        }, req)

    # InvokeHookResponse as the reference servers build it (result = PluginResult dump).
    results = {
        "allow": PluginResult(),
        "block": PluginResult(
            continue_processing=False,
            violation=PluginViolation(
                reason="Blocked word",
                description="Argument 'text' contains a blocked word",
                code="BLOCKED_WORD",
                details={"arg": "text"},
                mcp_error_code=-32001,
            ),
        ),
        "modified": PluginResult(
            modified_payload={"name": "echo", "args": {"text": "yikes", "n": 3}, "headers": None},
            metadata={"redacted": 1},
            retry_delay_ms=250,
        ),
        "denial_metadata": PluginResult(
            continue_processing=False,
            denial_metadata={"score": 0.9, "n": 2, "ok": False},
        ),
    }
    for key, result in results.items():
        resp = pb.InvokeHookResponse(plugin_name="ArgGuard")
        dump = result.model_dump()
        pc.populate_proto_result(dump, resp)
        ctx = None
        if key == "modified":
            ctx = PluginContext(
                global_context=GlobalContext(request_id="r", state={"seen": True}),
                state={"calls": 1},
            )
            resp.context.CopyFrom(pc.pydantic_context_to_proto(ctx))
        add(f"invoke_response/{key}", "InvokeHookResponse", {
            "plugin_name": "ArgGuard",
            "result": json.loads(json.dumps(dump)),
            "context": ctx.model_dump(mode="json") if ctx else None,
        }, resp)

    # Error response as the reference gRPC server fills it (details only when non-empty).
    err = {"message": "ValueError('Sadly!')", "plugin_name": "ArgGuard", "code": "",
           "details": {"why": "test"}, "mcp_error_code": -32603}
    resp = pb.InvokeHookResponse(plugin_name="ArgGuard")
    resp.error.message = err["message"]
    resp.error.plugin_name = err["plugin_name"]
    resp.error.code = err["code"]
    resp.error.mcp_error_code = err["mcp_error_code"]
    json_format.ParseDict(err["details"], resp.error.details)
    add("invoke_response/error", "InvokeHookResponse", {"plugin_name": "ArgGuard", "error": err}, resp)

    # Config queries.
    add("config_request", "GetPluginConfigRequest", {"name": "ArgGuard"},
        pb.GetPluginConfigRequest(name="ArgGuard"))
    cfg = PluginConfig(name="ArgGuard", kind="plugins.arg_guard.ArgGuard", hooks=["tool_pre_invoke"],
                       mode="sequential", priority=10, config={"words": ["crap"], "limit": 3})
    cfg_dump = json.loads(json.dumps(cfg.model_dump(), default=str))
    resp = pb.GetPluginConfigResponse(found=True)
    json_format.ParseDict(cfg_dump, resp.config)
    add("config_response/found", "GetPluginConfigResponse", {"found": True, "config": cfg_dump}, resp)
    add("config_response/not_found", "GetPluginConfigResponse", {"found": False},
        pb.GetPluginConfigResponse())
    add("configs_request", "GetPluginConfigsRequest", {}, pb.GetPluginConfigsRequest())
    resp = pb.GetPluginConfigsResponse()
    for c in (cfg_dump, {"name": "Other", "hooks": []}):
        json_format.ParseDict(c, resp.configs.add())
    add("configs_response", "GetPluginConfigsResponse", {"configs": [cfg_dump, {"name": "Other", "hooks": []}]}, resp)
    add("health_request", "HealthCheckRequest", {"service": ""}, pb.HealthCheckRequest())
    add("health_response", "HealthCheckResponse", {"status": 1},
        pb.HealthCheckResponse(status=pb.HealthCheckResponse.SERVING))

    print(json.dumps(vectors))


# ---------------------------------------------------------------------------------------------
# decode


def cmd_decode() -> None:
    items = json.load(sys.stdin)
    out = []
    for item in items:
        cls = getattr(pb, item["type"])
        entry = {"name": item["name"]}
        try:
            msg = cls.FromString(bytes.fromhex(item["hex"]))
        except Exception as exc:  # noqa: BLE001
            entry["parse_error"] = repr(exc)
            out.append(entry)
            continue
        entry["dict"] = json_format.MessageToDict(msg, preserving_proto_field_name=True)
        if item["type"] == "InvokeHookRequest":
            entry["payload"] = json_format.MessageToDict(msg.payload)
            entry["context"] = pc.proto_context_to_pydantic(msg.context).model_dump(mode="json")
        elif item["type"] == "InvokeHookResponse":
            if msg.HasField("result") or msg.HasField("result_base"):
                entry["result"] = pc.proto_result_to_dict(msg)
            if msg.HasField("context"):
                ctx = PluginContext(global_context=GlobalContext(request_id="gateway"),
                                    state={"stale": 1}, metadata={"stale": 2})
                pc.update_pydantic_context_from_proto(ctx, msg.context)
                entry["context"] = ctx.model_dump(mode="json")
        out.append(entry)
    print(json.dumps(out))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    {"descriptor": cmd_descriptor, "vectors": cmd_vectors, "decode": cmd_decode}.get(
        cmd, lambda: sys.exit(f"usage: {sys.argv[0]} descriptor|vectors|decode")
    )()
