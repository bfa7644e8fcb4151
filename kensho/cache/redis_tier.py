"""L2: the Redis tier shared by every replica, and the pub/sub channel that keeps L1s honest.

Redis is an optimisation, never a dependency: every call has short socket timeouts and no
retries, the first connection error marks the tier unhealthy, and while unhealthy the tier
answers "miss" at once without touching the network. A probe task pings Redis and, when it
answers again, replays the invalidations made meanwhile and resubscribes. Because invalidations
published while we were disconnected are lost, `on_reconnect` lets the owner drop its L1.

Stored value: 24 header bytes (fresh_until, stale_until, expire_at as big-endian doubles,
wall-clock seconds) followed by the value; the Redis TTL is `expire_at`, so L2 can serve stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kensho.cache.keys import Namespace, Pattern
from kensho.cache.lru import Clock, Entry

__all__ = ["RedisSettings", "RedisTier", "decode_entry", "encode_entry", "redis_client"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">ddd")
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
MAX_PENDING_INVALIDATIONS = 1000


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Connection and behaviour limits for L2."""

    url: str
    max_connections: int = 32
    pool_timeout: float = 0.5  # wait for a free pooled connection
    socket_timeout: float = 0.5  # per command
    connect_timeout: float = 0.25
    probe_interval: float = 2.0
    scan_count: int = 500  # SCAN COUNT hint and UNLINK batch size


def redis_client(settings: RedisSettings) -> Redis:
    """A client on a blocking pool with the tier's limits: short timeouts, no retries (an
    outage must answer "miss" at once). `kensho.composition` builds the process's one client
    with it, shared by the cache and everything else that talks to Redis."""
    pool = BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        timeout=settings.pool_timeout,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis(connection_pool=pool)


def encode_entry(entry: Entry) -> bytes:
    """Header + value, as stored in Redis."""
    return _HEADER.pack(entry.fresh_until, entry.stale_until, entry.expire_at) + entry.value


def decode_entry(raw: bytes) -> Entry | None:
    """The entry, or None for a value we did not write (too short or non-finite deadlines)."""
    if len(raw) < _HEADER.size:
        return None
    fresh, stale, expire = _HEADER.unpack_from(raw)
    if not all(math.isfinite(x) for x in (fresh, stale, expire)) or not fresh <= stale <= expire:
        return None
    return Entry(raw[_HEADER.size :], fresh, stale, expire)


