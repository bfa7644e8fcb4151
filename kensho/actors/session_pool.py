"""Session-pool actor: the Crunchyroll tokens behind each Kenshō session, cached.

The actor owns a `SessionPool` (`kensho.upstream.sessions`: the decisions Use / Refresh / Wait,
one refresh in flight per session in this replica, LRU bound). It decides; the event loop does
every upstream and database call (rule 2) and reports back.

Its memory is a cache of PostgreSQL, never the only copy (docs/fleet.md): a session is saved
before it is used, every refresh is saved whether or not the session is still cached, a cached
session is re-read after `revalidate_after` seconds, and a revocation broadcast by another
replica drops it at once (`ForgetSession`). Stream grants live in PostgreSQL
(`kensho.auth.grants`), so a restart of this actor forgets nothing: the next incarnation starts
empty and re-adopts each session from the table on its next request (`AuthService`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kensho.actors.base import KenshoActor
from kensho.actors.supervisor import ChildSpec
from kensho.config import Config
from kensho.upstream.sessions import Decision, PoolConfig, Session, SessionPool
from kensho.upstream.tokens import Token

__all__ = [
    "AdoptSession",
    "CompleteRefresh",
    "CreateSession",
    "FailRefresh",
    "ForgetSession",
    "Invalidate",
    "LookupSession",
    "NoteStreams",
    "RecheckAll",
    "RevokeSession",
    "SessionPoolActor",
    "Sweep",
    "SweepResult",
    "TokenFor",
    "child_spec",
]


# -- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateSession:
    username: str
    upstream: Token = field(repr=False)
    #: it reports what already happened upstream: recorded even if its asker gave up
    run_if_abandoned: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class AdoptSession:
    session: Session


@dataclass(frozen=True, slots=True)
class LookupSession:
    plain: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenFor:
    plain: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CompleteRefresh:
    key: str
    ticket: int
    token: Token = field(repr=False)
    #: the version PostgreSQL holds for `token` (None: not saved there, keep ours)
    version: int | None = None
    #: it reports what already happened upstream: recorded even if its asker gave up
    run_if_abandoned: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class FailRefresh:
    key: str
    ticket: int
    permanent: bool
    #: it reports what already happened upstream: recorded even if its asker gave up
    run_if_abandoned: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Invalidate:
    key: str
    token: Token = field(repr=False)


@dataclass(frozen=True, slots=True)
class RevokeSession:
    plain: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ForgetSession:
    """Another replica revoked this session (broadcast): drop it from the cache."""

    key: str


@dataclass(frozen=True, slots=True)
class RecheckAll:
    """Revocations may have been missed (the broadcast was down): re-read every session."""


@dataclass(frozen=True, slots=True)
class NoteStreams:
    """How many stream grants the fleet holds (counted in PostgreSQL by the sweep), for the
    summary the operator console shows."""

    count: int


@dataclass(frozen=True, slots=True)
class Sweep:
    """Drop expired sessions from memory (their grants are swept from PostgreSQL)."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    expired_sessions: tuple[str, ...]


class SessionPoolActor(KenshoActor):
    """Owns `SessionPool`; no I/O."""

    def __init__(
        self,
        config: Config,
        *,
        pool: PoolConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self._streams = 0
        self.pool = SessionPool(
            pool
            or PoolConfig(
                max_sessions=config.session_pool_max,
                session_ttl=config.session_ttl,
                revalidate_after=config.session_revalidate_interval,
                refresh_margin=config.session_refresh_margin,
            )
        )

    def handle(self, message: Any) -> Any:
        now = self._clock()
        pool = self.pool
        if isinstance(message, TokenFor):
            decision: Decision | None = pool.token_for(message.plain, now)
            return decision
        if isinstance(message, LookupSession):
            return pool.lookup(message.plain, now)
        if isinstance(message, CreateSession):
            return pool.create(message.username, message.upstream, now)
        if isinstance(message, AdoptSession):
            return pool.adopt(message.session, now)
        if isinstance(message, CompleteRefresh):
            if not pool.complete_refresh(
                message.key, message.ticket, message.token, message.version, now
            ):
                return None
            return pool._sessions.get(message.key)
        if isinstance(message, FailRefresh):
            return pool.fail_refresh(message.key, message.ticket, permanent=message.permanent)
        if isinstance(message, Invalidate):
            pool.invalidate(message.key, message.token)
            return None
        if isinstance(message, RevokeSession):
            return pool.revoke(message.plain)
        if isinstance(message, ForgetSession):
            return pool.forget(message.key)
        if isinstance(message, RecheckAll):
            return pool.recheck_all()
        if isinstance(message, NoteStreams):
            self._streams = message.count
            return None
        if isinstance(message, Sweep):
            gone = [s.token_hash for s in pool.expire(now)]
            pool.take_evicted()  # evicted from the cache only: still live in PostgreSQL
            return SweepResult(tuple(gone))
        raise TypeError(f"SessionPoolActor cannot handle {type(message).__name__}")

    def summary(self) -> dict[str, Any]:
        return {**self.pool.summary(), "streams": self._streams}


def child_spec(config: Config, name: str = "session_pool", **deps: Any) -> ChildSpec:
    """`deps`: optional `pool` (PoolConfig) and `clock` (wall clock, for tests)."""
    kwargs = {k: v for k, v in deps.items() if k in ("pool", "clock")}
    return ChildSpec(
        name,
        lambda: SessionPoolActor(config, **kwargs),
        restart="permanent",
        shutdown_timeout=5.0,
    )
