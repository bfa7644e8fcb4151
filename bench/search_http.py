"""Cached `/api/search` and `/api/search/suggest` over HTTP: full stack against bare aiohttp.

Setup: a throw-away PostgreSQL database (on `BENCH_DATABASE_URL`'s server, default the local
one), migrated and left without a catalog, so the search actor indexes the bundled catalog
(15,835 series) as a fresh replica does; analytics are recorded into it, as in production.
Redis is `BENCH_REDIS_URL`. Each server runs in its own subprocess (`python -m bench.search_http
--serve full|bare PORT DSN`): "full" is the real app (every middleware, the actor tree, the
search service with its cache and analytics); "bare" is a plain aiohttp handler answering, per
request target, the bytes the full server answered for it. Both start once and stay up.

Load: `wrk` (2 threads, `BENCH_CONNECTIONS` connections, default 32) with a Lua script cycling
through eight popular queries (`QUERIES`) or eight search-box prefixes (`PREFIXES`), the
front end's two calls: submit and keystroke. Everything is warm: each target is fetched once
from the full server (so its answer is cached) before the rounds. Requests send no
`Accept-Encoding` (identity answers) unless `BENCH_ACCEPT_ENCODING` is set (e.g. `gzip`): then
every request sends it, and bare answers the coded bytes the full server sent for it.

Throughput, per route, by paired short rounds (`loadgen.paired_rounds`): `BENCH_ROUNDS` rounds
(default 10) of `BENCH_DURATION` seconds (default 2) against bare and full, the order
alternating; the headline is the median of the per-round full/bare ratios (target >= 0.50).
Then the p99 of the full stack at half its median peak (wrk paced with `delay()`,
`BENCH_HALF_PEAK_DURATION` seconds, default 5; target < 5 ms), and bare at the same pace, to
tell the server's tail from the machine's. Beside req/s, each run reads
the server's CPU time (`/proc/<pid>/stat`): `cpu_ratio` is the median per-round ratio of bare
CPU per request to full CPU per request, the throughput ratio each would reach on a core of its
own, which other processes on the machine disturb far less than req/s. `main()` prints and
returns a JSON dict. Run it as `python -m bench search-http`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from typing import Any

from aiohttp import web

from bench.fullstack import pool_and_cache, serve_full
from bench.loadgen import paired_rounds, paired_summary, run_wrk, start_server
from kensho.actors import search as search_actor
from kensho.actors.supervisor import Supervisor
from kensho.composition import services
from kensho.config import Config
from kensho.store.migrations import migrate
from kensho.store.scratch import create_scratch_database

DURATION = float(os.environ.get("BENCH_DURATION", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
WARM_UP = float(os.environ.get("BENCH_WARM_UP", "2"))
HALF_PEAK_DURATION = float(os.environ.get("BENCH_HALF_PEAK_DURATION", "5"))
#: `Accept-Encoding` every request sends (unset: none, so answers are identity)
ACCEPT_ENCODING = os.environ.get("BENCH_ACCEPT_ENCODING") or None
SERVER_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

QUERIES = (
    "naruto",
    "one piece",
    "attack on titan",
    "demon slayer",
    "jujutsu kaisen",
    "spy x family",
    "my hero academia",
    "bleach",
)
PREFIXES = ("nar", "one p", "atta", "demo", "juju", "spy", "my he", "blea")


def _targets(route: str) -> list[str]:
    if route == "search":
        return [f"/api/search?q={urllib.parse.quote(q)}" for q in QUERIES]
    return [f"/api/search/suggest?q={urllib.parse.quote(p)}" for p in PREFIXES]


# -- servers -------------------------------------------------------------------------------


def _serve(mode: str, port: int, dsn: str) -> None:
    if mode == "bare":
        full = f"http://127.0.0.1:{os.environ['BENCH_FULL_PORT']}"
        bodies = {  # the bytes (and coding) the full stack answers, per request target
            t: _fetch(full + t) for t in _targets("search") + _targets("suggest")
        }

        async def answer(request: web.Request) -> web.Response:
            body, coding = bodies[request.raw_path]
            resp = web.Response(body=body, content_type="application/json")
            if coding is not None:
                resp.headers["Content-Encoding"] = coding
            return resp

        app = web.Application()
        app.router.add_get("/api/search", answer)
        app.router.add_get("/api/search/suggest", answer)
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
        return

    config = Config(
        port=port,
        prestop_delay=0,
        database_url=dsn,
        redis_url=REDIS_URL,
        cache_prefix=f"bench:{os.getpid()}:",
        catalog_warm_count=0,
    )

    def tree(c: Config) -> Supervisor:
        return Supervisor("root", [search_actor.child_spec(c, database_url=dsn)])

    serve_full(
        config,
        [pool_and_cache(config, dsn, maxsize=4), services.actor_tree(tree), services.search()],
    )


def _fetch(url: str) -> tuple[bytes, str | None]:
    """Body and Content-Encoding of `url`, asked with the benchmark's `Accept-Encoding`."""
    headers = {} if ACCEPT_ENCODING is None else {"Accept-Encoding": ACCEPT_ENCODING}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as resp:
        return resp.read(), resp.headers.get("Content-Encoding")


