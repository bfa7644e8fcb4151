"""Transactions under cancellation: the original exception must win over a failed ROLLBACK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kensho.store.pool import fetch_one, rollback_on_error, transaction


async def test_cancelling_a_query_inside_a_transaction_stays_a_cancellation(db_pool: Any) -> None:
    """aiopg closes the cursor of a cancelled query, so the ROLLBACK fails; that failure used
    to replace the CancelledError, and a cancelled job then logged an error and kept running."""
    backend: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def slow() -> None:
        async with transaction(db_pool) as cur:
            backend.set_result(cur.connection.raw.get_backend_pid())
            await cur.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    pid = await backend
    async with asyncio.timeout(10):  # the query has reached the server: the server says so
        while (
            await fetch_one(
                db_pool,
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND state = 'active' "
                "AND query LIKE 'SELECT pg_sleep%%'",
                (pid,),
            )
            is None
        ):
            pass
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert await fetch_one(db_pool, "SELECT 1") == (1,)  # the pool still works


async def test_an_error_rolls_the_transaction_back(db_pool: Any) -> None:
    async with db_pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("CREATE TEMP TABLE t (x int)")
        with pytest.raises(ZeroDivisionError):
            await cur.execute("BEGIN")
            async with rollback_on_error(cur):
                await cur.execute("INSERT INTO t VALUES (1)")
                _ = 1 / 0
        await cur.execute("SELECT count(*) FROM t")
        assert await cur.fetchone() == (0,)
