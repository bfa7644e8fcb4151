"""`PgListener`: notices from committed transactions only, and a reconnect after the
connection was killed (with `on_connect` to catch up on what was missed)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from kensho.store.notify import PgListener
from kensho.store.pool import execute, transaction


async def test_notices_arrive_on_commit_and_the_listener_reconnects(
    database_url: str, db_pool: Any
) -> None:
    channel = f"test_{secrets.token_hex(4)}"
    got: asyncio.Queue[str] = asyncio.Queue()
    connects = 0

    async def on_notice(payload: str) -> None:
        await got.put(payload)

    async def on_connect() -> None:
        nonlocal connects
        connects += 1

    listener = PgListener(database_url, channel, on_notice, min_backoff=0.05)
    listener.on_connect = on_connect
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 30)
        assert connects == 1
        try:
            async with transaction(db_pool) as cur:
                await cur.execute("SELECT pg_notify(%s, 'rolled back')", (channel,))
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        async with transaction(db_pool) as cur:
            await cur.execute("SELECT pg_notify(%s, 'committed')", (channel,))
        assert await asyncio.wait_for(got.get(), 30) == "committed"  # never the rolled back one

        # the listening session dies (a failover, a proxy reset): it listens again
        listener.listening.clear()
        await execute(
            db_pool,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query ILIKE %s AND pid <> pg_backend_pid()",
            (f"LISTEN%{channel}%",),
        )
        await asyncio.wait_for(listener.listening.wait(), 30)
        assert connects == 2
        await execute(db_pool, "SELECT pg_notify(%s, 'again')", (channel,))
        assert await asyncio.wait_for(got.get(), 30) == "again"
        assert got.empty()
    finally:
        await listener.stop()
