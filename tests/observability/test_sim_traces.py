"""`kensho sim` as its own process continues Kenshō's traces: its handlers are server spans
under the caller's `traceparent`, exported to `KENSHO_OTEL_ENDPOINT`."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiohttp

from observability.otlp import otlp_receiver

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


async def test_the_simulator_process_continues_the_callers_trace() -> None:
    async with otlp_receiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
        env |= {"KENSHO_OTEL_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kensho", "sim", "--port", "0",
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            url = json.loads(line)["url"]
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{url}/", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}) as resp,
            ):
                assert resp.status == 200
            (span,) = await receiver.wait_for(
                lambda spans: [s for s in spans if s.trace_id == TRACE]
            )
        finally:
            proc.terminate()
            await proc.wait()
    assert span.kind == "server" and span.parent_id == PARENT
    assert span.service == "crunchyroll-simulator"
    assert span.name == "GET /"
