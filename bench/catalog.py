"""Cached GET /api/anime/{id} with Zipf-distributed ids: full stack against a bare handler.

Setup: a throw-away PostgreSQL database (on `BENCH_DATABASE_URL`'s server, default the local one)
gets the schema and `BENCH_ANIME` bundle entries through the real catalog sync; Redis is
`BENCH_REDIS_URL`. Each server runs in its own subprocess (`python -m bench.catalog --serve
full|bare PORT DSN`): "full" is the real app (every middleware, cache, ETag, negotiation) with
the catalog routes; "bare" is a plain aiohttp handler answering the same bytes for every id. Both
start once and stay up for the whole run. The load comes from `wrk` with a Lua script cycling
through Zipf-sampled ids (else an aiohttp client).

Warm-up: every distinct id of the sample list is fetched once from the full server (sequential
requests: wrk's Lua counter is per thread, so a wrk warm-up only covers the start of the cycle
and cold misses would leak into the measurement), then a short load run against each server.

Throughput, by paired short rounds (`loadgen.paired_rounds`): `BENCH_ROUNDS` rounds (default 10),
each a `BENCH_DURATION`-second run (default 2) against bare and one against full, the order
alternating every round; each round gives full rps / bare rps, and the headline
`throughput_ratio` is the median of those per-round ratios. Why: this machine is shared and its
throughput drifts 20-40 % from one second to the next, so separate long runs per side (a ratio of
medians) mostly measured the drift; two runs seconds apart see about the same machine,
alternation cancels a steady drift, and the median drops the rounds a neighbour spoiled.
`bare` / `full_stack` are each side's medians over the rounds.

Also measured: the cache hit ratio (l1+l2 lookups) over the rounds, read from /metrics before and
after them, and afterwards the p99 of the full stack at half its median peak (wrk paced with
`delay()`, `BENCH_HALF_PEAK_DURATION` seconds, default 5). `main()` prints and returns a JSON dict.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import web

from bench.fullstack import pool_and_cache, serve_full
from bench.loadgen import paired_rounds, paired_summary, run_wrk, start_server, summarize
from kensho.catalog import load_catalog, season_id, seasons_for
from kensho.composition import services
from kensho.config import Config
from kensho.jobs.catalog_source import BrowsePage
from kensho.jobs.catalog_sync import CatalogSync
from kensho.store.catalog_queries import most_popular_ids
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool
from kensho.store.scratch import create_scratch_database

DURATION = float(os.environ.get("BENCH_DURATION", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WARM_UP = float(os.environ.get("BENCH_WARM_UP", "2"))
HALF_PEAK_DURATION = float(os.environ.get("BENCH_HALF_PEAK_DURATION", "5"))
N_ANIME = int(os.environ.get("BENCH_ANIME", "1000"))
ZIPF_S = float(os.environ.get("BENCH_ZIPF_S", "1.1"))
SERVER_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


# -- data ----------------------------------------------------------------------------------


class _BundleSource:
    """The first N bundle entries as Crunchyroll-shaped series with their seasons."""

    def __init__(self, n: int) -> None:

        self.series: list[dict[str, Any]] = []
        self._seasons: dict[str, list[dict[str, Any]]] = {}
        for e in load_catalog().entries[:n]:
            plans = seasons_for(e)
            self.series.append({"id": e.series_id, "title": e.title})
            self._seasons[e.series_id] = [
                {
                    "id": season_id(e.series_id, p.number),
                    "series_id": e.series_id,
                    "season_number": p.number,
                    "number_of_episodes": p.episode_count,
                }
                for p in plans
            ]

    async def browse(self, start: int, n: int) -> Any:

        items = self.series[start : start + n]
        return BrowsePage(tuple(items), len(self.series), start + n >= len(self.series))

    async def seasons(self, series_id: str) -> Sequence[Any]:
        return self._seasons.get(series_id, [])

    async def episodes(self, season_id: str) -> Sequence[Any]:
        return []


async def _load_database(dsn: str) -> list[str]:

    pool = await create_pool(dsn, minsize=1, maxsize=4)
    try:
        await migrate(pool)
        await CatalogSync(pool, _BundleSource(N_ANIME), page_size=200).run()
        return await most_popular_ids(pool, N_ANIME)
    finally:
        pool.close()
        await pool.wait_closed()


def _zipf_ids(ids: list[str], samples: int, seed: int = 7) -> list[str]:
    """Ids drawn with P(rank k) ~ 1/k^s: a few titles get most of the reads."""
    weights = [1.0 / (k**ZIPF_S) for k in range(1, len(ids) + 1)]
    return random.Random(seed).choices(ids, weights=weights, k=samples)


# -- servers -------------------------------------------------------------------------------


def _serve(mode: str, port: int, dsn: str, sample_id: str, **settings: Any) -> None:
    """Serve `mode` ("full" or "bare") on `port`; `settings` go to the full server's Config."""

    if mode == "bare":
        body = urllib.request.urlopen(  # the same bytes the full stack serves
            f"http://127.0.0.1:{os.environ['BENCH_FULL_PORT']}/api/anime/{sample_id}"
        ).read()

        async def anime(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/json")

        app = web.Application()
        app.router.add_get("/api/anime/{id}", anime)
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
        return

    config = Config(
        port=port,
        prestop_delay=0,
        database_url=dsn,
        redis_url=REDIS_URL,
        cache_prefix=f"bench:{os.getpid()}:",
        catalog_warm_count=0,
        **settings,
    )
    serve_full(config, [pool_and_cache(config, dsn), services.catalog()])


# -- load ----------------------------------------------------------------------------------

_LUA = """
local ids = {%s}
local i = 0
local pause = %s
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "/api/anime/" .. ids[i])
end
if pause > 0 then
  delay = function() return pause end
end
"""


def _wrk(port: int, ids: list[str], seconds: float, rate: float | None = None) -> dict[str, float]:
    pause = 0 if rate is None else max(1, round(CONNECTIONS / rate * 1000))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_LUA % (",".join(f'"{i}"' for i in ids), pause))
        script = fh.name
    try:
        url = f"http://127.0.0.1:{port}/"
        return run_wrk(url, connections=CONNECTIONS, seconds=seconds, script=script)
    finally:
        os.unlink(script)


