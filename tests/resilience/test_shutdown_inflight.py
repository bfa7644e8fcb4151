"""SIGTERM to a real `kensho serve` while stream requests wait on a slow upstream.

Every accepted request must end with an HTTP answer — 2xx, or a clean problem+json 503/504 —
never a dropped connection, and the process must exit 0 within pre-stop + shutdown budget.
"""

from __future__ import annotations

import asyncio
import signal
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from auth.kit import DEMO, episodes
from serverproc import read_log, server_env, start_server, wait_for_port

from kensho.auth.crypto import KEY_FILE
from kensho.serving import serving
from kensho.upstream.simulator import SimConfig, create_sim_app

pytestmark = pytest.mark.slow

PRESTOP = 0.5
LATENCY_MS = 1500  # each stream request makes two /playback/ calls: ~3 s in flight
IN_FLIGHT = 4
#: process teardown after the in-flight budget: actors, jobs, pools, the interpreter's exit
TEARDOWN_SLACK = 6.0


class Arrivals:
    """Counts `play` calls reaching the simulator, to send SIGTERM while they are in flight."""

    def __init__(self, want: int) -> None:
        self.want = want
        self.count = 0
        self.all_arrived = asyncio.Event()

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/playback/") and request.path.endswith("/play"):
            self.count += 1
            if self.count >= self.want:
                self.all_arrived.set()
        return await handler(request)


@asynccontextmanager
async def simulator(arrivals: Arrivals) -> AsyncIterator[str]:
    """The simulator with an outermost arrivals middleware (it runs before the latency fault)."""
    app = create_sim_app(SimConfig(stream_limit_premium=IN_FLIGHT * 4))
    app.middlewares.insert(0, arrivals.middleware)
    async with serving(app) as url:
        yield url


async def _stream(
    session: aiohttp.ClientSession, url: str, token: str
) -> tuple[int, str, dict[str, Any] | None]:
    """(status, content type, body) — or raises if the connection was dropped."""
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json(content_type=None)
        return resp.status, resp.content_type, body


@pytest.mark.parametrize(
    "shutdown_timeout",
    [
        pytest.param(8.0, id="budget-covers-requests"),
        pytest.param(1.0, id="budget-shorter-than-requests"),
    ],
)
async def test_sigterm_with_stream_requests_in_flight(
    tmp_path: Path, database_url: str, redis_url: str, shutdown_timeout: float
) -> None:
    free1, _, _ = episodes()
    arrivals = Arrivals(IN_FLIGHT)
    log = tmp_path / "server.log"
    async with simulator(arrivals) as sim_url:
        env = server_env(
            tmp_path,
            KENSHO_DATABASE_URL=database_url,
            KENSHO_REDIS_URL=redis_url,
            KENSHO_UPSTREAM_URL=sim_url,
            KENSHO_PRESTOP_DELAY=str(PRESTOP),
            KENSHO_SHUTDOWN_TIMEOUT=str(shutdown_timeout),
            KENSHO_CATALOG_SYNC_INTERVAL="0",
        )
        proc = await start_server(log, env)
        try:
            port = await wait_for_port(log, proc)
            base = f"http://127.0.0.1:{port}"
            # A fresh connection per request, so a dropped one is seen as such (aiohttp would
            # silently retry an idempotent GET whose pooled keep-alive connection closed).
            connector = aiohttp.TCPConnector(force_close=True)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                tokens = []
                for _ in range(IN_FLIGHT):  # one session each: each request calls `play`
                    async with session.post(
                        base + "/api/auth/login", json={"username": DEMO[0], "password": DEMO[1]}
                    ) as resp:
                        assert resp.status == 200, await resp.text()
                        tokens.append((await resp.json())["token"])
                async with session.post(
                    sim_url + "/_sim/faults",
                    json={"path_prefix": "/playback/", "latency_ms": LATENCY_MS},
                ) as resp:
                    assert resp.status in (200, 201), await resp.text()

                url = f"{base}/api/episodes/{free1}/stream"
                calls = [asyncio.create_task(_stream(session, url, t)) for t in tokens]
                await asyncio.wait_for(arrivals.all_arrived.wait(), 20)
                assert not any(c.done() for c in calls), "requests finished before SIGTERM"
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                results = await asyncio.gather(*calls, return_exceptions=True)
                try:  # generous here; the budget is asserted below with the log at hand
                    status = await asyncio.wait_for(proc.wait(), 60)
                except TimeoutError:
                    raise AssertionError(
                        f"no exit after SIGTERM:\n{read_log(log)[-3000:]}"
                    ) from None
                took = time.monotonic() - signalled
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    text = read_log(log)
    assert status == 0, text[-3000:]
    assert took < PRESTOP + shutdown_timeout + TEARDOWN_SLACK, (took, text[-3000:])
    for result in results:
        assert not isinstance(result, BaseException), f"dropped: {result!r}\n{text[-2000:]}"
        code, content_type, body = result
        if code == 200:
            assert body is not None and body["manifest_url"] and body["quality"]
        else:
            assert code in (503, 504), (code, body)
            assert content_type == "application/problem+json" and body is not None
    if shutdown_timeout > 2 * LATENCY_MS / 1000:
        assert all(r[0] == 200 for r in results if not isinstance(r, BaseException)), results
    assert '"event":"stopped"' in text and '"event":"abandoned"' not in text
    # the unset encryption key was generated privately and the log says so
    key_file = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "KENSHO_SESSION_ENCRYPTION_KEY unset" in text
    assert key_file.read_text().strip() not in text
