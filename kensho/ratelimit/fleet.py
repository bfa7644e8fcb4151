"""`FleetLimiter`: one quota per client and policy for the whole fleet, cheap on the hot path.

Exactness comes from Redis (`RedisGcra`: an atomic GCRA take); cheapness from leases. A replica
takes several units of a busy client's quota in one round trip and spends them locally for at
most `LEASE_SECONDS`; the lease doubles while the client keeps spending it before it expires
and halves when units are left over, which are refunded at the next take. Leases never exceed
a quarter of the burst nor what the policy's rate refills in `LEASE_SECONDS`, so a slow policy
(5/s, burst 10) goes to Redis on every request and stays exact, and a fast one makes one round
trip per `lease` requests. No unit is spent that Redis did not grant, so the fleet never
admits more than the quota over the long run; at worst a lease granted at t is spent until
t + `LEASE_SECONDS`. A refusal is remembered until its `Retry-After`, so a client hammering
past its quota costs no round trips either. Concurrent requests of one client share one take.

A client with nothing leased is admitted **optimistically** under a policy of burst >=
`OPTIMISTIC_MIN_BURST`: its take goes to Redis in the background (batched with the others) and
pays for the request afterwards, so a quiet client costs no wait and no future. The price, a
bounded overshoot: an optimistic take that finds the quota empty admitted one request too
many; the replica then refuses the client locally until the take's `Retry-After` and admits it
optimistically again only after a whole policy window (`burst / rate`) without a refusal, with
one take on its way per client at a time. So the fleet admits at most one request per replica
per client and window beyond GCRA's count (at most replicas / burst of the quota).

Redis down (any error): the replica limits alone with the same policy (`LocalGcra`), logs the
switch once, reports `fallback_active` (on `/metrics` and `/health/ready`), and tries Redis
again after `REDIS_RETRY_SECONDS`. A request is never refused or failed because Redis is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kensho.errors import RateLimited
from kensho.ratelimit.gcra import LocalGcra, RedisGcra, Take
from kensho.ratelimit.policy import Policy

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LEASE_SECONDS", "OPTIMISTIC_MIN_BURST", "REDIS_RETRY_SECONDS", "FleetLimiter"]

log = logging.getLogger("kensho.ratelimit")

LEASE_SECONDS = 0.25
REDIS_RETRY_SECONDS = 1.0
#: Policies with a smaller burst are never optimistic: one request over would be more than 2 %.
OPTIMISTIC_MIN_BURST = 50
_MAX_CLIENT_TEXT = 64


class _Lease:
    """This replica's share of one client's quota under one policy."""

    __slots__ = (
        "busy",
        "denied_until",
        "expires",
        "free",
        "pending",
        "refused_at",
        "reset_at",
        "size",
        "taken_at",
        "tokens",
    )

    def __init__(self) -> None:
        self.tokens = 0  # leased units not spent yet
        self.free = 0  # units the fleet still had after the last take
        self.taken_at = -math.inf  # when the last take was sent (-inf: never)
        self.expires = 0.0
        self.reset_at = 0.0
        self.denied_until = 0.0
        self.refused_at = -math.inf  # when a take last answered "nothing left"
        self.size = 1
        self.busy = False  # a take is on its way
        self.pending: asyncio.Future[None] | None = None  # made when a request waits for it


class FleetLimiter:
    """Spend one unit of a client's quota; `bind(redis)` makes the quota fleet-wide."""

    def __init__(
        self,
        *,
        lease_max: int = 128,
        prefix: str = "kensho:rl:",
        max_clients: int = 100_000,
        optimistic: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lease_max < 1 or max_clients < 1:
            raise ValueError("lease_max and max_clients must be at least 1")
        self.lease_max = lease_max
        self.prefix = prefix
        self.max_clients = max_clients
        self.optimistic = optimistic
        self._clock = clock
        self._redis: RedisGcra | None = None
        self._local = LocalGcra(max_keys=max_clients, clock=clock)
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._retry_redis_at = 0.0
        #: True while Redis is unreachable and this replica limits on its own.
        self.fallback_active = False
        self.fallbacks = 0  # times the limiter switched to the local fallback
        self.redis_takes = 0
        self.local_takes = 0
        self.allowed: dict[str, int] = {}
        self.limited: dict[str, int] = {}
        self.optimistic_admissions = 0
        self.overshoots = 0  # optimistic admissions the fleet's quota did not cover

    def bind(self, redis: Redis | None, *, prefix: str | None = None) -> None:
        """Share quotas through `redis` (None: this replica alone)."""
        self._redis = RedisGcra(redis) if redis is not None else None
        if prefix is not None:
            self.prefix = prefix

    async def aclose(self) -> None:
        """Let the takes on their way to Redis answer (or fall back), before Redis closes."""
        if self._redis is not None:
            await self._redis.aclose()

    async def acquire(self, policy: Policy, client: str) -> str:
        """Spend one unit; returns the `RateLimit` header item, or raises `RateLimited` (with
        `Retry-After`, `RateLimit` and `RateLimit-Policy`) when the quota is used up."""
        key = (policy.name, client)
        lease = self._leases.get(key)
        if lease is None:
            lease = self._leases[key] = _Lease()
            if len(self._leases) > self.max_clients:
                self._evict()
        while True:
            now = self._clock()
            if lease.denied_until > now:
                self.limited[policy.name] = self.limited.get(policy.name, 0) + 1
                raise _refusal(policy, lease.denied_until - now)
            if lease.tokens > 0 and now < lease.expires:
                lease.tokens -= 1
                self.allowed[policy.name] = self.allowed.get(policy.name, 0) + 1
                return policy.usage_header(lease.tokens + lease.free, lease.reset_at - now)
            if lease.busy:
                if lease.pending is None:
                    lease.pending = asyncio.get_running_loop().create_future()
                    if self._redis is not None:  # pragma: no branch - busy: a Redis take
                        self._redis.flush()
                await asyncio.shield(lease.pending)
                continue
            redis = self._redis
            if (
                redis is not None
                and self.optimistic
                and policy.burst >= OPTIMISTIC_MIN_BURST
                and now - lease.refused_at >= policy.window
                and now >= self._retry_redis_at
            ):
                return self._admit(redis, policy, client, lease, now)
            await self._refill(policy, client, lease)

    def lease_cap(self, policy: Policy) -> int:
        """The most units one take may lease under `policy`."""
        return max(1, min(self.lease_max, policy.burst // 4, int(policy.rate * LEASE_SECONDS)))

    async def _refill(self, policy: Policy, client: str, lease: _Lease) -> None:
        refund = self._prepare(policy, lease)
        # Times count from before the round trip: Redis judged at some moment in between,
        # and a refusal remembered from after it would outlast the real wait by the round
        # trip (under load, a large share of a fast policy's refill interval).
        sent = self._clock()
        try:
            taken = await self._take(self._key(policy, client), policy, lease.size, refund)
        except BaseException:  # the request went away: what the take grants lapses (under)
            self._done(lease)
            raise
        self._settle(lease, sent, taken, 0)

    def _admit(
        self, redis: RedisGcra, policy: Policy, client: str, lease: _Lease, now: float
    ) -> str:
        """Admit a request before Redis answers: its unit is owed by the take sent now. Only
        for a client no take refused on this replica within the policy's window, one take on
        its way at a time, so the fleet admits at most one request per replica per client
        and window that the quota did not cover (`docs/operations.md`)."""
        known_free = lease.free + lease.tokens
        refund = self._prepare(policy, lease)
        key = self._key(policy, client)
        want = lease.size

        def settle(answer: Take | Exception) -> None:
            if isinstance(answer, Exception):
                self._enter_fallback(answer)
                self.local_takes += 1
                answer = self._local.take(key, policy.interval_us, policy.burst, want, refund)
            else:
                self._redis_answered()
            self._settle(lease, now, answer, 1)

        redis.take_soon(key, policy.interval_us, policy.burst, want, refund, settle)
        self.optimistic_admissions += 1
        self.allowed[policy.name] = self.allowed.get(policy.name, 0) + 1
        # The header's honest estimate: what the last take here left, refilled since at the
        # policy's rate (a client never seen here: a full quota), less this request.
        free = policy.burst
        if lease.taken_at > -math.inf:
            refilled = (now - lease.taken_at) * policy.rate
            free = min(policy.burst, known_free + int(min(refilled, policy.burst)))
        remaining = max(0, free - 1)
        return policy.usage_header(remaining, (policy.burst - remaining) / policy.rate)

    def _prepare(self, policy: Policy, lease: _Lease) -> int:
        """Size the next take (the lease doubles when spent, halves when units were left
        over) and mark it on its way; returns the units to refund."""
        refund, lease.tokens = lease.tokens, 0
        cap = self.lease_cap(policy)
        if refund:
            lease.size = max(1, lease.size // 2)
        elif lease.expires:
            lease.size = lease.size * 2
        lease.size = min(lease.size, cap)
        lease.busy = True
        return refund

    def _settle(self, lease: _Lease, sent: float, taken: Take, owed: int) -> None:
        """Record a take's answer; `owed` units of it pay for requests already admitted."""
        lease.free = taken.free
        lease.taken_at = sent
        lease.expires = sent + LEASE_SECONDS
        lease.reset_at = sent + taken.reset_us / 1e6
        if taken.got == 0:
            lease.tokens = 0
            lease.denied_until = sent + taken.retry_us / 1e6
            lease.refused_at = sent
            self.overshoots += owed
        else:
            lease.tokens = taken.got - owed
        self._done(lease)

    @staticmethod
    def _done(lease: _Lease) -> None:
        lease.busy = False
        if lease.pending is not None:
            lease.pending.set_result(None)
            lease.pending = None

    async def _take(self, key: str, policy: Policy, want: int, refund: int) -> Take:
        redis = self._redis
        if redis is not None and self._clock() >= self._retry_redis_at:
            try:
                taken = await redis.take(key, policy.interval_us, policy.burst, want, refund)
            except Exception as exc:  # any Redis failure: limit locally, never fail the request
                self._enter_fallback(exc)
            else:
                self._redis_answered()
                return taken
        self.local_takes += 1
        return self._local.take(key, policy.interval_us, policy.burst, want, refund)

    def _redis_answered(self) -> None:
        self.redis_takes += 1
        if self.fallback_active:
            self.fallback_active = False
            log.warning("rate limit: Redis is back; limits are fleet-wide again")

    def _enter_fallback(self, exc: Exception) -> None:
        self._retry_redis_at = self._clock() + REDIS_RETRY_SECONDS
        if not self.fallback_active:
            self.fallback_active = True
            self.fallbacks += 1
            log.warning(
                "rate limit: Redis unreachable (%s); limiting per replica until it is back",
                type(exc).__name__,
                extra={"event": "rate_limit_fallback"},
            )

    def _key(self, policy: Policy, client: str) -> str:
        if len(client) > _MAX_CLIENT_TEXT:
            client = hashlib.blake2b(client.encode(), digest_size=16).hexdigest()
        return f"{self.prefix}{policy.name}:{client}"

    def _evict(self) -> None:
        """Forget the oldest leases (their unspent units lapse: an under-count, never over)."""
        for _ in range(len(self._leases)):
            if len(self._leases) <= self.max_clients:
                return
            oldest = next(iter(self._leases))
            if self._leases[oldest].busy:
                self._leases[oldest] = self._leases.pop(oldest)  # busy: move it to the end
                continue
            del self._leases[oldest]

    def stats(self) -> dict[str, Any]:
        """For `/metrics`: fallback state, decisions by policy, takes by store."""
        return {
            "fallback_active": self.fallback_active,
            "fallbacks": self.fallbacks,
            "allowed": dict(self.allowed),
            "limited": dict(self.limited),
            "takes": {"redis": self.redis_takes, "local": self.local_takes},
            "optimistic": {"admitted": self.optimistic_admissions, "over": self.overshoots},
        }

    def __len__(self) -> int:
        return len(self._leases)


def _refusal(policy: Policy, wait: float) -> RateLimited:
    return RateLimited(
        "Too many requests from this client; slow down.",
        retry_after=wait,
        headers={
            "RateLimit-Policy": policy.header,
            "RateLimit": policy.usage_header(0, max(1.0, wait)),
        },
    )
