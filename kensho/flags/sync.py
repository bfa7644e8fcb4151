"""`FlagSync`: the fleet's flag overrides, kept in one Redis hash and followed by every replica.

An operator's change is written to the hash `<prefix>flags` (field = flag key, value = the
setting as JSON) and announced on the channel `<prefix>flags:changed`; every replica re-reads
the hash when it hears it, and anyway every `interval` seconds, so a lost message (a replica
that was resubscribing) costs at most that long (ARCHITECTURE rule 8). While Redis is
unreachable the overrides are dropped and the configured settings apply (rule 9): the same on
every replica that cannot see Redis, logged once per outage, never a failed request. One slow
or failed read alone does not count as an outage (a loaded Redis answering late must not flip
the fleet's behaviour back and forth): the overrides are dropped at the second failure in a
row, at most one `interval` after the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from kensho.flags.model import FlagDefinition, FlagInputError, Setting, parse_setting

__all__ = ["FlagSync", "RedisUnavailable"]

log = logging.getLogger("kensho.flags")

_DOWN = (RedisError, OSError, asyncio.TimeoutError)
_MAX_VALUE_BYTES = 4096
#: Failed reads in a row that make an outage (the first may be a slow answer).
_FAILURES_FOR_DOWN = 2


class RedisUnavailable(RuntimeError):
    """A change could not be stored: Redis is down (the caller answers 503)."""


class FlagSync:
    """Overrides from Redis (`overrides`, valid only while `up`), kept fresh by one task."""

    def __init__(
        self,
        client: Redis | None,
        definitions: Mapping[str, FlagDefinition],
        *,
        prefix: str,
        interval: float,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._client = client
        self._definitions = definitions
        self.hash_key = f"{prefix}flags".encode()
        self.channel = f"{prefix}flags:changed".encode()
        self.interval = interval
        self._on_change = on_change
        #: None before the first read; False while Redis cannot be read (configured values).
        self.up: bool | None = None if client is not None else False
        self.overrides: dict[str, Setting] = {}
        self.updated: dict[str, str] = {}
        self.refreshes = 0
        self.errors = 0
        self._failures = 0
        self.last_error: str | None = None
        self._ignored: set[tuple[str, bytes]] = set()
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the hash once (so a fresh replica starts with the fleet's flags), then follow."""
        if self._client is None:
            log.info("flags: no Redis; evaluating the configured settings only")
            return
        await self.refresh()
        self._task = asyncio.create_task(self._follow(), name="flags-sync")

    async def close(self) -> None:
        # The flag as well as the cancellation: redis-py may swallow a CancelledError that
        # lands inside one of its calls, and the follower must still end.
        self._closed = True
        self._wake.set()
        for task in (self._task, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._drop_pubsub()

    # -- reads --------------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Re-read every override; (re)subscribe when the listener is not running."""
        assert self._client is not None
        try:
            if self._listener is None or self._listener.done():
                await self._subscribe()
            raw = await self._client.hgetall(self.hash_key)
        except _DOWN as exc:
            self._down(exc)
            return
        self.refreshes += 1
        self._failures = 0
        overrides, updated = self._parse(raw)
        was_up = self.up
        changed = overrides != self.overrides or was_up is not True
        self.overrides, self.updated, self.up = overrides, updated, True
        if was_up is False:
            log.warning("flags: Redis reachable again; following the fleet's flag settings")
        if changed:
            self._notify()

    def _parse(self, raw: Mapping[Any, Any]) -> tuple[dict[str, Setting], dict[str, str]]:
        overrides: dict[str, Setting] = {}
        updated: dict[str, str] = {}
        for field, value in raw.items():
            key = field.decode("utf-8", "replace") if isinstance(field, bytes) else str(field)
            definition = self._definitions.get(key)
            try:
                if definition is None:
                    raise FlagInputError("key", "not a flag this version knows")
                if not isinstance(value, bytes) or len(value) > _MAX_VALUE_BYTES:
                    raise FlagInputError("value", "too large")
                doc = orjson.loads(value)
                overrides[key] = parse_setting(definition, doc.get("setting"))
                updated[key] = str(doc.get("updated_at", ""))[:40]
            except (FlagInputError, orjson.JSONDecodeError, AttributeError) as exc:
                # Another version's flag, or a hand-edited value: skip it, say so once.
                marker = (key[:64], value[:64] if isinstance(value, bytes) else b"")
                if marker not in self._ignored and len(self._ignored) < 1000:
                    self._ignored.add(marker)
                    log.warning("flags: ignored the stored setting of %r: %s", key[:64], exc)
        return overrides, updated

    async def next_change(self) -> None:
        """Wait until the overrides in force change (or Redis is lost or found again)."""
        await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        self._on_change()

    # -- writes -------------------------------------------------------------------------------
    async def store(self, key: str, setting: Setting | None) -> str:
        """Write (or, with None, delete) one override and tell every replica; the time stored.

        Raises `RedisUnavailable`: a change that only this replica saw would split the fleet.
        Tried even while reads are failing: the write itself says whether Redis answers.
        """
        if self._client is None:
            raise RedisUnavailable("Redis is unavailable")
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                if setting is None:
                    pipe.hdel(self.hash_key, key)
                else:
                    doc = {"setting": setting.as_dict(), "updated_at": at}
                    pipe.hset(self.hash_key, key, orjson.dumps(doc))
                pipe.publish(self.channel, key.encode())
                await pipe.execute()
        except _DOWN as exc:
            self._down(exc)
            raise RedisUnavailable("Redis is unavailable") from exc
        if self.up is not True:  # Redis is back: read every override, not just this one
            await self.refresh()
            return at
        if setting is None:
            self.overrides.pop(key, None)
            self.updated.pop(key, None)
        else:
            self.overrides[key] = setting
            self.updated[key] = at
        self._notify()
        return at

    # -- following ----------------------------------------------------------------------------
    async def _follow(self) -> None:
        while not self._closed:
            # asyncio.timeout, not wait_for: 3.11's wait_for loses a cancellation that arrives
            # as the wake-up does (close() would then wait for this task forever).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:
                await self.refresh()
            except Exception:  # a bug here must not stop following the fleet for good
                log.exception("flags: re-reading the overrides failed; trying again later")

    async def _subscribe(self) -> None:
        assert self._client is not None
        await self._drop_pubsub()
        pubsub = self._client.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(self.channel)
        confirm = await pubsub.get_message(timeout=5.0)
        if not confirm or confirm.get("type") != "subscribe":
            raise RedisConnectionError("no subscription confirmation from Redis")
        self._listener = asyncio.create_task(self._listen(pubsub), name="flags-listener")

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._wake.set()  # re-read the hash: the message itself is only a nudge
        except asyncio.CancelledError:
            raise
        except _DOWN as exc:
            self._down(exc)
        self._wake.set()  # the subscription ended: resubscribe on the next refresh

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        listener, self._listener = self._listener, None
        if listener is not None and not listener.done():
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if pubsub is not None:
            with contextlib.suppress(*_DOWN):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _down(self, exc: BaseException) -> None:
        self.errors += 1
        self._failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.up is True and self._failures < _FAILURES_FOR_DOWN:
            log.info("flags: a Redis read failed, keeping the overrides: %s", self.last_error)
            return
        if self.up is not False:
            log.warning(
                "flags: Redis unavailable, evaluating the configured settings: %s",
                self.last_error,
            )
            self.up = False
            if self.overrides:
                self.overrides, self.updated = {}, {}
                self._notify()