# -- load ----------------------------------------------------------------------------------

_LUA = """
local paths = {%s}
local headers = %s
local i = 0
local pause = %s
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], headers)
end
if pause > 0 then
  delay = function() return pause end
end
"""


def _wrk(
    port: int, paths: list[str], seconds: float, rate: float | None = None
) -> dict[str, float]:
    pause = 0 if rate is None else max(1, round(CONNECTIONS / rate * 1000))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        headers = (
            "{}"
            if ACCEPT_ENCODING is None
            else f'{{["Accept-Encoding"] = {json.dumps(ACCEPT_ENCODING)}}}'
        )
        fh.write(_LUA % (",".join(json.dumps(p) for p in paths), headers, pause))
        script = fh.name
    try:
        url = f"http://127.0.0.1:{port}/"
        return run_wrk(url, connections=CONNECTIONS, seconds=seconds, script=script)
    finally:
        os.unlink(script)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux `/proc/<pid>/stat`)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(pid: int, port: int, paths: list[str]) -> dict[str, float]:
    """One wrk run, plus the server's CPU microseconds per request over it."""
    before = _cpu_seconds(pid)
    result = _wrk(port, paths, DURATION)
    requests = result["rps"] * DURATION
    result["cpu_us_per_request"] = (_cpu_seconds(pid) - before) / requests * 1e6 if requests else 0
    return result


def _wait_built(port: int, timeout: float = 120.0) -> None:
    """Poll until the index is published (search answers 503 before)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=naruto") as r:
                r.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _fetch_all(port: int) -> None:
    for target in _targets("search") + _targets("suggest"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}") as resp:
            resp.read()


def _route(name: str, bare: tuple[int, int], full: tuple[int, int]) -> dict[str, Any]:
    """(pid, port) of each server; the paired rounds, the CPU ratio and the half-peak p99."""
    paths = _targets(name)
    _wrk(full[1], paths, WARM_UP)
    _wrk(bare[1], paths, WARM_UP)
    paired = paired_rounds(lambda: _measured(*bare, paths), lambda: _measured(*full, paths), ROUNDS)
    cpu_ratios = [
        b["cpu_us_per_request"] / c["cpu_us_per_request"]
        for b, c in zip(paired["baseline_runs"], paired["candidate_runs"], strict=True)
        if c["cpu_us_per_request"]
    ]
    f = paired["candidate"]
    half = _wrk(full[1], paths, HALF_PEAK_DURATION, rate=f["rps"] / 2)
    # bare at the same pace: what the machine itself does to the tail at that moment
    bare_half = _wrk(bare[1], paths, HALF_PEAK_DURATION, rate=f["rps"] / 2)
    return {
        "targets": paths,
        "bare": paired["baseline"],
        "full_stack": f,
        "throughput_ratio": round(paired["ratio"], 3),
        **paired_summary(paired),
        # bare CPU per request / full CPU per request: the throughput ratio each server would
        # reach on a core of its own; steadier than req/s while neighbours load the machine
        "cpu_ratio": round(statistics.median(cpu_ratios), 3) if cpu_ratios else None,
        "throughput_target": 0.5,
        "half_peak": {"target_rps": round(f["rps"] / 2), **half},
        "bare_at_same_pace": bare_half,
        "p99_target_ms": 5.0,
    }


def main() -> dict[str, Any]:
    """Create a database, start both servers, measure search then suggest; print the JSON."""
    if shutil.which("wrk") is None:
        raise RuntimeError("bench search-http needs wrk (apt-get install wrk)")
    dsn, drop = create_scratch_database(SERVER_DSN, "kensho_bench")
    procs: list[Any] = []
    try:
        asyncio.run(migrate(dsn))
        full, full_port = start_server("bench.search_http", "full", (dsn,))
        procs.append(full)
        _wait_built(full_port)
        _fetch_all(full_port)
        bare, bare_port = start_server(
            "bench.search_http", "bare", (dsn,), env={"BENCH_FULL_PORT": str(full_port)}
        )
        procs.append(bare)
        result: dict[str, Any] = {
            "benchmark": "cached /api/search and /api/search/suggest, 8 targets each",
            "load_generator": "wrk",
            "connections": CONNECTIONS,
            "accept_encoding": ACCEPT_ENCODING,
            "duration_s": DURATION,
            "rounds": ROUNDS,
            "half_peak_duration_s": HALF_PEAK_DURATION,
            "search": _route("search", (bare.pid, bare_port), (full.pid, full_port)),
            "suggest": _route("suggest", (bare.pid, bare_port), (full.pid, full_port)),
        }
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        drop()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
