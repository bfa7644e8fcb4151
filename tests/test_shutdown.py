"""Graceful shutdown of a real `kensho serve` process under steady concurrent load."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from serverproc import read_log, server_env, start_server, wait_for_port

pytestmark = pytest.mark.slow

PRESTOP = 1.5
WORKERS = 8


async def test_sigterm_under_load_drains_cleanly(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """The whole server (PostgreSQL, Redis, simulator, actors, catalog sync running) drains."""
    log = tmp_path / "server.log"
    env = server_env(
        tmp_path,
        KENSHO_DATABASE_URL=database_url,
        KENSHO_REDIS_URL=redis_url,
        KENSHO_PRESTOP_DELAY=str(PRESTOP),
        KENSHO_SHUTDOWN_TIMEOUT="5",
        KENSHO_READY_CACHE_SECONDS="0",
    )
    proc = await start_server(log, env)
    try:
        port = await wait_for_port(log, proc)
        base = f"http://127.0.0.1:{port}"
        outcomes: Counter[str] = Counter()
        ok_after_not_ready = 0
        not_ready_seen = asyncio.Event()
        sigterm_sent = asyncio.Event()
        stop = asyncio.Event()

        # A fresh connection per request: each one is either accepted (and must answer 2xx)
        # or refused by a closed listener; keep-alive reuse would blur the two.
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def worker() -> None:
                nonlocal ok_after_not_ready
                while not stop.is_set():
                    try:
                        async with session.get(base + "/health/live") as resp:
                            await resp.read()
                            outcomes["2xx" if resp.status < 300 else f"http-{resp.status}"] += 1
                            if resp.status < 300 and not_ready_seen.is_set():
                                ok_after_not_ready += 1
                    except aiohttp.ClientConnectorError:
                        outcomes["refused"] += 1
                        await asyncio.sleep(0.01)
                    except aiohttp.ClientError as exc:
                        outcomes[f"broken-{type(exc).__name__}"] += 1

            async def readiness_probe() -> list[int]:
                statuses: list[int] = []
                await sigterm_sent.wait()
                while not stop.is_set():
                    try:
                        async with session.get(base + "/health/ready") as resp:
                            statuses.append(resp.status)
                            if resp.status == 503:
                                not_ready_seen.set()
                    except aiohttp.ClientConnectorError:
                        break
                    await asyncio.sleep(0.05)
                return statuses

            workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
            probe = asyncio.create_task(readiness_probe())
            await asyncio.sleep(1.0)  # steady load before the signal
            assert outcomes["2xx"] > 0 and set(outcomes) == {"2xx"}, outcomes
            proc.send_signal(signal.SIGTERM)
            sigterm_sent.set()
            status = await asyncio.wait_for(proc.wait(), 15)
            await asyncio.sleep(0.2)  # let workers see the closed listener
            stop.set()
            await asyncio.gather(*workers)
            statuses = await probe

        text = read_log(log)
        assert status == 0, text[-2000:]
        assert set(outcomes) <= {"2xx", "refused"}, outcomes
        assert outcomes["refused"] > 0, outcomes
        assert 503 in statuses and 200 not in statuses[statuses.index(503) :], statuses
        assert ok_after_not_ready > 0, "stopped serving before the pre-stop delay ended"
        assert '"event":"stopped"' in text and '"event":"abandoned"' not in text
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
