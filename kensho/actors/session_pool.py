"""Session-pool actor: Crunchyroll tokens per Kenshō session, and the streams they opened.

The actor owns a `SessionPool` (`kensho.upstream.sessions`: the decisions Use / Refresh / Wait,
one refresh in flight per session, LRU bound) plus the stream grants each session holds, so
logout, eviction and expiry can release them. It decides; the event loop does every upstream
and database call (rule 2) and reports back.

Restarts: the sessions are kept in PostgreSQL, so a new incarnation starts empty and
re-adopts each session from there on its next request (`AuthService`). The stream grants exist
nowhere else and each holds an upstream stream slot, so they are kept in a `SessionPoolMemory`
that belongs to the child spec and is handed to the next incarnation (which logs how many it
took over); they are released as before, when replaced, at logout, expiry or by the sweeper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
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
    "DropStream",
    "FailRefresh",
    "GetStream",
    "Invalidate",
    "LookupSession",
    "PutStream",
    "RevokeSession",
    "SessionPoolActor",
    "SessionPoolMemory",
    "StreamGrant",
    "Sweep",
    "SweepResult",
    "TokenFor",
    "child_spec",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """One upstream stream token a session holds, and what the stream endpoint answers."""

    session_key: str
    episode_id: str
    stream_token: str
    master_url: str
    #: quality -> (variant playlist URL, bandwidth in bits/s), best first
    variants: Mapping[str, tuple[str, int]]
    subtitles: tuple[tuple[str, str, str], ...]  # (lang, url, format)
    #: wall-clock epoch seconds: upstream expiry, and the end of our cache window (earlier)
    expires_at: float
    cache_until: float
    #: the upstream token that opened it (the release must use the same account)
    token: Token = field(repr=False)


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
class PutStream:
    grant: StreamGrant
    #: it reports what already happened upstream: recorded even if its asker gave up
    run_if_abandoned: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class GetStream:
    session_key: str
    episode_id: str


@dataclass(frozen=True, slots=True)
class DropStream:
    """The viewer stopped playing: forget the grant and hand it back (to release), or None."""

    session_key: str
    episode_id: str


@dataclass(frozen=True, slots=True)
class Sweep:
    """Drop expired sessions; hand back every grant that should now be released."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    expired_sessions: tuple[str, ...]
    released: tuple[StreamGrant, ...]


@dataclass(slots=True)
class SessionPoolMemory:
    """What survives a restart of the session-pool actor: the stream grants it holds.

    One per supervised slot (made by `child_spec`). Each incarnation takes the grants over in
    a dict of its own, so an abandoned (wedged) predecessor cannot write into it any more.
    """

    streams: dict[str, dict[str, StreamGrant]] = field(default_factory=dict)

    def take_over(self) -> dict[str, dict[str, StreamGrant]]:
        self.streams = {key: dict(held) for key, held in self.streams.items() if held}
        return self.streams


class SessionPoolActor(KenshoActor):
    """Owns `SessionPool` and the per-session stream grants; no I/O."""

    def __init__(
        self,
        config: Config,
        *,
        pool: PoolConfig | None = None,
        clock: Callable[[], float] = time.time,
        memory: SessionPoolMemory | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self.pool = SessionPool(
            pool or PoolConfig(max_sessions=config.session_pool_max, session_ttl=config.session_ttl)
        )
        self._memory = memory if memory is not None else SessionPoolMemory()
        self._streams = self._memory.take_over()
        self._stream_count = sum(len(held) for held in self._streams.values())

    def setup(self) -> None:
        if self._stream_count:
            log.warning(
                "session pool: took over %d stream grant(s) from the previous incarnation",
                self._stream_count,
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
            if not pool.complete_refresh(message.key, message.ticket, message.token):
                return None
            return pool._sessions.get(message.key)
        if isinstance(message, FailRefresh):
            ended = pool.fail_refresh(message.key, message.ticket, permanent=message.permanent)
            if ended is not None:
                return ended, self._drop_streams(ended.token_hash)
            return None
        if isinstance(message, Invalidate):
            pool.invalidate(message.key, message.token)
            return None
        if isinstance(message, RevokeSession):
            session = pool.revoke(message.plain)
            if session is None:
                return None, ()
            return session, self._drop_streams(session.token_hash)
        if isinstance(message, PutStream):
            return self._put_stream(message.grant)
        if isinstance(message, GetStream):
            grant = self._streams.get(message.session_key, {}).get(message.episode_id)
            return grant if grant is not None and grant.cache_until > now else None
        if isinstance(message, DropStream):
            return self._drop_stream(message.session_key, message.episode_id)
        if isinstance(message, Sweep):
            return self._sweep(now)
        raise TypeError(f"SessionPoolActor cannot handle {type(message).__name__}")

    def _put_stream(self, grant: StreamGrant) -> StreamGrant | None:
        """Keep `grant`; return the one it replaces (to release), if any."""
        held = self._streams.setdefault(grant.session_key, {})
        previous = held.get(grant.episode_id)
        held[grant.episode_id] = grant
        if previous is None:
            self._stream_count += 1
        return previous

    def _drop_stream(self, key: str, episode_id: str) -> StreamGrant | None:
        held = self._streams.get(key)
        grant = held.pop(episode_id, None) if held is not None else None
        if grant is not None:
            self._stream_count -= 1
            if not held:
                del self._streams[key]
        return grant

    def _drop_streams(self, key: str) -> tuple[StreamGrant, ...]:
        grants = tuple(self._streams.pop(key, {}).values())
        self._stream_count -= len(grants)
        return grants

    def _sweep(self, now: float) -> SweepResult:
        gone = [s.token_hash for s in self.pool.expire(now)]
        gone += [s.token_hash for s in self.pool.take_evicted()]
        released: list[StreamGrant] = []
        for key in gone:
            released.extend(self._drop_streams(key))
        for key, held in list(self._streams.items()):
            for episode_id, grant in list(held.items()):
                if grant.cache_until <= now:
                    del held[episode_id]
                    self._stream_count -= 1
                    released.append(grant)
            if not held:
                del self._streams[key]
        return SweepResult(tuple(gone), tuple(released))

    def summary(self) -> dict[str, Any]:
        return {**self.pool.summary(), "streams": self._stream_count}


def child_spec(config: Config, name: str = "session_pool", **deps: Any) -> ChildSpec:
    """`deps`: optional `pool` (PoolConfig) and `clock` (wall clock, for tests).

    The spec owns the slot's `SessionPoolMemory`: stream grants outlive the actor's restarts.
    """
    kwargs = {k: v for k, v in deps.items() if k in ("pool", "clock")}
    memory = SessionPoolMemory()
    return ChildSpec(
        name,
        lambda: SessionPoolActor(config, memory=memory, **kwargs),
        restart="permanent",
        shutdown_timeout=5.0,
    )
