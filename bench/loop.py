"""Adversarial uncached searches while /health/live is polled: does the event loop stall?

Each mode runs a server subprocess (`python -m bench.loop --serve MODE PORT`): the real app
(`create_app`, every middleware, the real /health/live and /api/search) with the search actor
over the bundled catalog and no cache, so every search is a miss. Modes:

- `unbounded`: ranking on the loop without the work budgets (the code before issue 10);
- `onloop`: the budgets (`MAX_POSTINGS`, `SCORE_BUDGET`), ranking on the loop, one ranking per
  loop iteration (`RankingPool` with `KENSHO_SEARCH_THREADS=0`: a lock and a yield, so a probe
  waits for one ranking at most, not for every search that arrived with it): the first option
  issue 10 names, and what production does;
- `offloop`: the budgets and `RankingPool` with one dedicated ranking thread
  (`KENSHO_SEARCH_THREADS=1`): the second option;
- `offloop-1ms`: as `offloop` with the interpreter's switch interval at 1 ms instead of 5 ms
  (the GIL comes back to the loop sooner), not enabled in production.

The client (this process) sends `BENCH_LOOP_SEARCHES` (default 1000) distinct adversarial
queries per mode and round from `BENCH_LOOP_CONCURRENCY` (default 8) workers: ~200 characters of the
60 commonest title words, so every trigram is common and a slightly different query defeats any
query cache. Meanwhile a prober GETs /health/live every 10 ms on its own connection, from a
process of its own (so the client's busy loop does not delay the probe), and keeps the
`loop_lag_ms` the server reports (its loop ticker's lateness, sampled every 250 ms). Reported per
mode: the probe's p50/p99/max, the server's loop lag p99/max, the searches' p50/p99 and rate, and
the answers' statuses.

This machine is shared and its load changes from one minute to the next, so the servers of all
modes start once and stay up, and each of `BENCH_LOOP_ROUNDS` rounds (default 5) measures every
mode back to back, the order reversed every round. Per mode the summary gives the median over
rounds; `probe_p99_ratio_offloop_vs_onloop` is the median of the per-round ratios (below 1:
the probe fares better with ranking off the loop).
"""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
import urllib.parse
from typing import Any

import aiohttp
from aiohttp import web

import kensho.search.index as search_index
from bench.loadgen import start_server
from kensho.actors import search as search_actor
from kensho.actors.supervisor import Supervisor
from kensho.composition import services
from kensho.config import Config
from kensho.http.app import create_app
from kensho.observability.logging import configure_logging
from kensho.search.normalize import normalize
from kensho.search.service import SearchService
from kensho.search.view import rows_from_bundle

SEARCHES = int(os.environ.get("BENCH_LOOP_SEARCHES", "1000"))
CONCURRENCY = int(os.environ.get("BENCH_LOOP_CONCURRENCY", "8"))
ROUNDS = int(os.environ.get("BENCH_LOOP_ROUNDS", "5"))
PROBE_EVERY = 0.010
MODES = tuple(os.environ.get("BENCH_LOOP_MODES", "unbounded,onloop,offloop,offloop-1ms").split(","))
QUERY_CHARS = 200


# -- the server ------------------------------------------------------------------------------


def _configure(mode: str) -> int:
    """Switch the search path to `mode` (in the server process only); its ranking threads."""
    if mode == "onloop":
        return 0
    if mode == "offloop":
        return 1
    if mode == "offloop-1ms":
        sys.setswitchinterval(0.001)
        return 1
    if mode == "unbounded":
        search_index.MAX_POSTINGS = search_index.SCORE_BUDGET = 10**9

        async def rank_unbounded(self: SearchService, view: Any, q: str, **kw: Any) -> bytes:
            return self._page(view, q, **kw)

        SearchService._rank = rank_unbounded  # type: ignore[method-assign]
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


def serve(mode: str, port: int) -> None:
    threads = _configure(mode)
    config = Config(log_level="WARNING", cursor_secret="bench-loop", search_threads=threads)
    configure_logging("WARNING", "json", queued=True)
    spec = search_actor.child_spec(config, load_rows=rows_from_bundle)
    app = create_app(
        config,
        resources=[
            services.actor_tree(lambda c: Supervisor("root", [spec])),
            services.search(cache=False),
        ],
    )
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- the client ------------------------------------------------------------------------------


def adversarial_queries(n: int, seed: int) -> list[str]:
    """`n` distinct ~200-character queries of the commonest words in the catalog's titles."""
    words: collections.Counter[str] = collections.Counter()
    for row in rows_from_bundle():
        for _lang, text in row.titles:
            words.update(w for w in normalize(text).split() if w.isascii() and len(w) >= 2)
    common = [w for w, _ in words.most_common(60)]
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < QUERY_CHARS:
            parts.append(rng.choice(common))
        q = " ".join(parts)[:QUERY_CHARS].strip()
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _ms(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50_ms": round(_pct(samples, 50) * 1e3, 2),
        "p99_ms": round(_pct(samples, 99) * 1e3, 2),
        "max_ms": round(max(samples) * 1e3, 2),
    }


