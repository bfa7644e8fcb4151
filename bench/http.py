"""/health/live throughput and p99: the full middleware stack against a bare aiohttp handler.

Each server runs in its own subprocess (`python -m bench.http --serve full|bare PORT`); both start
once, get a short warm-up, and stay up for the whole run. The load comes from `wrk` when installed
(else an aiohttp client in this process), one server at a time on loopback.

How: paired short rounds (`loadgen.paired_rounds`): `BENCH_ROUNDS` rounds (default 10), each a
`BENCH_DURATION`-second run (default 2) against bare and one against full, the order alternating
every round; each round gives full rps / bare rps, and the headline `full_vs_bare` is the median
of those per-round ratios. Why: this machine is shared and its throughput drifts 20-40 % from one
second to the next, so separate long runs per side (a ratio of medians) mostly measured the
drift; two runs seconds apart see about the same machine, alternation cancels a steady drift, and
the median drops the rounds a neighbour spoiled. `bare` / `full_stack` are each side's medians
over the rounds. `main()` prints and returns a JSON dict; the target is full >= 70% of bare.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

from bench.loadgen import paired_rounds, paired_summary, run_wrk, start_server, summarize
from kensho.config import load_config
from kensho.http.app import create_app
from kensho.http.server import serve
from kensho.observability.logging import configure_logging, flush_logging

DURATION = float(os.environ.get("BENCH_DURATION", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WARM_UP = float(os.environ.get("BENCH_WARM_UP", "1"))
PATH = "/health/live"


def _serve(mode: str, port: int) -> None:

    if mode == "bare":

        async def live(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_get(PATH, live)
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
        return

    config = load_config(overrides={"port": port, "prestop_delay": 0})
    # As `kensho serve` runs: queued JSON logging, the access log on, every middleware and route.
    configure_logging(config.log_level, config.log_format, queued=True)
    # No pools, actors or jobs: a catalog sync in the background would measure the sync, and
    # /health/live touches none of them.
    app = create_app(config, resources=[])
    try:
        status = asyncio.run(serve(config, app))
    finally:
        flush_logging()
    sys.exit(status)


async def _aiohttp_load(port: int, seconds: float) -> dict[str, float]:

    latencies: list[float] = []
    url = f"http://127.0.0.1:{port}{PATH}"
    end = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    return summarize(latencies, seconds)


def _load(tool: str, port: int, seconds: float) -> dict[str, float]:
    if tool == "wrk":
        url = f"http://127.0.0.1:{port}{PATH}"
        return run_wrk(url, connections=CONNECTIONS, seconds=seconds)
    return asyncio.run(_aiohttp_load(port, seconds))


def main() -> dict[str, Any]:
    """Start bare and full, warm both, run the paired rounds; print and return the JSON result."""
    tool = "wrk" if shutil.which("wrk") else "aiohttp"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        bare, bare_port = start_server("bench.http", "bare", timeout=20)
        procs.append(bare)
        full, full_port = start_server("bench.http", "full", timeout=20)
        procs.append(full)
        for port in (bare_port, full_port):
            _load(tool, port, WARM_UP)
        paired = paired_rounds(
            lambda: _load(tool, bare_port, DURATION),
            lambda: _load(tool, full_port, DURATION),
            ROUNDS,
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    result: dict[str, Any] = {
        "benchmark": "http /health/live",
        "load_generator": tool,
        "connections": CONNECTIONS,
        "duration_s": DURATION,
        "rounds": ROUNDS,
        "bare": paired["baseline"],
        "full_stack": paired["candidate"],
        "full_vs_bare": round(paired["ratio"], 3),
        **paired_summary(paired),
        "target": 0.70,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
