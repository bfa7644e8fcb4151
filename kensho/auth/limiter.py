"""Failed-login throttling as OWASP's authentication guidance asks: per account, and per address.

- Per account: `max_failures` (default 5) failed passwords in `window` lock that account's
  logins (429 + `Retry-After`), whoever sends them; a correct password clears its count.
- Per address: a much higher `max_per_address` (default 50) against credential stuffing; one
  locked account never blocks another account at the same address (behind a proxy, that
  address may be everyone).
- Every attempt is *reserved* before the upstream call, atomically with the check (one Lua
  script over both counts), so parallel guesses cannot pass the limit; a reservation becomes a
  failure on a wrong password, is cleared on success, and is released when the upstream could
  not answer (5xx, timeout, breaker open): an outage is not a wrong password.

State lives in Redis (a sorted set of attempt times per key), so every replica shares it; when
Redis fails, an in-process table with the same rules takes over and logins keep working. Keys
are hashes of the account name and the address, so hostile input never shapes a Redis key.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kensho.errors import RateLimited

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LoginLimiter", "LoginThrottled", "Reservation"]

log = logging.getLogger("kensho.auth.limiter")

_RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limits = {tonumber(ARGV[3]), tonumber(ARGV[4])}
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limits[i] then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {i, tostring(tonumber(oldest[2]) + window - now)}
  end
end
local ttl = math.ceil(window * 1000)
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {0, '0'}
"""
_SCOPES = {1: "account", 2: "address"}


class LoginThrottled(RateLimited):
    """Too many failed logins for the account (`scope="account"`) or from the address."""

    def __init__(self, scope: str, wait: float) -> None:
        super().__init__("Too many failed logins; try again later.", retry_after=max(wait, 1.0))
        self.scope = scope


@dataclass(frozen=True, slots=True)
class Reservation:
    """One login attempt counted under both keys until it is settled."""

    member: str
    account_key: str
    address_key: str
    store: Literal["redis", "local"]


def _digest(kind: str, value: str) -> str:
    return kind + ":" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


class LoginLimiter:
    """`reserve()` before the upstream call; then `failed()`, `succeeded()` or `release()`."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        prefix: str = "kensho:login:",
        max_failures: int = 5,
        max_per_address: int = 50,
        window: float = 900.0,
        max_local_keys: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(_RESERVE) if redis is not None else None
        self._prefix = prefix
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window = window
        self._max_local_keys = max_local_keys
        self._clock = clock
        self._local: dict[str, dict[str, float]] = {}
        #: True while Redis fails and this replica counts on its own (logged once per outage).
        self.fallback_active = False
        self.fallbacks = 0  # times the limiter switched to its per-replica table

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return (
            self._prefix + _digest("user", username.strip().casefold()),
            self._prefix + _digest("addr", address),
        )

    async def reserve(self, username: str, address: str) -> Reservation:
        """Count an attempt for the account and the address, or raise `LoginThrottled`."""
        account_key, address_key = self._keys(username, address)
        member = f"{secrets.token_hex(8)}"
        now = self._clock()
        if self._script is not None:
            try:
                found, wait = await self._script(
                    keys=[account_key, address_key],
                    args=[
                        repr(now),
                        repr(self.window),
                        self.max_failures,
                        self.max_per_address,
                        member,
                    ],
                )
            except Exception as exc:  # Redis down: this replica's table, logins keep working
                self._degrade(exc)
            else:
                self._recover()
                if int(found):
                    raise LoginThrottled(_SCOPES[int(found)], float(wait))
                return Reservation(member, account_key, address_key, "redis")
        self._reserve_locally(account_key, address_key, member, now)
        return Reservation(member, account_key, address_key, "local")

    async def failed(self, reservation: Reservation) -> None:
        """A wrong password: the reservation stays, as a failure of both keys."""

    async def succeeded(self, reservation: Reservation) -> None:
        """A correct password clears the account's failures and releases this attempt."""
        if reservation.store == "local":
            self._local.pop(reservation.account_key, None)
            self._local.get(reservation.address_key, {}).pop(reservation.member, None)
            return
        assert self._redis is not None
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(reservation.account_key)
            pipe.zrem(reservation.address_key, reservation.member)
            await pipe.execute()
        except Exception as exc:
            self._degrade(exc)

    async def release(self, reservation: Reservation) -> None:
        """The upstream could not judge the password: the attempt does not count."""
        keys = (reservation.account_key, reservation.address_key)
        if reservation.store == "local":
            for key in keys:
                self._local.get(key, {}).pop(reservation.member, None)
            return
        assert self._redis is not None
        try:
            pipe = self._redis.pipeline(transaction=True)
            for key in keys:
                pipe.zrem(key, reservation.member)
            await pipe.execute()
        except Exception as exc:
            self._degrade(exc)

    def _reserve_locally(self, account_key: str, address_key: str, member: str, now: float) -> None:
        """The script's rules on this replica's table (no await inside: atomic on the loop)."""
        horizon = now - self.window
        for key, limit, scope in (
            (account_key, self.max_failures, "account"),
            (address_key, self.max_per_address, "address"),
        ):
            times = self._local.get(key)
            if times is None:
                continue
            for old in [m for m, t in times.items() if t <= horizon]:
                del times[old]
            if len(times) >= limit:
                raise LoginThrottled(scope, min(times.values()) + self.window - now)
        for key in (account_key, address_key):
            self._local.setdefault(key, {})[member] = now
        if len(self._local) > self._max_local_keys:
            self._sweep(horizon)

    def _sweep(self, horizon: float) -> None:
        for key in [
            k for k, times in self._local.items() if max(times.values(), default=0) <= horizon
        ]:
            del self._local[key]
        while len(self._local) > self._max_local_keys:
            del self._local[next(iter(self._local))]

    def stats(self) -> dict[str, Any]:
        """For `/metrics`: whether this replica counts on its own now, and how often it did."""
        return {"fallback_active": self.fallback_active, "fallbacks": self.fallbacks}

    def _degrade(self, exc: Exception) -> None:
        if not self.fallback_active:
            self.fallback_active = True
            self.fallbacks += 1
            log.warning(
                "login limiter: Redis unreachable (%s); counting failures per replica",
                type(exc).__name__,
                extra={"event": "login_limiter_fallback"},
            )

    def _recover(self) -> None:
        if self.fallback_active:
            self.fallback_active = False
            log.warning("login limiter: Redis is back; failures are counted fleet-wide again")
