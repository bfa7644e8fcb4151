"""`RevocationBus`: session revocations broadcast to every replica over Redis pub/sub.

A replica that revokes a session (logout, refresh rejected upstream, an operator) publishes the
session's hash (the SHA-256 of the token, never the token) on `<prefix>sessions:revoked`; every
replica's listener drops it from its session pool at once, so the token answers 401 everywhere
within milliseconds. The broadcast is an accelerator, not the guarantee: a replica that missed
a message (Redis down, a reconnect) still re-reads each cached session from PostgreSQL every
`KENSHO_SESSION_REVALIDATE_INTERVAL` seconds, and after a reconnect it re-reads all of them.
Redis down never fails a request: publishing is best effort and the listener retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

__all__ = ["RevocationBus"]

log = logging.getLogger(__name__)
_HASH = re.compile(rb"[0-9a-f]{64}")
_DOWN = (RedisError, OSError, TimeoutError)
#: how long one pub/sub read waits; also how soon the listener notices it should stop
_POLL = 0.2


class RevocationBus:
    def __init__(
        self,
        redis: Any,
        channel: str,
        *,
        on_revoked: Callable[[str], None],
        on_gap: Callable[[], None],
        retry_after: float = 1.0,
    ) -> None:
        self._redis = redis
        self.channel = channel
        self._on_revoked = on_revoked
        self._on_gap = on_gap
        self._retry_after = retry_after
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.subscribed = asyncio.Event()
        self.published = 0
        self.received = 0
        self.failures = 0

    @property
    def healthy(self) -> bool:
        return self.subscribed.is_set()

    async def publish(self, key: str) -> bool:
        """Tell every replica `key` is revoked; False (logged) when Redis cannot take it."""
        if self._redis is None:
            return False
        try:
            await self._redis.publish(self.channel, key.encode("ascii"))
        except _DOWN as exc:
            self.failures += 1
            log.warning(
                "session revocation not broadcast (%s): other replicas drop it at their next "
                "re-validation",
                type(exc).__name__,
            )
            return False
        self.published += 1
        return True

    def start(self) -> None:
        if self._redis is not None and self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="session-revocations")

    async def close(self, grace: float = 2.0) -> None:
        """Stop listening. The listener is asked to stop (it checks between reads, every
        `_POLL` s) rather than cancelled: a cancelled redis-py pub/sub read may never return."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        _done, pending = await asyncio.wait({task}, timeout=grace)
        if pending:
            task.cancel()
            _done, pending = await asyncio.wait({task}, timeout=grace)
        if pending:
            log.warning("session revocations: the listener did not stop; abandoned")
        elif not task.cancelled():
            task.exception()  # retrieved (it ends normally; anything else was logged)

    async def _listen_forever(self) -> None:
        first = True
        while not self._stopping:
            try:
                await self._listen(first)
            except asyncio.CancelledError:
                raise
            except _DOWN as exc:
                if self.subscribed.is_set() or first:
                    log.warning(
                        "session revocations: Redis unavailable (%s); cached sessions are "
                        "re-read from PostgreSQL until it is back",
                        type(exc).__name__,
                    )
                self.failures += 1
            self.subscribed.clear()
            first = False
            if not self._stopping:
                await asyncio.sleep(self._retry_after)

    async def _listen(self, first: bool) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            if not first:
                self._on_gap()  # messages published meanwhile are lost: re-read everything
            self.subscribed.set()
            while not self._stopping:
                message = await pubsub.get_message(timeout=_POLL)
                if message is not None:
                    self._handle(message)
        finally:
            with contextlib.suppress(*_DOWN):
                await pubsub.aclose()

    def _handle(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if message.get("type") != "message" or not isinstance(data, bytes):
            return
        if not _HASH.fullmatch(data):
            log.warning("session revocations: ignored a malformed message (%d bytes)", len(data))
            return
        self.received += 1
        try:
            self._on_revoked(data.decode("ascii"))
        except Exception as exc:  # a dying actor must not kill the listener
            log.warning("session revocations: could not apply one: %s", type(exc).__name__)
