"""Two real `kensho serve` replicas on one PostgreSQL and one Redis (a Redis of this test's own,
stopped mid-test): one quota per client for the whole fleet, clients told apart by the
forwarded address of a trusted proxy, and a per-replica fallback that never answers 5xx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redisproc import RedisProcess
from serverproc import read_log, server_env, start_server, wait_for_port

pytestmark = pytest.mark.slow

SEARCH_PATH = "/api/search/no/such/route"

RATE, BURST = 1, 10
#: The search class's own policy: a burst large enough for optimistic admission, which may
#: admit one request per replica beyond the quota (`docs/operations.md`).
SEARCH_BURST, REPLICAS = 60, 2


@contextlib.asynccontextmanager
async def two_replicas(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[list[tuple[str, Path]]]:
    procs: list[asyncio.subprocess.Process] = []
    replicas: list[tuple[str, Path]] = []
    try:
        for name in ("a", "b"):  # one after the other: the first applies the migrations
            env = server_env(
                tmp_path,
                KENSHO_DATABASE_URL=database_url,
                KENSHO_REDIS_URL=redis_url,
                KENSHO_DATA_DIR=str(tmp_path / name),
                KENSHO_PRESTOP_DELAY="0",
                KENSHO_READY_CACHE_SECONDS="0",
                KENSHO_RATE_LIMIT_RPS=str(RATE),
                KENSHO_RATE_LIMIT_BURST=str(BURST),
                KENSHO_RATE_LIMIT_SEARCH_RPS=str(RATE),
                KENSHO_RATE_LIMIT_SEARCH_BURST=str(SEARCH_BURST),
                KENSHO_TRUSTED_PROXIES="127.0.0.1",
                KENSHO_CATALOG_SYNC_INTERVAL="0",
            )
            log = tmp_path / f"{name}.log"
            proc = await start_server(log, env)
            procs.append(proc)
            replicas.append((f"http://127.0.0.1:{await wait_for_port(log, proc)}", log))
        yield replicas
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 60)
    for _, log in replicas:  # a clean shutdown: the takes on their way answered first
        text = read_log(log)
        assert "Task was destroyed but it is pending" not in text, text[-3000:]
        assert "was never awaited" not in text, text[-3000:]


async def drive(
    http: aiohttp.ClientSession,
    bases: list[str],
    client: str,
    count: int,
    path: str = "/no/such/route",
) -> tuple[int, float, set[int], list[dict[str, str]]]:
    """`count` requests from `client` at once, alternating replicas: (allowed, seconds,
    statuses, the rate-limit headers seen)."""

    async def one(i: int) -> tuple[int, dict[str, str]]:
        async with http.get(
            bases[i % len(bases)] + path, headers={"X-Forwarded-For": client}
        ) as resp:
            await resp.read()
            return resp.status, {k: resp.headers[k] for k in ("RateLimit-Policy", "RateLimit")}

    start = time.monotonic()
    answers = await asyncio.gather(*(one(i) for i in range(count)))
    seconds = time.monotonic() - start
    statuses = {status for status, _ in answers}
    allowed = sum(status != 429 for status, _ in answers)
    return allowed, seconds, statuses, [h for _, h in answers]


async def test_two_replicas_enforce_one_limit_per_client_and_survive_redis_going_away(
    tmp_path: Path, database_url: str, redis_server: RedisProcess
) -> None:
    async with (
        two_replicas(tmp_path, database_url, redis_server.url) as replicas,
        aiohttp.ClientSession() as http,
    ):
        bases = [base for base, _ in replicas]
        for n, client in enumerate(("198.51.100.1", "198.51.100.2", "198.51.100.3")):
            allowed, seconds, statuses, headers = await drive(http, bases, client, 40)
            assert statuses == {404, 429}, statuses
            # GCRA: the burst, plus what the rate refilled meanwhile (+1 for the refill in
            # flight at the end): the fleet-wide cap, not twice it
            assert BURST <= allowed <= BURST + RATE * seconds + 1, (client, allowed, seconds)
            assert all(h["RateLimit-Policy"] == '"default";q=10;w=10' for h in headers)
            assert all(re.fullmatch(r'"default";r=\d+;t=\d+', h["RateLimit"]) for h in headers)
            assert any(h["RateLimit"] == '"default";r=9;t=1' for h in headers), n

        # a new client's burst under an optimistic policy: the quota, plus at most one
        # request per replica admitted before Redis said the quota was empty
        for client in ("198.51.100.4", "198.51.100.5"):
            allowed, seconds, statuses, headers = await drive(
                http, bases, client, 3 * SEARCH_BURST, SEARCH_PATH
            )
            assert statuses == {404, 429}, statuses
            bound = SEARCH_BURST + RATE * seconds + 1 + REPLICAS
            assert SEARCH_BURST <= allowed <= bound, (client, allowed, seconds)
            assert all(h["RateLimit-Policy"] == '"search";q=60;w=60' for h in headers)
            assert all(re.fullmatch(r'"search";r=\d+;t=\d+', h["RateLimit"]) for h in headers)
        for base, _ in replicas:
            async with http.get(base + "/metrics") as resp:
                metrics = await resp.text()
            admitted = re.search(r"^rate_limit_optimistic_admissions_total (\S+)$", metrics, re.M)
            assert admitted is not None and float(admitted.group(1)) >= 1, metrics

        # Redis goes away mid-test: no 5xx, limits per replica, degraded readiness, metrics.
        # First a new client under the optimistic policy: admitted on credit, its takes fail
        # in the background and fall back to the local quotas
        redis_server.stop()
        allowed, seconds, statuses, _ = await drive(
            http, bases, "198.51.100.8", 3 * SEARCH_BURST, SEARCH_PATH
        )
        assert statuses <= {404, 429} and 429 in statuses, statuses
        assert allowed <= REPLICAS * (SEARCH_BURST + RATE * seconds + 1), allowed
        allowed, seconds, statuses, _ = await drive(http, bases, "198.51.100.9", 40)
        assert statuses <= {404, 429} and 429 in statuses, statuses
        assert allowed <= 2 * (BURST + RATE * seconds + 1), allowed  # each replica alone
        for base, log in replicas:
            async with http.get(base + "/health/ready") as resp:
                ready = await resp.json()
            # degraded, never unready, because of it (the catalog may still be loading here:
            # a fresh replica is not ready until its first sync and index)
            check = ready["checks"]["rate_limit"]
            assert check["status"] == "failing" and check["required"] is False, ready
            others_ok = all(c["status"] == "ok" for c in ready["checks"].values() if c["required"])
            assert ready["status"] == ("degraded" if others_ok else "not_ready"), ready
            async with http.get(base + "/metrics") as resp:
                metrics = await resp.text()
            assert "rate_limit_fallback_active 1.0" in metrics
            lines = [
                json.loads(line)
                for line in read_log(log).splitlines()
                if '"rate_limit_fallback"' in line
            ]
            assert len(lines) == 1, lines  # logged once, however many requests
            assert "Redis unreachable" in lines[0]["msg"]

        redis_server.start()  # back: fleet-wide again (tried at most a second later)

        async def recovered(base: str) -> bool:
            async with http.get(base + "/no/such", headers={"X-Forwarded-For": "192.0.2.1"}):
                pass
            async with http.get(base + "/metrics") as resp:
                return "rate_limit_fallback_active 0.0" in await resp.text()

        for base in bases:
            deadline = time.monotonic() + 30
            while not await recovered(base):
                assert time.monotonic() < deadline, "the limiter never went back to Redis"
                await asyncio.sleep(0.2)

        # optimistic admissions right before shutdown: their takes are answered, not dropped
        allowed, _, statuses, _ = await drive(http, bases, "198.51.100.10", 20, SEARCH_PATH)
        assert allowed == 20 and statuses == {404}, statuses
