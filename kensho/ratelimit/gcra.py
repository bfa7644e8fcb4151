"""GCRA (the generic cell rate algorithm) taking several units at once: in Redis and locally.

One number per client, its theoretical arrival time (TAT): the quota is full when TAT <= now,
and each unit taken pushes TAT one emission interval (1/rate) further. A take of `want` units
gets as many as fit under the burst (`burst * interval - (TAT - now)`), so a replica can lease a
few units in one round trip. `refund` gives back units a replica leased and did not spend.

The Redis variant is one Lua script (over a batch of keys), so a take is atomic across
replicas, and reads Redis's own clock (`TIME`), so replicas with skewed clocks agree. The key
expires when the quota is full again: an idle client costs nothing. The local variant is the
same arithmetic in this process, the per-replica fallback when Redis is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LocalGcra", "RedisGcra", "Take"]

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local a = (i - 1) * 4
  local interval = tonumber(ARGV[a + 1])
  local burst = tonumber(ARGV[a + 2])
  local want = tonumber(ARGV[a + 3])
  local refund = tonumber(ARGV[a + 4])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
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
    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', ttl)
  end
  out[a + 1], out[a + 2], out[a + 3], out[a + 4] = got, free - got, tat - now, retry
end
return out
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
    """The fleet's quotas in Redis. Takes asked during one turn of the event loop go to Redis
    together, as one script call over all their keys (one round trip and one reply to parse
    for a batch): what keeps a replica cheap when many clients are each too quiet to lease."""

    def __init__(self, redis: Redis, *, max_batch: int = 128) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._max_batch = max_batch
        self._queued: list[tuple[str, tuple[int, int, int, int], asyncio.Future[Take]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self.round_trips = 0

    async def take(self, key: str, interval: int, burst: int, want: int, refund: int) -> Take:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Take] = loop.create_future()
        self._queued.append((key, (interval, burst, want, refund), done))
        if len(self._queued) == 1:  # the first of this turn: send after the turn's callbacks
            loop.call_soon(self._send)
        return await done

    def _send(self) -> None:
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), self._max_batch):
            task = asyncio.ensure_future(self._call(queued[start : start + self._max_batch]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _call(
        self, batch: list[tuple[str, tuple[int, int, int, int], asyncio.Future[Take]]]
    ) -> None:
        self.round_trips += 1
        try:
            flat = await self._script(
                keys=[key for key, _, _ in batch], args=[a for _, args, _ in batch for a in args]
            )
        except BaseException as exc:  # every waiter learns it (they fall back to local quotas)
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else ConnectionError())
            if not isinstance(exc, Exception):
                raise
            return
        for i, (_, _, done) in enumerate(batch):
            if not done.done():
                done.set_result(Take(*(int(v) for v in flat[4 * i : 4 * i + 4])))


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
