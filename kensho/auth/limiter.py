"""Failed-login limiter: N failures per username and per client address in a sliding window.

State lives in Redis (one sorted set of failure times per key) so every replica sees the same
counts; without Redis an in-process table does the same for a single replica. While Redis is
unreachable (house rule 9) the same in-process table stands in, so a login never fails because
of Redis: the limit holds per replica, and failures counted then are not carried back to Redis.
Keys are hashes of the username and the address, so hostile input never shapes a Redis key.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from kensho.errors import RateLimited

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LoginLimiter"]

log = logging.getLogger("kensho.auth.limiter")
#: what an unreachable or failing Redis raises (redis-py wraps most; sockets and timeouts not all)
_REDIS_DOWN = (RedisError, OSError, TimeoutError)


def _digest(kind: str, value: str) -> str:
    return kind + ":" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


class LoginLimiter:
    """`check()` before a login attempt, `failure()` after a bad password, `success()` after."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        prefix: str = "kensho:login:",
        max_failures: int = 5,
        window: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._local: dict[str, deque[float]] = {}
        self.redis_errors = 0  # calls answered from the in-process table because Redis failed

    def _keys(self, username: str, address: str) -> list[str]:
        return [
            self._prefix + _digest("user", username.strip().lower()),
            self._prefix + _digest("addr", address),
        ]

    async def check(self, username: str, address: str) -> None:
        """Raise `RateLimited` (429 + Retry-After) when either key has too many failures."""
        now = self._clock()
        wait = 0.0
        for key in self._keys(username, address):
            count, oldest = await self._count(key, now)
            if count >= self.max_failures and oldest is not None:
                wait = max(wait, oldest + self.window - now)
        if wait > 0:
            raise RateLimited(
                "Too many failed logins; try again later.", retry_after=max(wait, 1.0)
            )

    async def failure(self, username: str, address: str) -> None:
        now = self._clock()
        for key in self._keys(username, address):
            await self._add(key, now)

    async def success(self, username: str) -> None:
        """A correct password clears the username's failures (not the address's)."""
        key = self._keys(username, "")[0]
        self._local.pop(key, None)
        if self._redis is not None:
            try:
                await self._redis.delete(key)
            except _REDIS_DOWN as exc:
                self._redis_down(exc)

    def _redis_down(self, exc: BaseException) -> None:
        self.redis_errors += 1
        if self.redis_errors == 1 or self.redis_errors % 1000 == 0:
            log.warning(
                "login limiter: Redis unavailable, counting failures in this process (%d calls"
                " so far): %s",
                self.redis_errors,
                type(exc).__name__,
            )

    async def _count(self, key: str, now: float) -> tuple[int, float | None]:
        if self._redis is not None:
            try:
                return await self._count_redis(key, now)
            except _REDIS_DOWN as exc:
                self._redis_down(exc)
        times = self._local.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times), (times[0] if times else None)

    async def _count_redis(self, key: str, now: float) -> tuple[int, float | None]:
        assert self._redis is not None
        horizon = now - self.window
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", horizon)
        pipe.zcard(key)
        pipe.zrange(key, 0, 0, withscores=True)
        results: list[Any] = await pipe.execute()
        first = results[2]
        return int(results[1]), (float(first[0][1]) if first else None)

    async def _add(self, key: str, now: float) -> None:
        if self._redis is not None:
            try:
                await self._add_redis(key, now)
                return
            except _REDIS_DOWN as exc:
                self._redis_down(exc)
        self._local.setdefault(key, deque()).append(now)

    async def _add_redis(self, key: str, now: float) -> None:
        assert self._redis is not None
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(key, {member: now})
        pipe.zremrangebyscore(key, "-inf", now - self.window)
        pipe.expire(key, int(self.window) + 1)
        await pipe.execute()
