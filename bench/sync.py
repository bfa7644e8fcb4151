"""Benchmark: full sync of the bundled catalog into PostgreSQL through the in-process simulator.

`python -m bench.sync` prints one JSON object. Uses `KENSHO_TEST_DATABASE_URL` (a server DSN; a
throw-away database is created and dropped) or an embedded pgserver. Target: <= 60 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2
from psycopg2.extensions import make_dsn

from kensho.catalog import load_catalog
from kensho.jobs.catalog_source import AnonymousFetcher, HttpCatalogSource
from kensho.jobs.catalog_sync import CatalogSync
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool, fetch_one
from kensho.upstream.simulator.app import running_simulator

PAGE_SIZE = 100
CONCURRENCY = 32


def _admin(dsn: str, statement: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


async def _run(dsn: str) -> dict[str, Any]:
    pool = await create_pool(dsn, minsize=1, maxsize=4)
    try:
        await migrate(pool)
        async with running_simulator() as base, aiohttp.ClientSession() as session:
            source = HttpCatalogSource(AnonymousFetcher(session, base))
            sync = CatalogSync(pool, source, page_size=PAGE_SIZE, concurrency=CONCURRENCY)
            t0 = time.perf_counter()
            first = await sync.run()
            full = time.perf_counter() - t0
            t1 = time.perf_counter()
            second = await sync.run()
            noop = time.perf_counter() - t1
        counts = {}
        for table in ("series", "seasons", "episodes", "series_titles", "series_external_ids"):
            row = await fetch_one(pool, f"SELECT count(*) FROM {table}")
            counts[table] = int(row[0]) if row else 0
    finally:
        pool.close()
        await pool.wait_closed()
    rows = first.rows_written
    return {
        "bench": "catalog_sync",
        "catalog_series": len(load_catalog().entries),
        "full_sync_seconds": round(full, 2),
        "rows_written": rows,
        "rows_per_second": round(rows / full) if full else None,
        "series_per_second": round(first.series_seen / full) if full else None,
        "second_sync_seconds": round(noop, 2),
        "second_sync_rows_written": second.rows_written,
        "counts": counts,
        "target_seconds": 60,
        "ok": full <= 60 and second.rows_written == 0,
        "page_size": PAGE_SIZE,
        "concurrency": CONCURRENCY,
    }


def main() -> dict[str, Any]:
    """Run the benchmark in a throw-away database; print and return the result."""
    server = os.environ.get("KENSHO_TEST_DATABASE_URL")
    stop = None
    if server is None:
        from kensho.store.embedded import start_embedded_postgres

        server, stop = start_embedded_postgres(
            Path(tempfile.mkdtemp(prefix="kensho-bench-")),
            database="postgres",
            delete_on_stop=True,
        )
    name = f"kensho_bench_{secrets.token_hex(4)}"
    _admin(server, f"CREATE DATABASE {name}")
    try:
        result = asyncio.run(_run(make_dsn(server, dbname=name)))
    finally:
        _admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if stop is not None:
            stop()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
