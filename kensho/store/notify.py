"""PostgreSQL `LISTEN` on a dedicated connection, reconnecting with backoff.

A notice is sent by `pg_notify` inside the writer's transaction and delivered only when it
commits, so a listener never hears of a change that did not happen. Notices sent while the
connection is down are lost: whoever listens must also poll (the catalog version watcher does).
The connection is not one of the pool's: LISTEN is per session, and a pooled connection would
hand the session's notices to whoever borrows it next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiopg
import psycopg2
from psycopg2 import sql

__all__ = ["PgListener"]

log = logging.getLogger("kensho.store.notify")


class PgListener:
    """Calls `on_notice(payload)` for each notice on `channel` (one at a time, in order)."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notice: Callable[[str], Awaitable[None]],
        *,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_notice = on_notice
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        #: set while LISTEN is active (tests wait on it; `/health` could show it)
        self.listening = asyncio.Event()
        #: called once per (re)connection, after LISTEN: notices may have been missed before
        self.on_connect: Callable[[], Awaitable[None]] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pg-listen")

    async def stop(self, budget: float = 5.0) -> bool:
        """Cancel the listener; False when it did not end within `budget` s (abandoned)."""
        task, self._task = self._task, None
        if task is None:
            return True
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=budget)
        return bool(done)

    async def _run(self) -> None:
        backoff = self._min_backoff
        while True:
            try:
                async with aiopg.connect(self._dsn, enable_hstore=False) as conn:
                    async with conn.cursor() as cur:
                        await cur.execute(
                            sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))
                        )
                    self.listening.set()
                    backoff = self._min_backoff
                    if self.on_connect is not None:
                        await self._call(self.on_connect())
                    while True:
                        notice = await conn.notifies.get()
                        await self._call(self._on_notice(notice.payload))
            except (psycopg2.Error, OSError, TimeoutError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # the driver hid our cancellation
                log.warning(
                    "LISTEN %s lost (%s); reconnecting in %.1fs", self._channel, exc, backoff
                )
            self.listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(self._max_backoff, backoff * 2)

    @staticmethod
    async def _call(work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("a notice handler failed")
