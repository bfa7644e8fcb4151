"""GCRA (the generic cell rate algorithm) taking several units at once: in Redis and locally.

One number per client, its theoretical arrival time (TAT): the quota is full when TAT <= now,
and each unit taken pushes TAT one emission interval (1/rate) further. A take of `want` units
gets as many as fit under the burst (`burst * interval - (TAT - now)`), so a replica can lease a
few units in one round trip. `refund` gives back units a replica leased and did not spend.

The Redis variant is one Lua script, so a take is atomic across replicas, and reads Redis's own
clock (`TIME`), so replicas with skewed clocks agree. The key expires when the quota is full
again: an idle client costs nothing. The local variant is the same arithmetic in this process,
the per-replica fallback when Redis is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LocalGcra", "RedisGcra", "Take"]

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local refund = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if refund > 0 then tat = math.max(now, tat - refund * interval) end
local free = math.floor((burst * interval - (tat - now)) / interval)
if free < 0 then free = 0 end
local got = math.min(want, free)
tat = tat + got * interval
local retry = 0
if got == 0 then retry = tat + interval - burst * interval - now end
if got > 0 or refund > 0 then
  local ttl = math.max(1, math.ceil((tat - now) / 1000))
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', ttl)
end
return {got, free - got, tat - now, retry}
"""


class Take(NamedTuple):
    """Units granted, units still free after them, µs until the quota is full, µs until the
    next unit (0 unless nothing was granted)."""

    got: int
    free: int
    reset_us: int
    retry_us: int


def _take(  # noqa: PLR0917 - the script's arguments, in its order
    tat: int, now: int, interval: int, burst: int, want: int, refund: int
) -> tuple[int, Take]:
    tat = max(tat, now)
    if refund > 0:
        tat = max(now, tat - refund * interval)
    free = max(0, (burst * interval - (tat - now)) // interval)
    got = min(want, free)
    tat += got * interval
    retry = tat + interval - burst * interval - now if got == 0 else 0
    return tat, Take(got, free - got, tat - now, retry)


class RedisGcra:
    """The fleet's quotas in Redis; every take is one `EVALSHA` round trip."""

    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_SCRIPT)

    async def take(self, key: str, interval: int, burst: int, want: int, refund: int) -> Take:
        got, free, reset_us, retry_us = await self._script(
            keys=[key], args=[interval, burst, want, refund]
        )
        return Take(int(got), int(free), int(reset_us), int(retry_us))


class LocalGcra:
    """The same quotas in this process only (the fallback); bounded by `max_keys`."""

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._tats: dict[str, int] = {}
        self._max_keys = max_keys
        self._clock = clock

    def take(self, key: str, interval: int, burst: int, want: int, refund: int) -> Take:
        now = int(self._clock() * 1_000_000)
        tat, result = _take(self._tats.get(key, 0), now, interval, burst, want, refund)
        self._tats[key] = tat
        if len(self._tats) > self._max_keys:
            self._sweep(now)
        return result

    def _sweep(self, now: int) -> None:
        """Forget full quotas (forgetting one changes nothing); if all are in use, the oldest."""
        full = [k for k, tat in self._tats.items() if tat <= now]
        for k in full:
            del self._tats[k]
        while len(self._tats) > self._max_keys:
            del self._tats[next(iter(self._tats))]

    def __len__(self) -> int:
        return len(self._tats)
