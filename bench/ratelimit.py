"""The fleet rate limiter: its cost on the hot path, and its exactness across two replicas.

**Cost.** Cached `GET /api/anime/{id}` (Zipf ids, as `bench.catalog`) against two full-stack
servers started side by side, identical but for the limiter: "off" (no policy) and "on"
(`KENSHO_RATE_LIMIT_RPS`/`BURST` set high enough that nothing is refused, quotas in Redis
through the fleet limiter, local leases as in production). The load (wrk) comes from one
address, so every request spends from one client's quota: the case leases are for. Paired
short rounds, order alternating (`loadgen.paired_rounds`); `throughput_ratio` is the median of
per-round on/off ratios (target >= 0.85), and `cpu_ratio` the ratio of the servers' median CPU
time per request (off / on, from /proc), which the machine's neighbours hardly move. A second
pair of numbers, `many_clients`, sends each request as another of 1,000 forwarded clients
(trusted proxy 127.0.0.1): no client is busy enough to lease, so every request needs a take
(batched per loop turn), the limiter's worst case.

**Exactness (load scenario).** Two "on" replicas sharing one Redis, policy `BENCH_RL_RPS`/
`BENCH_RL_BURST` (default 10/s, burst 20), trusted proxy 127.0.0.1. Several clients, each with
its own forwarded address and its own sending rate (under the limit, 2x, 4x, 8x, and a burst-only
client), alternate between the replicas for `BENCH_RL_SECONDS` (default 10). Per client: sent,
allowed, expected (GCRA: min(sent, burst + rate x the span over which it sent)) and their ratio.
`limiter_alone` repeats the measure without HTTP: two limiters (as two replicas) on the real
Redis, so the machine's load does not blur what the algorithm admits; its last two rows use a
burst of 50, where quiet clients are admitted optimistically (`docs/operations.md`), and count
the optimistic admissions and the overshoots they paid.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from bench.catalog import ROUNDS, _fetch_all, _load_database, _zipf_ids
from bench.fullstack import pool_and_cache, serve_full
from bench.loadgen import paired_rounds, paired_summary, run_wrk, start_server
from kensho.cache import CacheSettings
from kensho.cache.redis_tier import redis_client
from kensho.composition import services
from kensho.config import Config
from kensho.errors import RateLimited
from kensho.http import keys
from kensho.ratelimit import FleetLimiter, Policy
from kensho.ratelimit.fleet import OPTIMISTIC_MIN_BURST
from kensho.store.scratch import create_scratch_database

DURATION = float(os.environ.get("BENCH_DURATION", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
SERVER_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RL_RPS = float(os.environ.get("BENCH_RL_RPS", "10"))
RL_BURST = int(os.environ.get("BENCH_RL_BURST", "20"))
RL_SECONDS = float(os.environ.get("BENCH_RL_SECONDS", "10"))
#: clients of the load scenario: (name, requests per second; 0 = one burst of 3 x the burst)
CLIENTS = (
    ("under", RL_RPS / 2),
    ("2x", RL_RPS * 2),
    ("4x", RL_RPS * 4),
    ("8x", RL_RPS * 8),
    ("burst", 0.0),
)


def _serve(mode: str, port: int, dsn: str, prefix: str) -> None:
    """One full-stack server: "off" has no limit, "on" the fleet limiter on Redis."""
    limited = mode == "on"
    config = Config(
        port=port,
        prestop_delay=0,
        database_url=dsn,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        cache_prefix=f"bench:{os.getpid()}:",
        catalog_warm_count=0,
        rate_limit_rps=float(os.environ.get("BENCH_SERVE_RPS", "0")) if limited else 0.0,
        rate_limit_burst=int(os.environ.get("BENCH_SERVE_BURST", "100")),
        trusted_proxies="127.0.0.1",
    )

    async def limiter_redis(app: web.Application) -> AsyncIterator[None]:
        """The limiter's Redis client, as `kensho.composition.stores.redis` binds it."""
        settings = CacheSettings.from_config(config).redis
        assert settings is not None
        redis = redis_client(settings)
        app[keys.RATE_LIMIT].bind(redis)
        yield
        await app[keys.RATE_LIMIT].aclose()
        await redis.aclose(close_connection_pool=True)

    stores = [pool_and_cache(config, dsn), *([limiter_redis] if limited else [])]
    serve_full(config, [*stores, services.catalog()])


