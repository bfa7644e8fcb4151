"""`CacheService`: L1 + L2 behind one API, with single-flight loading and stale serving.

It runs on the event loop, which owns the Redis I/O (rule 2) and is the only writer of L1;
handlers on the loop (or any thread) may call `get_cached` for a lock-free L1 read (rule 3).
A load for a key runs once however many callers wait: they share one asyncio future, and a
waiter that is cancelled does not cancel the load for the others.

Windows of an entry written with (ttl, stale_ttl, error_ttl):
fresh for `ttl`; then for `stale_ttl` it is served while one background refresh runs
(stale-while-revalidate); up to `error_ttl` after going stale it is kept only to answer when
the loader fails (stale-if-error). After that it is gone.

Invalidation never lets an old value come back. Each invalidation is numbered (a generation)
and remembered with its pattern; a load remembers the generation it started in, and neither
its loader's result nor a value it read from L2 is written to L1 or L2 if an invalidation of
its key came after that. L1 is dropped both before and after the Redis SCAN+UNLINK, since a
read that runs meanwhile may still find the old value in Redis. Expired L1 entries are purged a
bounded slice per tick (`purge_interval`, `purge_slice`), never in one scan on the loop.

Over 400 lines on purpose: single flight, stale serving and invalidation share one
in-flight table and generation counter; the tiers themselves are `lru.py` and `redis_tier.py`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from kensho.cache.keys import MAX_KEY_BYTES, Key, Namespace
from kensho.cache.lru import Clock, Entry, Freshness, LRUCache
from kensho.cache.redis_tier import RedisSettings, RedisTier
from kensho.config import Config

__all__ = ["TIERS", "CacheService", "CacheSettings", "Loader"]

log = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[bytes]]
TIERS = ("l1", "l2", "miss")
_Flight = asyncio.Future[tuple[bytes, str]]
#: Invalidations remembered to judge a late write; a load older than all of them is refused.
_REMEMBERED = 256


def _everything(_key: bytes) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Bounds and defaults of one cache; `redis=None` runs L1 only."""

    prefix: str = "kensho:cache:"
    l1_max_entries: int = 10_000
    l1_max_bytes: int = 64 * 1024 * 1024
    max_key_bytes: int = MAX_KEY_BYTES
    redis: RedisSettings | None = None
    purge_interval: float = 1.0  # seconds between two slices of the expired-entry purge
    purge_slice: int = 1000  # expired L1 entries dropped per tick, at most

    def __post_init__(self) -> None:
        if not self.purge_interval > 0 or self.purge_slice < 1:
            raise ValueError("purge_interval must be positive and purge_slice at least 1")

    @classmethod
    def from_config(cls, config: Config, redis_url: str | None = None) -> CacheSettings:
        """Settings from `Config`; `redis_url` overrides `config.redis_url` (e.g. the URL of
        the embedded Redis once started). No URL at all means L1 only."""
        url = redis_url or config.redis_url
        timeout = config.cache_redis_timeout
        redis = (
            None
            if url is None
            else RedisSettings(
                url,
                max_connections=config.redis_pool_max,
                pool_timeout=timeout,
                socket_timeout=timeout,
                connect_timeout=timeout,
            )
        )
        return cls(
            prefix=config.cache_prefix,
            l1_max_entries=config.cache_l1_max_entries,
            l1_max_bytes=config.cache_l1_max_bytes,
            redis=redis,
        )


