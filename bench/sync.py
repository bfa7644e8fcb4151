"""Benchmark: full sync of the bundled catalog into PostgreSQL through the in-process simulator.

`python -m bench.sync` prints one JSON object. Uses `KENSHO_TEST_DATABASE_URL` (a server DSN; a
throw-away database is created and dropped) or an embedded pgserver. Target: <= 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from kensho.catalog import load_catalog
from kensho.jobs.catalog_source import HttpCatalogSource
from kensho.jobs.catalog_sync import CatalogSync
from kensho.store.embedded import start_embedded_postgres
from kensho.store.migrations import migrate
from kensho.store.pool import create_pool, fetch_one
from kensho.store.scratch import scratch_database
from kensho.upstream.client import ClientSettings, CrunchyrollClient
from kensho.upstream.simulator.app import running_simulator
from kensho.upstream.simulator.config import SimConfig

PAGE_SIZE = 100
CONCURRENCY = 32
PREFETCH = 2


async def _run(dsn: str, args: argparse.Namespace) -> dict[str, Any]:
    full_catalog = load_catalog()
    catalog = full_catalog
    if args.series:
        catalog = full_catalog.head(args.series)
    pool = await create_pool(dsn, minsize=1, maxsize=4)
    try:
        await migrate(pool)
        async with (
            running_simulator(SimConfig(catalog=catalog)) as base,
            CrunchyrollClient(ClientSettings(base_url=base)) as client,
        ):
            if args.gc_freeze:
                # what a started server should do once the catalog (and the in-process
                # simulator's index) is loaded: these millions of long-lived objects are
                # otherwise rescanned by every full GC (~20% of the sync's CPU, measured)
                gc.freeze()
            source = HttpCatalogSource(client.fetch_json)
            sync = CatalogSync(
                pool,
                source,
                catalog=catalog.by_series_id,
                page_size=args.page_size,
                concurrency=args.concurrency,
                prefetch=args.prefetch,
            )
            t0, c0 = time.perf_counter(), time.process_time()
            first = await sync.run()
            full, full_cpu = time.perf_counter() - t0, time.process_time() - c0
            t1, c1 = time.perf_counter(), time.process_time()
            second = await sync.run()
            noop, noop_cpu = time.perf_counter() - t1, time.process_time() - c1
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
        "catalog_series": len(catalog.entries),
        "full_sync_seconds": round(full, 2),
        "rows_written": rows,
        "rows_per_second": round(rows / full) if full else None,
        "series_per_second": round(first.series_seen / full) if full else None,
        "second_sync_seconds": round(noop, 2),
        # CPU of this process (sync + in-process simulator): steadier than wall time on a
        # machine shared with other test runs
        "full_sync_cpu_seconds": round(full_cpu, 2),
        "second_sync_cpu_seconds": round(noop_cpu, 2),
        "second_sync_rows_written": second.rows_written,
        "counts": counts,
        "target_seconds": 60,
        "ok": full <= 60 and second.rows_written == 0,
        "page_size": args.page_size,
        "concurrency": args.concurrency,
        "prefetch": args.prefetch,
        "gc_freeze": args.gc_freeze,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark in a throw-away database; print and return the result."""
    parser = argparse.ArgumentParser(prog="python -m bench.sync")
    parser.add_argument("--series", type=int, default=0, help="first N series only (0 = all)")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--prefetch", type=int, default=PREFETCH)
    parser.add_argument(
        "--no-gc-freeze", dest="gc_freeze", action="store_false", help="keep the GC default"
    )
    args = parser.parse_args(argv)
    server = os.environ.get("KENSHO_TEST_DATABASE_URL")
    stop = None
    if server is None:
        server, stop = start_embedded_postgres(
            Path(tempfile.mkdtemp(prefix="kensho-bench-")),
            database="postgres",
            delete_on_stop=True,
        )
    try:
        with scratch_database(server, "kensho_bench") as dsn:
            result = asyncio.run(_run(dsn, args))
    finally:
        if stop is not None:
            stop()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
