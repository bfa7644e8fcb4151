"""A flag flipped on one `kensho serve` process is followed by another, without a restart."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from serverproc import read_log, server_env, start_server, wait_for_port

pytestmark = pytest.mark.slow

ADMIN = "fleet-flags-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
SEARCH = "/api/search?q=the&limit=10"
_KINDS = {"exact": 3, "prefix": 2, "fuzzy": 1}


async def wait_until(probe: Callable[[], Awaitable[Any]], what: str, seconds: float = 90) -> Any:
    """Poll `probe()` until it returns something truthy (a real process: no event to await)."""
    deadline = time.monotonic() + seconds
    while not (value := await probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return value


async def test_a_put_on_one_replica_flips_the_flag_on_another(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    shared = {
        "KENSHO_DATABASE_URL": database_url,
        "KENSHO_REDIS_URL": redis_url,
        "KENSHO_ADMIN_TOKEN": ADMIN,
        "KENSHO_CURSOR_SECRET": "fleet-flags-cursor-secret",
        "KENSHO_REDIS_PREFIX": f"kensho-test:{secrets.token_hex(6)}:",
        "KENSHO_PRESTOP_DELAY": "0",
        # an hour: only the pub/sub announcement can carry the change within this test
        "KENSHO_FLAGS_REFRESH": "3600",
    }
    procs, bases = [], []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        log = tmp_path / f"{name}.log"
        proc = await start_server(log, server_env(tmp_path / name, **shared))
        procs.append((proc, log))
    try:
        for proc, log in procs:
            bases.append(f"http://127.0.0.1:{await wait_for_port(log, proc)}")
        a, b = bases
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

            async def get(url: str) -> Any:
                async with http.get(url, headers=AUTH) as resp:
                    return resp.status, await resp.json(content_type=None)

            async def searchable() -> Any:
                status, body = await get(b + SEARCH)
                return body["items"] if status == 200 and len(body["items"]) >= 5 else None

            before = await wait_until(searchable, "the catalog to be searchable on b")
            _, flags = await get(b + "/admin/flags")
            assert flags["redis"] == "up" and flags["flags"][0]["source"] == "default"
            scores = [i["score"] for i in before]
            assert scores == sorted(scores, reverse=True)

            body = {"default_variant": "relevance", "rollout": {"popular-first": 100}}
            async with http.put(a + "/admin/flags/search-ranking", json=body, headers=AUTH) as r:
                assert r.status == 200, await r.text()

            async def flipped() -> bool:
                _, doc = await get(b + "/admin/flags")
                return bool(doc["flags"][0]["source"] == "redis")

            await wait_until(flipped, "b to follow the change", seconds=10)
            _, after = await get(b + SEARCH)
            popular = sorted(
                before, key=lambda i: (-_KINDS[i["match_kind"]], -i["popularity"], i["id"])
            )
            assert [i["id"] for i in after["items"]] == [i["id"] for i in popular]
            assert [i["id"] for i in after["items"]] != [i["id"] for i in before]
            _, doc = await get(b + "/admin/flags")
            assert doc["flags"][0]["evaluations"].get("popular-first", 0) >= 1
            async with http.get(b + "/metrics") as resp:
                text = await resp.text()
            assert 'feature_flag_state{flag="search-ranking",variant="popular-first"} 100.0' in text
    finally:
        for proc, _log in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in procs:
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                raise AssertionError(read_log(log)[-3000:]) from None
        client: aioredis.Redis = aioredis.from_url(redis_url)
        prefix = shared["KENSHO_REDIS_PREFIX"]
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