class RedisTier:
    """Async L2 client; lives on the event loop (rule 2: the loop owns I/O)."""

    def __init__(
        self,
        settings: RedisSettings,
        namespace: Namespace,
        *,
        on_invalidation: Callable[[bytes], None],
        on_reconnect: Callable[[], None] = lambda: None,
        clock: Clock,
        client: Redis | None = None,
    ) -> None:
        self.settings = settings
        self.namespace = namespace
        self.channel = namespace.prefix + b"__invalidations__"
        self.origin = os.urandom(8).hex().encode()
        self._on_invalidation = on_invalidation
        self._on_reconnect = on_reconnect
        self._clock = clock
        # The process's one Redis client when given (its pool is the owner's to close);
        # otherwise a pool of our own, closed with the tier.
        self._owns_client = client is None
        self._client: Redis = client if client is not None else redis_client(settings)
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._pending: list[bytes] = []
        self._pending_overflow = False
        self._closed = False
        self.healthy = False
        self.last_error: str | None = None
        self.errors = 0
        self.reconnects = 0
        self.corrupt = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and subscribe if Redis answers; never raises for a Redis outage."""
        await self.probe()
        self._prober = asyncio.create_task(self._probe_loop(), name="cache-l2-probe")

    async def close(self) -> None:
        """Stop the tasks and close the pool."""
        self._closed = True
        for task in (self._prober, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._drop_pubsub()
        if self._owns_client:
            await self._client.aclose(close_connection_pool=True)

    async def probe(self) -> bool:
        """PING; on recovery resubscribe and replay pending invalidations. Returns health."""
        if self._closed:
            return False
        try:
            await self._client.ping()
            if not self.healthy or self._listener is None or self._listener.done():
                await self._subscribe()
                was_down = self.reconnects > 0 or self.errors > 0
                self.healthy = True
                self.reconnects += 1
                if was_down:
                    self._on_reconnect()
                await self._replay_pending()
        except (*_DOWN, RedisError) as exc:
            self._down(exc)
        return self.healthy

    # -- data ---------------------------------------------------------------------------------
    async def get(self, key: bytes) -> Entry | None:
        """The stored entry (fresh or not), or None on a miss, a bad value or an outage."""
        if not self.healthy:
            return None
        try:
            raw = await self._client.get(key)
        except (*_DOWN, RedisError) as exc:
            self._down(exc)
            return None
        if not isinstance(raw, bytes):
            return None
        entry = decode_entry(raw)
        if entry is None:
            self.corrupt += 1
        return entry

    async def set(self, key: bytes, entry: Entry) -> bool:
        """Store with a Redis TTL reaching `expire_at`; False if skipped or failed."""
        if not self.healthy:
            return False
        px = math.ceil((entry.expire_at - self._clock()) * 1000)
        if px <= 0:
            return False
        try:
            await self._client.set(key, encode_entry(entry), px=px)
        except (*_DOWN, RedisError) as exc:
            self._down(exc)
            return False
        return True

    async def invalidate(self, pattern: bytes, compiled: Pattern) -> int:
        """Delete matching L2 keys (SCAN + UNLINK in batches) and tell every replica.

        `pattern` is the caller's (un-namespaced) pattern, re-compiled by each receiver. While
        Redis is down the pattern is kept (bounded) and replayed on reconnect.
        """
        if not self.healthy:
            self._remember(pattern)
            return 0
        try:
            deleted = await self._unlink(compiled)
            await self._client.publish(self.channel, self.origin + b" " + pattern)
        except (*_DOWN, RedisError) as exc:
            self._down(exc)
            self._remember(pattern)
            return 0
        return deleted

    async def _unlink(self, compiled: Pattern) -> int:
        if compiled.is_literal:
            return int(await self._client.unlink(compiled.raw))
        deleted = 0
        batch: list[bytes] = []
        async for key in self._client.scan_iter(
            match=compiled.redis_match, count=self.settings.scan_count
        ):
            batch.append(key)
            if len(batch) >= self.settings.scan_count:
                deleted += int(await self._client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(await self._client.unlink(*batch))
        return deleted

    # -- pub/sub ------------------------------------------------------------------------------
    async def _subscribe(self) -> None:
        await self._drop_pubsub()
        pubsub = self._client.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(self.channel)
        # Wait for the server's confirmation so a publish made after start() reaches us.
        confirm = await pubsub.get_message(timeout=self.settings.socket_timeout)
        if not confirm or confirm.get("type") != "subscribe":
            raise RedisConnectionError("no subscription confirmation from Redis")
        self._listener = asyncio.create_task(self._listen(pubsub), name="cache-l2-listener")

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            async for message in pubsub.listen():
                self._handle(message)
        except asyncio.CancelledError:
            raise
        except (*_DOWN, RedisError) as exc:
            self._down(exc)
        else:
            # Unsubscribed under us: invalidations would be missed, so the tier is not healthy.
            self._down(RedisConnectionError("pub/sub subscription ended"))

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data = message.get("data")
        if not isinstance(data, bytes):
            return
        origin, sep, pattern = data.partition(b" ")
        if not sep:
            log.warning("cache: ignored a malformed invalidation message (%d bytes)", len(data))
            return
        if origin == self.origin:
            return  # applied locally before publishing
        try:
            self._on_invalidation(pattern)
        except Exception as exc:
            # A hostile or malformed message must not kill the listener.
            log.warning("cache: could not apply a remote invalidation: %r", exc)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        listener, self._listener = self._listener, None
        if listener is not None and not listener.done():
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if pubsub is not None:
            with contextlib.suppress(*_DOWN, RedisError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    # -- health -------------------------------------------------------------------------------
    def _down(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.healthy:
            log.warning("cache: Redis unavailable, serving from L1 only: %s", self.last_error)
        self.healthy = False
        self._wake.set()

    def _remember(self, pattern: bytes) -> None:
        if self._pending_overflow:
            return
        if len(self._pending) >= MAX_PENDING_INVALIDATIONS:
            self._pending_overflow = True
            self._pending = []
            return
        self._pending.append(pattern)

    async def _replay_pending(self) -> None:
        patterns = [b"*"] if self._pending_overflow else list(self._pending)
        self._pending, self._pending_overflow = [], False
        for raw in patterns:
            await self.invalidate(raw, self.namespace.pattern(raw))

    async def _probe_loop(self) -> None:
        while True:
            if self.healthy and self._listener is not None and not self._listener.done():
                # Healthy: wake early only when a call or the listener reports an outage.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.probe_interval)
                self._wake.clear()
            else:
                # Down: one PING per interval, never a tight reconnect loop.
                await asyncio.sleep(self.settings.probe_interval)
                self._wake.clear()
                await self.probe()
