"""Asks the Python reference (cpex 0.1.4 and its PyYAML) how it reads values, for the
conformance tests of issue 11 (tests/interop/conformance_*_test.ts).

Usage: python reference_probe.py MODE < input.json > output.json

Modes:
  yaml     input: list of YAML documents; output: per document the value of key "v" as
           {"t": type, "v": value} (floats as repr, ints as decimal text, timestamps as UTC ISO
           with milliseconds) or {"t": "error"} when safe_load raises.
  size     input: list of {"payload": {...}, "hook": name}; output: per item the reference's
           PayloadSizeError message, or null when the size check passes.
  numbers  input: list of values; output: per value what the reference's models make of it as
           an int field (PluginConfig.priority) and as a float field (UnixSocketClientConfig
           .timeout): {"int": value or null, "float": value or null} (null = rejected;
           infinities and NaN as their repr).
"""

import datetime
import json
import math
import sys

import yaml


def typed(value):
    if value is None:
        return {"t": "null"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"t": "float", "v": "nan"}
        return {"t": "float", "v": repr(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        return {"t": "timestamp", "v": value.isoformat(timespec="milliseconds") + "Z"}
    if isinstance(value, datetime.date):
        return {"t": "timestamp", "v": value.isoformat() + "T00:00:00.000Z"}
    return {"t": type(value).__name__, "v": repr(value)}


def probe_yaml(docs):
    out = []
    for doc in docs:
        try:
            out.append(typed(yaml.safe_load(doc)["v"]))
        except Exception:  # noqa: BLE001 - any load failure is the answer
            out.append({"t": "error"})
    return out


def probe_size(items):
    from cpex.framework.hooks.registry import get_hook_registry
    from cpex.framework.manager import PayloadSizeError, PluginExecutor

    executor = PluginExecutor()
    registry = get_hook_registry()
    out = []
    for item in items:
        payload = registry.json_to_payload(item["hook"], item["payload"])
        try:
            executor._validate_payload_size(payload)
            out.append(None)
        except PayloadSizeError as e:
            out.append(str(e))
    return out


def probe_numbers(values):
    from cpex.framework.models import PluginConfig, UnixSocketClientConfig

    out = []
    for value in values:
        answer = {}
        try:
            answer["int"] = PluginConfig(name="p", kind="k", priority=value).priority
        except Exception:  # noqa: BLE001 - a validation error is the answer
            answer["int"] = None
        try:
            timeout = UnixSocketClientConfig(path="/x", timeout=value).timeout
            answer["float"] = timeout if math.isfinite(timeout) else repr(timeout)
        except Exception:  # noqa: BLE001
            answer["float"] = None
        out.append(answer)
    return out


def main():
    mode = sys.argv[1]
    data = json.load(sys.stdin)
    if mode == "yaml":
        result = probe_yaml(data)
    elif mode == "size":
        result = probe_size(data)
    elif mode == "numbers":
        result = probe_numbers(data)
    else:
        raise SystemExit(f"unknown mode {mode}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
