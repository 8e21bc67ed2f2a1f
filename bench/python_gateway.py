"""The reference's own gateway (cpex 0.1.4 ``PluginManager`` in .venv) driven by the benchmarks,
so the Python reference can be measured stack to stack (its gateway client against its own
server) and its gateway's memory read (bench/stack_driver.ts is the parent side).

Usage: .venv/bin/python bench/python_gateway.py '<plugin entries as JSON>' '<payload JSON text>'

The entries (``kind: external`` + a transport block) are written to a temporary YAML file and
loaded by a ``PluginManager``. After ``initialize()`` and one checked call it prints ``READY``.
Then each stdin line ``<in_flight> <ms>`` runs that many concurrent callers back to back for
that long, every call on a payload parsed afresh from the JSON text (as a gateway receives
it), and prints one JSON line ``{"calls": n, "seconds": s, "latencies_ms": [...]}``. End of
stdin shuts the manager down and exits. Logging goes to stderr.
"""

import asyncio
import json
import logging
import os
import sys
import tempfile
import time

import yaml
from cpex.framework.hooks.tools import ToolPreInvokePayload
from cpex.framework.manager import PluginManager
from cpex.framework.models import GlobalContext

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


async def main() -> None:
    entries = json.loads(sys.argv[1])
    payload_text = sys.argv[2]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="cpex-bench-pygw-", delete=False) as f:
        yaml.safe_dump({"plugins": entries}, f)
        path = f.name
    try:
        manager = PluginManager(path)
        await manager.initialize()
    finally:
        os.unlink(path)
    if manager.plugin_count != len(entries):
        raise SystemExit(f"only {manager.plugin_count} of {len(entries)} plugins loaded")

    async def call() -> None:
        payload = ToolPreInvokePayload.model_validate(json.loads(payload_text))
        result, _ = await manager.invoke_hook("tool_pre_invoke", payload, GlobalContext(request_id="bench-req-0001"))
        if not result.continue_processing:
            raise RuntimeError(f"blocked: {result.violation}")

    await call()
    print("READY", flush=True)

    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        in_flight, ms = (int(x) for x in line.split())
        latencies: list[float] = []
        started = time.perf_counter()
        end = started + ms / 1000

        async def caller() -> None:
            now = time.perf_counter()
            while now < end:
                await call()
                after = time.perf_counter()
                latencies.append((after - now) * 1000)
                now = after

        await asyncio.gather(*(caller() for _ in range(in_flight)))
        seconds = time.perf_counter() - started
        print(json.dumps({"calls": len(latencies), "seconds": seconds, "latencies_ms": latencies}), flush=True)
    await manager.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