async def _wait_until_searchable(base: str) -> float:
    """Seconds until /api/search answers 200 (the index builds after the server is ready)."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < 120:
            try:
                async with session.get(f"{base}/api/search?q=naruto") as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("search did not come up")


def _probe(port: int, probing: Any, stop: Any, out: Any) -> None:
    """In a process of its own: GET /health/live every PROBE_EVERY s until `stop` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    lags: list[float] = []
    failures = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        conn.request("GET", "/health/live")
        resp = conn.getresponse()
        body = resp.read()
        latencies.append(time.perf_counter() - t0)
        if resp.status == 200:
            lags.append(float(json.loads(body)["loop_lag_ms"]) / 1e3)
        else:
            failures += 1
        probing.set()
        time.sleep(PROBE_EVERY)
    conn.close()
    out.put((latencies, lags, failures))


async def drive(base: str, queries: list[str]) -> dict[str, Any]:
    """Searches from `CONCURRENCY` workers while a prober process polls /health/live."""
    pending = collections.deque(queries)
    search_lat: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    ctx = multiprocessing.get_context("spawn")
    probing, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    port = urllib.parse.urlsplit(base).port
    prober = ctx.Process(target=_probe, args=(port, probing, stop, out))

    async def worker(session: aiohttp.ClientSession) -> None:
        while pending:
            q = pending.popleft()
            url = f"{base}/api/search?limit=20&q={urllib.parse.quote(q)}"
            t0 = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
                statuses[resp.status] += 1
            search_lat.append(time.perf_counter() - t0)

    prober.start()
    if not await asyncio.to_thread(probing.wait, 60):
        raise RuntimeError("the prober did not start")
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    stop.set()
    probe_lat, lags, probe_failures = await asyncio.to_thread(out.get, True, 60)
    await asyncio.to_thread(prober.join, 30)
    return {
        "probe": _ms(probe_lat),
        "probe_failures": probe_failures,
        "server_loop_lag": _ms(lags),
        "search": _ms(search_lat),
        "searches_per_s": round(len(search_lat) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def main() -> dict[str, Any]:
    """Start one server per mode, then `ROUNDS` rounds over every mode; medians per mode."""
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    servers = {mode: start_server("bench.loop", mode) for mode in MODES}
    try:
        bases = {mode: f"http://127.0.0.1:{port}" for mode, (_proc, port) in servers.items()}
        searchable = {m: round(asyncio.run(_wait_until_searchable(b)), 2) for m, b in bases.items()}
        print(f"  searchable after (s): {searchable}", flush=True)
        for r in range(ROUNDS):
            order = MODES if r % 2 == 0 else tuple(reversed(MODES))
            for mode in order:
                queries = adversarial_queries(SEARCHES, seed=1000 * r + MODES.index(mode))
                runs[mode].append(asyncio.run(drive(bases[mode], queries)))
                print(f"  round {r + 1} {mode}: {json.dumps(runs[mode][-1])}", flush=True)
    finally:
        for proc, _port in servers.values():
            proc.terminate()
            proc.wait(30)

    def med(mode: str, part: str, field: str) -> float:
        return round(statistics.median(run[part][field] for run in runs[mode]), 2)

    summary = {
        mode: {
            "probe_p50_ms": med(mode, "probe", "p50_ms"),
            "probe_p99_ms": med(mode, "probe", "p99_ms"),
            "probe_max_ms": med(mode, "probe", "max_ms"),
            "server_loop_lag_p99_ms": med(mode, "server_loop_lag", "p99_ms"),
            "server_loop_lag_max_ms": med(mode, "server_loop_lag", "max_ms"),
            "search_p50_ms": med(mode, "search", "p50_ms"),
            "search_p99_ms": med(mode, "search", "p99_ms"),
            "searches_per_s": round(statistics.median(x["searches_per_s"] for x in runs[mode]), 1),
        }
        for mode in MODES
    }
    ratios = (
        [
            b["probe"]["p99_ms"] / a["probe"]["p99_ms"]
            for a, b in zip(runs["onloop"], runs["offloop"], strict=True)
        ]
        if "onloop" in runs and "offloop" in runs
        else []
    )
    return {
        "probe_p99_ratio_offloop_vs_onloop": (
            round(statistics.median(ratios), 3) if ratios else None
        ),
        "probe_p99_ratios_per_round": [round(x, 3) for x in ratios],
        "method": (
            f"{SEARCHES} distinct ~{QUERY_CHARS}-char common-trigram searches per mode from "
            f"{CONCURRENCY} workers, /health/live polled every {PROBE_EVERY * 1e3:g} ms from "
            "another process; "
            f"{ROUNDS} rounds, mode order reversed each round; medians over rounds"
        ),
        "summary": summary,
        "runs": runs,
    }


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        print(json.dumps(main(), indent=1))
