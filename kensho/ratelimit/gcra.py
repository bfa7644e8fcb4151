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
import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BACKGROUND_DELAY", "LocalGcra", "RedisGcra", "Settle", "Take"]

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
local i = 0
for a, b, c, d in string.gmatch(ARGV[1], '(%d+) (%d+) (%d+) (%d+)') do
  i = i + 1
  local interval, burst, want, refund = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
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
  out[i] = string.format('%d %d %d %d', got, free - got, tat - now, retry)
end
return table.concat(out, ' ')
"""


#: How long a take no request waits for may wait for others to share its round trip. Measured
#: on an idle 2-core machine (`python -m bench ratelimit`, 1,000 quiet clients, 2026-11-30): 5 ms
#: gave 0.758 of the unlimited stack's throughput (CPU ratio 0.843), 20 ms 0.880 (0.879). A
#: longer wait only delays when a replica learns that a quota is empty, not the overshoot bound
#: (one take per client per replica is on its way at a time).
BACKGROUND_DELAY = 0.02


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


#: Called with a queued take's answer, or with the exception that failed its batch.
Settle = Callable[[Take | Exception], None]


class RedisGcra:
    """The fleet's quotas in Redis. Takes go to Redis in batches, one script call over all
    their keys (one round trip and one reply to parse for a batch): what keeps a replica cheap
    when many clients are each too quiet to lease. One batch is on its way at a time: takes
    asked meanwhile wait for its answer and go together as the next, so batches grow with the
    load instead of round trips. A take a request waits for goes at the end of the loop's
    turn (or right after the batch on its way); takes no request waits for (optimistic
    admissions) wait up to `BACKGROUND_DELAY` for company, which is what makes their batches
    large at a moderate rate. A batch's arguments go as one string and its answer comes back
    as one: the client library then encodes and parses two values per batch instead of five
    and four per take."""

    def __init__(self, redis: Redis, *, max_batch: int = 128) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._max_batch = max_batch
        self._queued: list[tuple[str, str, Settle]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False  # a send is scheduled for the end of this turn
        self._urgent = False  # a request waits for a queued take
        self.round_trips = 0

    def take_soon(  # noqa: PLR0917 - the script's arguments, then the callback
        self,
        key: str,
        interval: int,
        burst: int,
        want: int,
        refund: int,
        settle: Settle,
        urgent: bool = False,
    ) -> None:
        """Queue a take; `settle` gets its answer (or the batch's exception) later, on the
        loop; without a future or a task of its own. `urgent`: a request waits for it."""
        self._queued.append((key, f"{interval} {burst} {want} {refund}", settle))
        if urgent or not (self._timer or self._soon or self._running):
            self._schedule(urgent)

    def flush(self) -> None:
        """A request now waits for a queued take: send without the background delay."""
        if self._queued:
            self._schedule(True)

    async def take(self, key: str, interval: int, burst: int, want: int, refund: int) -> Take:
        done: asyncio.Future[Take] = asyncio.get_running_loop().create_future()
        self.take_soon(key, interval, burst, want, refund, functools.partial(_resolve, done), True)
        return await done

    def _schedule(self, urgent: bool) -> None:
        self._urgent = self._urgent or urgent
        if self._running or self._soon:  # the batch's answer (or this turn's end) sends
            return
        loop = asyncio.get_running_loop()
        if self._urgent:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._soon = True
            loop.call_soon(self._send)
        else:  # nothing is on its way nor armed (`take_soon` checked, `_answered` too)
            self._timer = loop.call_later(BACKGROUND_DELAY, self._send)

    def _send(self) -> None:
        self._soon = self._urgent = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), self._max_batch):
            task = asyncio.ensure_future(self._call(queued[start : start + self._max_batch]))
            self._running.add(task)
            task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._queued and not self._running:  # what queued meanwhile: the next batch
            if self._urgent:
                self._send()
            else:
                self._schedule(False)

    async def _call(self, batch: list[tuple[str, str, Settle]]) -> None:
        self.round_trips += 1
        try:
            reply = await self._script(
                keys=[key for key, _, _ in batch], args=[" ".join(a for _, a, _ in batch)]
            )
            numbers = list(map(int, reply.split()))
            if len(numbers) != 4 * len(batch):
                raise ValueError(f"rate-limit script answered {len(numbers)} numbers")
        except BaseException as exc:  # every take learns it (they fall back to local quotas)
            failure = exc if isinstance(exc, Exception) else ConnectionError("batch cancelled")
            for _, _, settle in batch:
                settle(failure)
            if not isinstance(exc, Exception):
                raise
            return
        for i, (_, _, settle) in enumerate(batch):
            settle(Take(*numbers[4 * i : 4 * i + 4]))

    async def aclose(self, grace: float = 1.0) -> None:
        """Send what is queued and let the batches answer (cancelled after `grace` seconds:
        their takes fall back to local quotas), before the Redis client closes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._queued or self._running:
            if not self._running:
                self._send()
            left = deadline - loop.time()
            if left <= 0:  # takes not sent fall back; so do those of the cancelled batches
                queued, self._queued = self._queued, []
                for _, _, settle in queued:
                    settle(ConnectionError("rate limiter closed"))
                late = set(self._running)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                return
            await asyncio.wait(set(self._running), timeout=left)


def _resolve(done: asyncio.Future[Take], answer: Take | Exception) -> None:
    if done.done():  # the request went away (cancelled) while its batch was in Redis
        return
    if isinstance(answer, Exception):
        done.set_exception(answer)
    else:
        done.set_result(answer)


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
