"""/health/live throughput and p99: the full middleware stack against a bare aiohttp handler.

Each server runs in its own subprocess (`python -m bench.http --serve full|bare PORT`), the load
comes from `wrk` when installed (else an aiohttp client in this process), one server at a time
on loopback. `main()` prints and returns a JSON dict; the target is full >= 70% of bare.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from typing import Any

from bench.loadgen import run_wrk, start_server, summarize

DURATION = float(os.environ.get("BENCH_DURATION", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PATH = "/health/live"


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _serve(mode: str, port: int) -> None:
    from aiohttp import web

    if mode == "bare":

        async def live(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_get(PATH, live)
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
        return
    from kensho.config import load_config
    from kensho.http.app import create_app
    from kensho.http.server import serve
    from kensho.observability.logging import configure_logging, flush_logging

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


def _wrk(port: int) -> dict[str, float]:
    return run_wrk(f"http://127.0.0.1:{port}{PATH}", connections=CONNECTIONS, seconds=DURATION)


async def _aiohttp_load(port: int) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    url = f"http://127.0.0.1:{port}{PATH}"
    end = time.perf_counter() + DURATION
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    return summarize(latencies, DURATION)


def _measure(mode: str, tool: str) -> dict[str, float]:
    proc, port = start_server("bench.http", mode, timeout=20)
    try:
        return _wrk(port) if tool == "wrk" else asyncio.run(_aiohttp_load(port))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> dict[str, Any]:
    """Run bare then full; print and return the JSON result."""
    tool = "wrk" if shutil.which("wrk") else "aiohttp"
    # Interleave rounds and keep each side's median: the machine is shared and noisy.
    rounds = [(_measure("bare", tool), _measure("full", tool)) for _ in range(ROUNDS)]
    bare = _median([b for b, _ in rounds])
    full = _median([f for _, f in rounds])
    result: dict[str, Any] = {
        "benchmark": "http /health/live",
        "load_generator": tool,
        "connections": CONNECTIONS,
        "duration_s": DURATION,
        "rounds": ROUNDS,
        "bare": bare,
        "full_stack": full,
        "full_vs_bare": round(full["rps"] / bare["rps"], 3),
        "target": 0.70,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