async def _client_load(port: int, ids: list[str], seconds: float) -> dict[str, float]:

    latencies: list[float] = []
    end = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as session:

        async def one(offset: int) -> None:
            n = offset
            while time.perf_counter() < end:
                n += 1
                t0 = time.perf_counter()
                async with session.get(
                    f"http://127.0.0.1:{port}/api/anime/{ids[n % len(ids)]}"
                ) as r:
                    await r.read()
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(i * 97) for i in range(CONNECTIONS)))
    return summarize(latencies, seconds)


def _load(tool: str, port: int, ids: list[str], seconds: float, rate: float | None = None) -> Any:
    if tool == "wrk":
        return _wrk(port, ids, seconds, rate)
    return asyncio.run(_client_load(port, ids, seconds))


def _lookups(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    found = re.findall(r'^cache_lookups_total\{tier="(\w+)"\} ([\d.e+]+)$', text, re.M)
    return {tier: float(v) for tier, v in found}


def _fetch_all(port: int, ids: list[str]) -> int:
    """GET each distinct id once, in first-seen order, so every sampled id is cached; the count."""
    distinct = list(dict.fromkeys(ids))
    for anime_id in distinct:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/anime/{anime_id}") as resp:
            resp.read()
    return len(distinct)


def main() -> dict[str, Any]:
    """Create and load a database, run the rounds, drop the database; print the JSON."""

    tool = "wrk" if shutil.which("wrk") else "aiohttp"
    dsn, drop = create_scratch_database(SERVER_DSN, "kensho_bench")
    procs: list[Any] = []
    try:
        popular = asyncio.run(_load_database(dsn))
        ids = _zipf_ids(popular, 20_000)
        full, full_port = start_server("bench.catalog", "full", (dsn, popular[0]))
        procs.append(full)
        bare, bare_port = start_server(
            "bench.catalog", "bare", (dsn, popular[0]), env={"BENCH_FULL_PORT": str(full_port)}
        )
        procs.append(bare)
        warmed_ids = _fetch_all(full_port, ids)  # every sampled id cached before any load
        warm = _load(tool, full_port, ids, WARM_UP)
        _load(tool, bare_port, ids, WARM_UP)
        before = _lookups(full_port)
        paired = paired_rounds(
            lambda: _load(tool, bare_port, ids, DURATION),
            lambda: _load(tool, full_port, ids, DURATION),
            ROUNDS,
        )
        after = _lookups(full_port)
        b, f = paired["baseline"], paired["candidate"]
        half = _load(tool, full_port, ids, HALF_PEAK_DURATION, rate=f["rps"] / 2)
        delta = {t: after.get(t, 0.0) - before.get(t, 0.0) for t in ("l1", "l2", "miss")}
        total = sum(delta.values()) or 1.0
        result: dict[str, Any] = {
            "benchmark": "GET /api/anime/{id}, Zipf ids, cached",
            "load_generator": tool,
            "anime": len(popular),
            "zipf_s": ZIPF_S,
            "connections": CONNECTIONS,
            "duration_s": DURATION,
            "rounds": ROUNDS,
            "warm_up_ids": warmed_ids,
            "warm_up": warm,
            "bare": b,
            "full_stack": f,
            "throughput_ratio": round(paired["ratio"], 3),
            **paired_summary(paired),
            "throughput_target": 0.5,
            "half_peak_duration_s": HALF_PEAK_DURATION,
            "half_peak": {"target_rps": round(f["rps"] / 2), **half},
            "p99_target_ms": 20.0,
            "cache_hit_ratio": round((delta["l1"] + delta["l2"]) / total, 4),
            "cache_lookups": delta,
            "hit_ratio_target": 0.95,
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