_LUA = """
local ids = {%s}
local i = 0
local clients = %d
request = function()
  i = i %% #ids + 1
  if clients > 0 then
    local c = i %% clients
    wrk.headers["X-Forwarded-For"] = "10." .. math.floor(c / 256) .. "." .. (c %% 256) .. ".1"
  end
  return wrk.format("GET", "/api/anime/" .. ids[i])
end
"""


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _measured(pid: int, port: int, ids: list[str], clients: int = 0) -> dict[str, float]:
    """One wrk run, plus the server's CPU microseconds per request: CPU time is what the
    limiter costs, and unlike throughput it hardly moves when neighbours load the machine."""
    before = _cpu_seconds(pid)
    result = _wrk(port, ids, DURATION, clients)
    used = _cpu_seconds(pid) - before
    result["cpu_us_per_request"] = round(used / max(1.0, result["rps"] * DURATION) * 1e6, 1)
    return result


def _wrk(port: int, ids: list[str], seconds: float, clients: int = 0) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_LUA % (",".join(f'"{i}"' for i in ids), clients))
        script = fh.name
    try:
        url = f"http://127.0.0.1:{port}/"
        return run_wrk(url, connections=CONNECTIONS, seconds=seconds, script=script)
    finally:
        os.unlink(script)


# -- the load scenario -----------------------------------------------------------------------


async def _scenario(ports: list[int]) -> dict[str, Any]:
    bases = [f"http://127.0.0.1:{p}/api/anime/" for p in ports]

    async def client(n: int, name: str, rate: float, anime: str) -> dict[str, Any]:
        address = f"198.51.100.{n + 1}"
        sent = allowed = 0
        statuses: dict[int, int] = {}
        async with aiohttp.ClientSession() as http:

            async def one(i: int) -> None:
                nonlocal sent, allowed
                async with http.get(
                    bases[i % len(bases)] + anime, headers={"X-Forwarded-For": address}
                ) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    allowed += resp.status != 429

            start = time.monotonic()
            last_send = start
            tasks = []
            if rate == 0:  # one burst of three times the quota's burst, then nothing
                tasks = [asyncio.create_task(one(i)) for i in range(3 * RL_BURST)]
                sent = len(tasks)
            else:
                i = 0
                while (now := time.monotonic()) - start < RL_SECONDS:
                    due = int((now - start) * rate) + 1
                    while i < due:
                        tasks.append(asyncio.create_task(one(i)))
                        i += 1
                    last_send = time.monotonic()
                    await asyncio.sleep(0.005)
                sent = i
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - start
        span = last_send - start  # the quota refills while requests are being sent
        expected = min(sent, RL_BURST + RL_RPS * span)
        return {
            "client": name,
            "address": address,
            "send_rps": rate,
            "sent": sent,
            "allowed": allowed,
            "expected": round(expected, 1),
            "allowed_over_expected": round(allowed / expected, 3) if expected else None,
            # the servers judged until the last answer: under load they lag the sending
            "expected_by_last_answer": round(min(sent, RL_BURST + RL_RPS * elapsed), 1),
            "statuses": statuses,
            "send_span_s": round(span, 2),
            "elapsed_s": round(elapsed, 2),
        }

    anime = os.environ["BENCH_SAMPLE_ID"]
    return {
        "replicas": len(ports),
        "policy": {"rps": RL_RPS, "burst": RL_BURST},
        "seconds": RL_SECONDS,
        "clients": await asyncio.gather(
            *(client(n, name, rate, anime) for n, (name, rate) in enumerate(CLIENTS))
        ),
    }