def _window(name: str, value: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return float(value)


class CacheService:
    """Two-tier cache. Values are bytes; callers serialise (e.g. orjson)."""

    def __init__(
        self,
        settings: CacheSettings | None = None,
        *,
        clock: Clock = time.time,
        redis: Redis | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`redis`: the process's shared client for L2 (else L2 opens its own pool)."""
        self.settings = settings or CacheSettings()
        self._clock = clock
        self._sleep = sleep
        self._ns = Namespace(
            self.settings.prefix.encode("utf-8", "surrogatepass"), self.settings.max_key_bytes
        )
        self.l1 = LRUCache(self.settings.l1_max_entries, self.settings.l1_max_bytes, clock)
        self.l2: RedisTier | None = None
        if self.settings.redis is not None:
            self.l2 = RedisTier(
                self.settings.redis,
                self._ns,
                on_invalidation=self._apply_remote,
                on_reconnect=self._on_reconnect,
                clock=clock,
                client=redis,
            )
        self._inflight: dict[bytes, _Flight] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._janitor: asyncio.Task[None] | None = None
        self._generation = 0
        self._invalidations: collections.deque[tuple[int, Callable[[bytes], bool]]] = (
            collections.deque(maxlen=_REMEMBERED)
        )
        self._listeners: list[Callable[[bytes], None]] = []
        #: Lookups by the tier that answered ("l1", "l2" or "miss"); read by /metrics.
        self.lookups = dict.fromkeys(TIERS, 0)
        self.counters = dict.fromkeys(
            (
                "stale_served",
                "stale_if_error",
                "loads",
                "load_errors",
                "refreshes",
                "joins",
                "remote_invalidations",
                "discarded_loads",
            ),
            0,
        )

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect L2 if configured (a Redis outage leaves the service degraded, not failed);
        start purging expired L1 entries, a slice per tick."""
        if self.l2 is not None:
            await self.l2.start()
        if self._janitor is None:
            self._janitor = asyncio.create_task(self._purge_loop(), name="cache-l1-purge")

    async def close(self) -> None:
        """Cancel background loads and the purge, close L2."""
        janitor, self._janitor = self._janitor, None
        if janitor is not None:
            janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await janitor
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.l2 is not None:
            await self.l2.close()

    async def wait_idle(self) -> None:
        """Wait until no load or background refresh runs (tests, draining at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- reads --------------------------------------------------------------------------------
    def get_cached(self, key: Key) -> bytes | None:
        """Lock-free L1 read of a fresh value; no I/O, no await (the hot path).

        A miss is not counted here: the caller goes on to `get` or `get_or_load`, which count
        the tier that answers.
        """
        return self.get_stored(self._ns.key(key))

    def stored_key(self, key: Key) -> bytes:
        """The form `key` is stored under (namespaced bytes); raises `ValidationFailed` (400)."""
        return self._ns.key(key)

    def get_stored(self, stored: bytes) -> bytes | None:
        """`get_cached` for a key already in its stored form (`stored_key`)."""
        value = self.l1.get_fresh(stored)
        if value is not None:
            self.lookups["l1"] += 1
        return value

    async def get(self, key: Key) -> bytes | None:
        """A fresh value from L1, else from L2 (filling L1), else None."""
        k = self._ns.key(key)
        entry = self.l1.get(k)
        if entry is not None and entry.freshness(self._clock()) is Freshness.FRESH:
            self._count("l1")
            return entry.value
        if self.l2 is not None:
            generation = self._generation
            remote = await self.l2.get(k)
            if remote is not None and remote.freshness(self._clock()) is Freshness.FRESH:
                if not self._outdated(k, generation):
                    self.l1.set(k, remote)
                self._count("l2")
                return remote.value
        self._count("miss")
        return None

    async def set(
        self,
        key: Key,
        value: bytes,
        ttl: float,
        stale_ttl: float = 0.0,
        error_ttl: float | None = None,
    ) -> None:
        """Store in L1 and L2 (an L2 failure only degrades the service)."""
        k = self._ns.key(key)
        entry = self._entry(value, ttl, stale_ttl, error_ttl)
        self.l1.set(k, entry)
        if self.l2 is not None:
            await self.l2.set(k, entry)

    async def get_or_load(
        self,
        key: Key,
        loader: Loader,
        ttl: float,
        stale_ttl: float = 0.0,
        error_ttl: float | None = None,
    ) -> bytes:
        """The cached value, loading it once for all concurrent callers on a miss.

        A stale value is returned at once while one background refresh runs; if the loader
        fails, a value still inside its error window is returned instead of the error.
        """
        k = self._ns.key(key)
        windows = (_window("ttl", ttl), _window("stale_ttl", stale_ttl))
        err = windows[1] if error_ttl is None else _window("error_ttl", error_ttl)
        entry = self.l1.get(k)
        if entry is not None:
            state = entry.freshness(self._clock())
            if state is Freshness.FRESH:
                self._count("l1")
                return entry.value
            if state is Freshness.STALE:
                self._count("l1")
                self.counters["stale_served"] += 1
                self._flight(k, loader, (*windows, err), stale=entry)
                return entry.value
        flight = self._flight(k, loader, (*windows, err), stale=entry)
        value, tier = await asyncio.shield(flight)
        self._count(tier)
        return value

    # -- invalidation -------------------------------------------------------------------------
    async def invalidate(self, pattern: Key) -> int:
        """Drop keys matching `pattern` (`*` is the only wildcard) here, in L2 and in every
        replica's L1. Returns how many L1 and L2 entries were removed here."""
        raw = pattern.encode("utf-8", "surrogatepass") if isinstance(pattern, str) else pattern
        compiled = self._ns.pattern(raw)
        removed = self._drop_local(compiled.matches)
        if self.l2 is not None:
            removed += await self.l2.invalidate(bytes(raw), compiled)
            # A read that ran meanwhile may have found the old value still in Redis.
            self._drop_local(compiled.matches)
        return removed

    def add_invalidation_listener(self, listener: Callable[[bytes], None]) -> None:
        """Call `listener(pattern)` after a remote invalidation was applied to L1."""
        self._listeners.append(listener)

    def _drop_local(self, matches: Callable[[bytes], bool]) -> int:
        # Loads that started before this invalidation must not write their (old) result, and
        # callers from now on must not join them.
        self._generation += 1
        self._invalidations.append((self._generation, matches))
        for k in [k for k in self._inflight if matches(k)]:
            del self._inflight[k]
        return self.l1.delete_matching(matches)

    def _outdated(self, k: bytes, since: int) -> bool:
        """Whether `k` was invalidated after generation `since`: then a load that started in
        `since` must not write what it found. Unknown (forgotten) counts as invalidated."""
        if since == self._generation:
            return False
        remembered = self._invalidations
        if not remembered or remembered[0][0] > since + 1:
            return True
        for generation, matches in reversed(remembered):
            if generation <= since:
                return False
            if matches(k):
                return True
        return False

    def _apply_remote(self, pattern: bytes) -> None:
        compiled = self._ns.pattern(pattern)
        self._drop_local(compiled.matches)
        self.counters["remote_invalidations"] += 1
        for listener in list(self._listeners):
            try:
                listener(pattern)
            except Exception:
                log.exception("cache: invalidation listener failed")

    def _on_reconnect(self) -> None:
        # Invalidations published while we were cut off are lost: start L1 afresh.
        self._drop_local(_everything)
        self.l1.clear()

    # -- loading ------------------------------------------------------------------------------
    def _flight(
        self, k: bytes, loader: Loader, windows: tuple[float, float, float], stale: Entry | None
    ) -> _Flight:
        flight = self._inflight.get(k)
        if flight is not None:
            self.counters["joins"] += 1
            return flight
        flight = asyncio.get_running_loop().create_future()
        # A background refresh may fail with nobody waiting: mark its exception as seen.
        flight.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[k] = flight
        task = asyncio.create_task(self._load(k, loader, windows, stale, flight))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return flight

    async def _load(
        self,
        k: bytes,
        loader: Loader,
        windows: tuple[float, float, float],
        stale: Entry | None,
        flight: _Flight,
    ) -> None:
        generation = self._generation
        try:
            if stale is not None and stale.freshness(self._clock()) is Freshness.STALE:
                self.counters["refreshes"] += 1
            # Another replica may have refreshed the value already: ask L2 before the loader.
            stale, answered = await self._from_l2(k, stale, flight, generation)
            if answered:
                return
            self.counters["loads"] += 1
            try:
                value = await loader()
                if not isinstance(value, bytes):
                    raise TypeError(f"cache loader returned {type(value).__name__}, not bytes")
            except Exception:
                self.counters["load_errors"] += 1
                if stale is None or stale.freshness(self._clock()) is Freshness.EXPIRED:
                    raise
                if not flight.done():
                    self.counters["stale_if_error"] += 1
                    flight.set_result((stale.value, "l1"))
                return
            entry = Entry.create(value, self._clock(), *windows)
            if self._outdated(k, generation):
                self.counters["discarded_loads"] += 1
            else:
                self.l1.set(k, entry)
                if self.l2 is not None:
                    await self.l2.set(k, entry)
            if not flight.done():
                flight.set_result((value, "miss"))
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except Exception as exc:
            if not flight.done():
                flight.set_exception(exc)
            else:
                log.warning("cache: background refresh failed: %r", exc)
        finally:
            if self._inflight.get(k) is flight:
                del self._inflight[k]

    async def _from_l2(
        self, k: bytes, stale: Entry | None, flight: _Flight, generation: int
    ) -> tuple[Entry | None, bool]:
        """Consult L2: (best entry to fall back on, whether the load is finished).

        A fresh L2 value answers `flight` and ends the load; a stale one answers `flight`
        (stale-while-revalidate) and the load goes on to refresh it.
        """
        if self.l2 is None:
            return stale, False
        remote = await self.l2.get(k)
        if remote is None:
            return stale, False
        state = remote.freshness(self._clock())
        outdated = self._outdated(k, generation)
        if state is Freshness.FRESH:
            if not outdated:
                self.l1.set(k, remote)
            # The flight is answered only by this load, which has not answered it yet; the
            # guard keeps a future change from raising InvalidStateError here.
            if not flight.done():  # pragma: no branch
                flight.set_result((remote.value, "l2"))
            return remote, True
        if state is Freshness.EXPIRED:
            return stale, False
        if stale is None or remote.fresh_until > stale.fresh_until:
            stale = remote
            if not outdated:
                self.l1.set(k, remote)
        if state is Freshness.STALE:
            self.counters["stale_served"] += 1
            if not flight.done():  # pragma: no branch - as above: not answered yet
                flight.set_result((remote.value, "l2"))
        return stale, False

    # -- expiry -------------------------------------------------------------------------------
    async def purge_expired(self) -> int:
        """Drop every expired L1 entry now, a slice at a time (yielding to the loop between)."""
        total = 0
        while True:
            dropped = self.l1.purge_expired(self.settings.purge_slice)
            total += dropped
            if dropped < self.settings.purge_slice:
                return total
            await asyncio.sleep(0)

    async def _purge_loop(self) -> None:
        while True:
            await self._sleep(self.settings.purge_interval)
            self.l1.purge_expired(self.settings.purge_slice)

    # -- reporting ----------------------------------------------------------------------------
    def ready(self) -> bool:
        """True: L1 alone can serve, so a Redis outage degrades but never un-readies us."""
        return True

    def health(self) -> dict[str, Any]:
        """`{"status": "up"|"degraded", "l1": "up", "l2": "up"|"down"|"disabled", ...}`."""
        if self.l2 is None:
            return {"status": "up", "l1": "up", "l2": "disabled"}
        out: dict[str, Any] = {
            "status": "up" if self.l2.healthy else "degraded",
            "l1": "up",
            "l2": "up" if self.l2.healthy else "down",
        }
        if not self.l2.healthy and self.l2.last_error:
            out["l2_error"] = self.l2.last_error
        return out

    def stats(self) -> dict[str, Any]:
        """Cheap, thread-safe summary for `/admin/actors` and Prometheus collectors."""
        total = sum(self.lookups.values())
        by_tier = {t: (n / total if total else 0.0) for t, n in self.lookups.items()}
        l1 = self.l1.stats
        return {
            "entries": len(self.l1),
            "bytes": self.l1.size_bytes,
            "max_entries": self.l1.max_entries,
            "max_bytes": self.l1.max_bytes,
            "evictions": l1.evictions,
            "expirations": l1.expirations,
            "scanned": l1.scanned,
            "rejected": l1.rejected,
            "lookups": dict(self.lookups),
            "hit_ratio": (by_tier["l1"] + by_tier["l2"]) if total else 0.0,
            "hit_ratio_by_tier": by_tier,
            "inflight": len(self._inflight),
            **self.counters,
            **self.health(),
            "l2_errors": 0 if self.l2 is None else self.l2.errors,
        }

    # -- helpers ------------------------------------------------------------------------------
    def _count(self, tier: str) -> None:
        self.lookups[tier] += 1

    def _entry(self, value: bytes, ttl: float, stale_ttl: float, error_ttl: float | None) -> Entry:
        if not isinstance(value, bytes):
            raise TypeError(f"cache values are bytes, got {type(value).__name__}")
        stale = _window("stale_ttl", stale_ttl)
        err = stale if error_ttl is None else _window("error_ttl", error_ttl)
        return Entry.create(value, self._clock(), _window("ttl", ttl), stale, err)
