"""Session pool logic: who holds which Crunchyroll token, and who refreshes it. No I/O.

The actor owns one `SessionPool`; callers ask it for a token and get a `Decision`:
`Use` (the token is good), `Refresh` (you are THE caller that refreshes it; report back with
`complete_refresh` or `fail_refresh`), or `Wait` (someone else is refreshing; ask again when
told). A refresh lease expires after `refresh_timeout`, so a caller that died does not wedge a
session. Kenshō's own session token is 256 random bits handed to the front end once; only its
SHA-256 is kept, so a leaked store does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kensho.upstream.tokens import Token

__all__ = [
    "ANONYMOUS",
    "Decision",
    "PoolConfig",
    "Refresh",
    "Session",
    "SessionPool",
    "Use",
    "Wait",
    "hash_session_token",
]

#: Key of the shared anonymous token in the refresh bookkeeping.
ANONYMOUS = "anonymous"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class PoolConfig:
    max_sessions: int = 10_000
    session_ttl: float = 30 * 86_400.0
    refresh_margin: float = 30.0
    refresh_timeout: float = 15.0
    #: a session held in memory longer than this is re-read from PostgreSQL before use, so a
    #: revocation whose broadcast was missed cannot outlive it (the memory is only a cache)
    revalidate_after: float = 5.0


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in user as stored: the hash of Kenshō's token, never the token."""

    token_hash: str
    username: str
    upstream: Token
    created_at: float
    expires_at: float
    #: rotations of the upstream tokens (PostgreSQL's `version` column): a refresh is saved
    #: only over the version it started from
    version: int = 0

    def __repr__(self) -> str:
        return f"Session(hash={self.token_hash[:8]}…, account_id={self.upstream.account_id!r})"

    def to_record(self) -> dict[str, Any]:
        """A JSON-able dict for PostgreSQL/Redis (contains the upstream tokens: a secret)."""
        return {
            "token_hash": self.token_hash,
            "username": self.username,
            "upstream": self.upstream.to_record(),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "version": self.version,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Session:
        return cls(
            token_hash=str(record["token_hash"]),
            username=str(record["username"]),
            upstream=Token.from_record(record["upstream"]),
            created_at=float(record["created_at"]),
            expires_at=float(record["expires_at"]),
            version=int(record.get("version", 0)),
        )


@dataclass(frozen=True, slots=True)
class Use:
    token: Token


@dataclass(frozen=True, slots=True)
class Refresh:
    """You refresh. `refresh_token` is None for the anonymous token (a client_id grant)."""

    key: str
    ticket: int
    refresh_token: str | None
    device_id: str
    #: the session's token version the refresh starts from (0 for the anonymous token)
    version: int = 0


@dataclass(frozen=True, slots=True)
class Wait:
    key: str


Decision = Use | Refresh | Wait


@dataclass(slots=True)
class _Lease:
    ticket: int
    until: float


class SessionPool:
    """All token state; every method takes `now` (wall-clock epoch seconds)."""

    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig()
        self._anonymous: Token | None = None
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        #: when each session was last read from (or written to) PostgreSQL
        self._checked: dict[str, float] = {}
        self._leases: dict[str, _Lease] = {}
        self._stale: set[str] = set()
        self._tickets = 0
        self._evicted: list[Session] = []
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._sessions)

    # -- Kenshō sessions -----------------------------------------------------------------------

    def create(self, username: str, upstream: Token, now: float) -> tuple[str, Session]:
        """A new session; returns the plain token (give it to the client, then forget it)."""
        plain = secrets.token_urlsafe(32)
        session = Session(
            token_hash=hash_session_token(plain),
            username=username,
            upstream=upstream,
            created_at=now,
            expires_at=now + self.config.session_ttl,
        )
        self._put(session, now)
        return plain, session

    def adopt(self, session: Session, now: float) -> bool:
        """Load a persisted session (after a restart, an eviction or a re-validation); expired
        ones are refused. A stored copy older than ours (a read that raced our own refresh)
        only renews the check, it never rolls the tokens back."""
        if session.expires_at <= now:
            return False
        held = self._sessions.get(session.token_hash)
        if held is not None and held.version > session.version:
            session = held
        self._put(session, now)
        return True

    def forget(self, key: str) -> Session | None:
        """Drop a session revoked elsewhere (another replica's logout, broadcast)."""
        self._forget(key)
        return self._sessions.pop(key, None)

    def recheck_all(self) -> int:
        """Make every session re-read from PostgreSQL before its next use (revocations may
        have been missed, e.g. while the broadcast was down)."""
        count = len(self._checked)
        self._checked.clear()
        return count

    def _put(self, session: Session, now: float) -> list[Session]:
        self._sessions[session.token_hash] = session
        self._checked[session.token_hash] = now
        self._sessions.move_to_end(session.token_hash)
        evicted = []
        while len(self._sessions) > self.config.max_sessions:
            _, old = self._sessions.popitem(last=False)
            self._forget(old.token_hash)
            self.evictions += 1
            evicted.append(old)
        self._evicted.extend(evicted)
        return evicted

    def take_evicted(self) -> list[Session]:
        """Sessions pushed out by the LRU bound since the last call (to release their streams)."""
        evicted, self._evicted = self._evicted, []
        return evicted

    def _forget(self, key: str) -> None:
        self._leases.pop(key, None)
        self._stale.discard(key)
        self._checked.pop(key, None)

    def _find(self, plain: str, now: float) -> Session | None:
        if not isinstance(plain, str) or not _TOKEN_SHAPE.fullmatch(plain):
            return None
        key = hash_session_token(plain)
        session = self._sessions.get(key)
        if session is None:
            return None
        if session.expires_at <= now:
            del self._sessions[key]
            self._forget(key)
            return None
        if now - self._checked.get(key, float("-inf")) > self.config.revalidate_after:
            return None  # due for a re-read from PostgreSQL (the caller re-adopts it)
        self._sessions.move_to_end(key)
        return session

    def lookup(self, plain: str, now: float) -> Session | None:
        """The live session for a presented token (marks it recently used), else None."""
        return self._find(plain, now)

    def revoke(self, plain: str) -> Session | None:
        """Remove a session (logout); returns it so its streams can be released."""
        if not isinstance(plain, str) or not _TOKEN_SHAPE.fullmatch(plain):
            return None
        key = hash_session_token(plain)
        self._forget(key)
        return self._sessions.pop(key, None)

    def expire(self, now: float) -> list[Session]:
        """Drop every expired session (a periodic sweep)."""
        gone = [s for s in self._sessions.values() if s.expires_at <= now]
        for s in gone:
            del self._sessions[s.token_hash]
            self._forget(s.token_hash)
        return gone

    # -- token decisions -----------------------------------------------------------------------

    def token_for(self, plain: str, now: float) -> Decision | None:
        """What the holder of `plain` should do for an upstream token; None = no session."""
        session = self._find(plain, now)
        if session is None:
            return None
        return self._decide(session.token_hash, session.upstream, now, session.version)

    def anonymous(self, now: float) -> Decision:
        return self._decide(ANONYMOUS, self._anonymous, now, 0)

    def invalidate(self, key: str, token: Token) -> None:
        """An upstream 401 for `token`: force one refresh (unless it was already replaced)."""
        current = (
            self._anonymous
            if key == ANONYMOUS
            else getattr(self._sessions.get(key), "upstream", None)
        )
        if current is token or (current is not None and current.access_token == token.access_token):
            self._stale.add(key)

    def _decide(self, key: str, token: Token | None, now: float, version: int) -> Decision:
        fresh = (
            token is not None
            and key not in self._stale
            and not token.expires_within(self.config.refresh_margin, now)
        )
        if fresh and token is not None:
            return Use(token)
        lease = self._leases.get(key)
        if lease is not None and lease.until > now:
            return Wait(key)
        self._tickets += 1
        self._leases[key] = _Lease(self._tickets, now + self.config.refresh_timeout)
        return Refresh(
            key,
            self._tickets,
            token.refresh_token if token is not None and key != ANONYMOUS else None,
            token.device_id if token is not None else "",
            version,
        )

    def complete_refresh(
        self, key: str, ticket: int, token: Token, version: int | None = None, now: float = 0.0
    ) -> bool:
        """Store the refreshed token (and its version, once saved in PostgreSQL); False if the
        lease was lost: another caller took over, or the session left memory meanwhile (every
        way out of `_sessions` drops the session's lease with it)."""
        lease = self._leases.get(key)
        if lease is None or lease.ticket != ticket:
            return False
        del self._leases[key]
        self._stale.discard(key)
        if key == ANONYMOUS:
            self._anonymous = token
            return True
        session = self._sessions[key]  # in memory: a lease never outlives its session
        if token.refresh_token is None:  # keep the old one if the answer did not rotate it
            token = replace(token, refresh_token=session.upstream.refresh_token)
        if version is None:
            self._sessions[key] = replace(session, upstream=token)
        else:
            self._sessions[key] = replace(session, upstream=token, version=version)
            self._checked[key] = now
        return True

    def fail_refresh(self, key: str, ticket: int, *, permanent: bool) -> Session | None:
        """Release the lease; `permanent` (refresh token rejected) ends the session."""
        lease = self._leases.get(key)
        if lease is None or lease.ticket != ticket:
            return None
        del self._leases[key]
        if permanent and key != ANONYMOUS:
            self._stale.discard(key)
            self._checked.pop(key, None)
            return self._sessions.pop(key, None)
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "sessions": len(self._sessions),
            "max_sessions": self.config.max_sessions,
            "refreshing": len(self._leases),
            "evictions": self.evictions,
            "anonymous": self._anonymous is not None,
        }