async def _limiter_alone() -> list[dict[str, Any]]:
    """The algorithm without HTTP or a loaded server: two `FleetLimiter`s (as two replicas) on
    the real Redis, one client sending at 2x and 8x the policy for 5 s, alternating; with
    leases (production) and without (`lease_max=1`, a round trip per request)."""
    out = []
    redis = aioredis.from_url(REDIS_URL)
    cases = (
        (2 * RL_RPS, 32, RL_BURST),
        (8 * RL_RPS, 32, RL_BURST),
        (8 * RL_RPS, 1, RL_BURST),
        (2 * RL_RPS, 32, max(RL_BURST, OPTIMISTIC_MIN_BURST)),
        (8 * RL_RPS, 32, max(RL_BURST, OPTIMISTIC_MIN_BURST)),
    )
    try:
        for send_rps, lease, burst in cases:
            prefix = f"bench-rl-alone:{os.getpid()}:{send_rps}:{lease}:{burst}:"
            a, b = (
                FleetLimiter(prefix=prefix, lease_max=lease),
                FleetLimiter(prefix=prefix, lease_max=lease),
            )
            a.bind(redis)
            b.bind(redis)
            policy = Policy("default", RL_RPS, burst)
            allowed = sent = 0
            start = time.monotonic()
            last = start

            async def one(
                i: int, a: FleetLimiter = a, b: FleetLimiter = b, policy: Policy = policy
            ) -> None:
                nonlocal allowed
                try:
                    await (a if i % 2 else b).acquire(policy, "198.51.100.200")
                    allowed += 1
                except RateLimited:
                    pass

            tasks = []
            while time.monotonic() - start < 5:
                due = int((time.monotonic() - start) * send_rps) + 1
                while sent < due:
                    tasks.append(asyncio.create_task(one(sent)))
                    sent += 1
                last = time.monotonic()
                await asyncio.sleep(0.005)
            await asyncio.gather(*tasks)
            expected = burst + RL_RPS * (last - start)
            optimistic = [x.stats()["optimistic"] for x in (a, b)]
            await a.aclose()
            await b.aclose()
            out.append(
                {
                    "send_rps": send_rps,
                    "lease_max": lease,
                    "burst": burst,
                    "optimistic_admissions": sum(o["admitted"] for o in optimistic),
                    "overshoots": sum(o["over"] for o in optimistic),
                    "sent": sent,
                    "allowed": allowed,
                    "expected": round(expected, 1),
                    "allowed_over_expected": round(allowed / expected, 3),
                    "redis_round_trips": a.redis_takes + b.redis_takes,
                }
            )
    finally:
        await redis.aclose()
    return out


def _cpu_ratio(paired: Any) -> float:
    """off CPU per request / on CPU per request (medians): the throughput ratio a CPU-bound
    server would reach, measured without the machine's noise in wall-clock rates."""
    off = paired["baseline"]["cpu_us_per_request"]
    on = paired["candidate"]["cpu_us_per_request"]
    return round(off / on, 3) if on else 0.0


def main() -> dict[str, Any]:
    if not shutil.which("wrk"):
        raise RuntimeError("the rate-limit bench needs wrk (apt-get install wrk)")
    dsn, drop = create_scratch_database(SERVER_DSN, "kensho_bench")
    procs: list[Any] = []
    prefix = f"bench-rl:{os.getpid()}:"
    try:
        popular = asyncio.run(_load_database(dsn))
        ids = _zipf_ids(popular, 20_000)
        fast = {"BENCH_SERVE_RPS": "1000000", "BENCH_SERVE_BURST": "1000000"}
        off, off_port = start_server("bench.ratelimit", "off", (dsn, prefix))
        procs.append(off)
        on, on_port = start_server("bench.ratelimit", "on", (dsn, prefix), env=fast)
        procs.append(on)
        _fetch_all(off_port, ids)
        _fetch_all(on_port, ids)
        _wrk(off_port, ids, 2)
        _wrk(on_port, ids, 2)
        paired = paired_rounds(
            lambda: _measured(off.pid, off_port, ids),
            lambda: _measured(on.pid, on_port, ids),
            ROUNDS,
        )
        many = paired_rounds(
            lambda: _measured(off.pid, off_port, ids, 1000),
            lambda: _measured(on.pid, on_port, ids, 1000),
            max(2, ROUNDS // 2),
        )
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        procs.clear()

        policy = {"BENCH_SERVE_RPS": str(RL_RPS), "BENCH_SERVE_BURST": str(RL_BURST)}
        scenario_prefix = prefix + "scenario:"
        ports = []
        for _ in range(2):
            proc, port = start_server("bench.ratelimit", "on", (dsn, scenario_prefix), env=policy)
            procs.append(proc)
            ports.append(port)
        os.environ["BENCH_SAMPLE_ID"] = popular[0]
        scenario = asyncio.run(_scenario(ports))
        result: dict[str, Any] = {
            "benchmark": "GET /api/anime/{id}, Zipf ids, cached: rate limit on vs off",
            "connections": CONNECTIONS,
            "duration_s": DURATION,
            "rounds": ROUNDS,
            "off": paired["baseline"],
            "on": paired["candidate"],
            "throughput_ratio": round(paired["ratio"], 3),
            **paired_summary(paired),
            "throughput_target": 0.85,
            "cpu_ratio": _cpu_ratio(paired),
            "many_clients": {
                "clients": 1000,
                "off": many["baseline"],
                "on": many["candidate"],
                "throughput_ratio": round(many["ratio"], 3),
                "round_ratios": [round(r, 3) for r in many["ratios"]],
                "cpu_ratio": _cpu_ratio(many),
            },
            "load_scenario": scenario,
            "limiter_alone": asyncio.run(_limiter_alone()),
        }
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        drop()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        main()
