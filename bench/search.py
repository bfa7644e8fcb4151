"""Search benchmark: Kenshō's in-memory index against PostgreSQL pg_trgm on the same data.

Reports recall@10, top-1 accuracy and latency p50/p99 for both engines over the evaluation set
(bench/data/search_eval.json), plus index build time and suggestion latency. Kenshō's latency is
given as wall clock and as the thread's CPU time, which hides other processes' noise. pg_trgm
runs in a temporary database that is dropped afterwards.

Run: `.venv/bin/python bench/search.py` (`KENSHO_BENCH_PG` overrides the server DSN; `--no-pg`
skips PostgreSQL).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg2

from kensho.catalog import load_catalog
from kensho.search import SearchRecord, build_index, from_catalog_entry

ROOT = Path(__file__).resolve().parents[1]

EVAL = ROOT / "bench" / "data" / "search_eval.json"
PG_DSN = os.environ.get("KENSHO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pct(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_pct(samples, 50) * 1e3, 3),
        "p99_ms": round(_pct(samples, 99) * 1e3, 3),
        "max_ms": round(max(samples) * 1e3, 3),
    }


def _evaluate(
    queries: list[dict[str, str]], run: Callable[[str], list[str]], repeat: int
) -> dict[str, Any]:
    top1 = recall = 0
    latencies: list[float] = []
    cpu: list[float] = []
    misses: list[str] = []
    for item in queries:
        got: list[str] = []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.thread_time()
            got = run(item["q"])
            latencies.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
        top1 += bool(got) and got[0] == item["expected"]
        recall += item["expected"] in got[:10]
        if not got or got[0] != item["expected"]:
            misses.append(item["q"])
    n = len(queries)
    return {
        "recall_at_10": round(recall / n, 4),
        "top1": round(top1 / n, 4),
        **_ms(latencies),
        "cpu": _ms(cpu),
        "misses": misses,
    }


def _bench_pg(records: Sequence[SearchRecord], queries: list[dict[str, str]]) -> dict[str, Any]:

    name = "kensho_bench_" + secrets.token_hex(4)
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        conn = psycopg2.connect(PG_DSN.rsplit("/", 1)[0] + "/" + name)
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cur.execute("CREATE TABLE titles (entry text, title text, popularity int)")
                rows = [(r.id, text, r.popularity) for r in records for _, text in r.titles]
                cur.executemany("INSERT INTO titles VALUES (%s, %s, %s)", rows)
                t0 = time.perf_counter()
                cur.execute("CREATE INDEX ON titles USING gin (lower(title) gin_trgm_ops)")
                index_s = time.perf_counter() - t0
                cur.execute("ANALYZE titles")
            conn.commit()

            def by(op: str, fn: str) -> Callable[[str], list[str]]:
                sql = (
                    f"SELECT entry FROM (SELECT entry, max({fn}) AS s, max(popularity) AS p "
                    f"FROM titles WHERE {op} GROUP BY entry) m "
                    "ORDER BY s DESC, p DESC, entry LIMIT 10"
                )

                def run(q: str) -> list[str]:
                    with conn.cursor() as cur:
                        cur.execute(sql, {"q": q.lower()})
                        return [row[0] for row in cur.fetchall()]

                return run

            similarity = by("lower(title) %% %(q)s", "similarity(lower(title), %(q)s)")
            word = by("%(q)s <%% lower(title)", "word_similarity(%(q)s, lower(title))")
            return {
                "rows": len(rows),
                "gin_index_build_s": round(index_s, 3),
                "similarity": _evaluate(queries, similarity, repeat=3),
                "word_similarity": _evaluate(queries, word, repeat=3),
            }
        finally:
            conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def main(with_pg: bool = True) -> dict[str, Any]:
    """Run the benchmark and return its results (also printed as JSON by `__main__`)."""
    queries = json.loads(EVAL.read_text(encoding="utf-8"))["queries"]
    records = tuple(from_catalog_entry(e) for e in load_catalog().entries)
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        index = build_index(records)
        builds.append(time.perf_counter() - t0)

    def kensho(q: str) -> list[str]:
        return [h.id for h in index.search(q, limit=10).items]

    _evaluate(queries, kensho, repeat=1)  # warm caches (normalisation table, allocator)
    result: dict[str, Any] = {
        "catalog": {"entries": len(index), "titles": index.title_count},
        "queries": len(queries),
        "build_s": {"min": round(min(builds), 3), "median": round(statistics.median(builds), 3)},
        "kensho": _evaluate(queries, kensho, repeat=20),
    }
    prefixes = [
        item["q"][:n] for item in queries for n in (1, 2, 3, 5, 8, 13) if len(item["q"]) >= n
    ]
    lat: list[float] = []
    lat_cpu: list[float] = []
    for _ in range(5):
        for p in prefixes:
            t0, c0 = time.perf_counter(), time.thread_time()
            index.suggest(p, 10)
            lat.append(time.perf_counter() - t0)
            lat_cpu.append(time.thread_time() - c0)
    result["suggest"] = {"prefixes": len(prefixes), **_ms(lat), "cpu": _ms(lat_cpu)}
    worst = ["the " * 50, "no " * 66, "進撃の巨人" * 40, "gate", "x"]
    wlat = []
    for q in worst * 10:
        c0 = time.thread_time()
        index.search(q, limit=50)
        wlat.append(time.thread_time() - c0)
    result["adversarial_queries_cpu"] = _ms(wlat)
    if with_pg:
        try:
            result["pg_trgm"] = _bench_pg(records, queries)
        except Exception as exc:  # the benchmark still reports Kenshō without a server
            result["pg_trgm"] = {"error": repr(exc)}
    return result


if __name__ == "__main__":
    print(json.dumps(main(with_pg="--no-pg" not in sys.argv), ensure_ascii=False, indent=1))
