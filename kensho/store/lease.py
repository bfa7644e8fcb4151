"""Fleet-wide leases in PostgreSQL: one holder at a time, an expiry, a fencing token.

Why a lease row and not an advisory lock: an advisory lock lives as long as one session, so the
holder would pin a pooled connection for the whole sync (a pool slot gone, and a connection
reset by a proxy or PgBouncer silently drops the lock while the run goes on); it has no expiry
an operator can read, and no token that writes can be checked against. A row gives all three:
`GET /admin/catalog/sync` shows the holder and `expires_at`, a crashed holder's lease simply
lapses, and every write of the run locks the row with its token (`fence`), so a holder that
was paused past its expiry and replaced can never commit again. Time is always the database's
(`now()`), so replicas' clocks never matter.

Every call is one autocommit statement on the pool (no connection is held between calls).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2

from kensho.store.pool import fetch_one

__all__ = [
    "FENCE_SQL",
    "Lease",
    "LeaseState",
    "LeaseStore",
    "holder_id",
    "lease_lost",
]

#: SQLSTATE raised by `lease_fence` (migrations/0008_sync_leadership.sql)
LEASE_LOST_SQLSTATE = "KL001"
#: run inside a transaction: raises `KL001` unless the token is current; locks the row FOR SHARE
FENCE_SQL = "SELECT lease_fence(%s, %s)"

_ACQUIRE = """
INSERT INTO leases AS l (name, holder, token, acquired_at, renewed_at, expires_at)
VALUES (%(name)s, %(holder)s, 1, now(), now(), now() + make_interval(secs => %(ttl)s))
ON CONFLICT (name) DO UPDATE
   SET holder = EXCLUDED.holder, token = l.token + 1, acquired_at = now(), renewed_at = now(),
       expires_at = EXCLUDED.expires_at
 WHERE l.holder IS NULL OR l.expires_at <= now()
RETURNING token, expires_at
"""
_RENEW = """
UPDATE leases SET renewed_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
 WHERE name = %(name)s AND token = %(token)s AND holder = %(holder)s
RETURNING expires_at
"""
_RELEASE = """
UPDATE leases SET holder = NULL, expires_at = now()
 WHERE name = %(name)s AND token = %(token)s AND holder = %(holder)s
"""
_STATE = """
SELECT holder, token, expires_at, holder IS NOT NULL AND expires_at > now(),
       extract(epoch FROM expires_at - now())
  FROM leases WHERE name = %s
"""


def holder_id() -> str:
    """This process's identity as a lease holder: host, pid and a random suffix (a restarted
    process with a recycled pid is still someone else)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(3)}"


def lease_lost(exc: BaseException) -> bool:
    """Whether `exc` is the fence refusing a write: the lease went to someone else."""
    return isinstance(exc, psycopg2.Error) and exc.pgcode == LEASE_LOST_SQLSTATE


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this process holds (until `expires_at`, unless renewed)."""

    name: str
    holder: str
    token: int
    expires_at: datetime

    @property
    def fence(self) -> tuple[str, tuple[str, int]]:
        """(`FENCE_SQL`, params) to run first in each transaction written under the lease."""
        return FENCE_SQL, (self.name, self.token)


@dataclass(frozen=True, slots=True)
class LeaseState:
    """A lease as the database has it now (whoever holds it)."""

    holder: str | None
    token: int
    expires_at: datetime | None
    held: bool
    #: seconds until `expires_at` by the database's clock (negative once expired)
    remaining: float


class LeaseStore:
    """One named lease for one holder, with a time to live in seconds."""

    def __init__(self, pool: Any, name: str, holder: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("a lease needs a positive time to live")
        self._pool = pool
        self.name = name
        self.holder = holder
        self.ttl = ttl

    async def try_acquire(self) -> Lease | None:
        """The lease, when it is free or expired (the token goes up); None when it is held."""
        row = await fetch_one(
            self._pool, _ACQUIRE, {"name": self.name, "holder": self.holder, "ttl": self.ttl}
        )
        if row is None:
            return None
        return Lease(self.name, self.holder, int(row[0]), row[1])

    async def renew(self, lease: Lease) -> Lease | None:
        """Push the expiry out by `ttl`; None when the lease is no longer ours (taken over).

        A lease that expired but was not taken is still ours: its token is unchanged, so no
        one else can have written under it.
        """
        row = await fetch_one(
            self._pool,
            _RENEW,
            {"name": lease.name, "token": lease.token, "holder": lease.holder, "ttl": self.ttl},
        )
        if row is None:
            return None
        return Lease(lease.name, lease.holder, lease.token, row[0])

    async def release(self, lease: Lease) -> bool:
        """Give the lease up now (no-op when someone else holds it); True when it was ours."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                _RELEASE, {"name": lease.name, "token": lease.token, "holder": lease.holder}
            )
            return bool(cur.rowcount)

    async def state(self) -> LeaseState:
        """Who holds the lease now, until when (never taken: nobody)."""
        row = await fetch_one(self._pool, _STATE, (self.name,))
        if row is None:
            return LeaseState(None, 0, None, False, 0.0)
        holder, token, expires, held, remaining = row
        return LeaseState(
            holder if held else None,
            int(token),
            expires if held else None,
            bool(held),
            float(remaining) if remaining is not None else 0.0,
        )
