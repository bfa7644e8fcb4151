"""Stream grants in PostgreSQL: the upstream stream tokens sessions hold, seen by every replica.

A grant is what `GET /api/episodes/{id}/stream` answers from (the master playlist's variants
and the subtitles) plus the upstream stream token to release. Every replica reads and reuses
the same rows, and whichever replica gets the logout, the end of a grant's window or the
shutdown releases them: each `take_*` is a `DELETE … RETURNING`, so exactly one replica gets
each row and releases it once. The upstream token that opened a grant is kept sealed
(`SessionCipher`, without its refresh token: a release needs only the access token). Times
are wall-clock epoch seconds from the caller's clock (tests move it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from kensho.auth.crypto import SessionCipher, UndecryptableRecord
from kensho.store.pool import fetch_all, fetch_one, transaction
from kensho.upstream.tokens import Token

__all__ = ["GrantStore", "StreamGrant"]

log = logging.getLogger(__name__)

_COLUMNS = (
    "session_hash, episode_id, stream_token, doc, token, "
    "extract(epoch FROM expires_at), extract(epoch FROM cache_until)"
)
#: a session that is no longer live in the table: its grants are stale for the whole fleet
_DEAD_SESSION = (
    "NOT EXISTS (SELECT 1 FROM kensho_sessions s WHERE s.token_hash = g.session_hash "
    "AND s.revoked_at IS NULL AND s.expires_at > to_timestamp(%s))"
)


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

    def doc(self) -> dict[str, Any]:
        return {
            "master_url": self.master_url,
            "variants": [[q, url, bw] for q, (url, bw) in self.variants.items()],
            "subtitles": [list(s) for s in self.subtitles],
        }


class GrantStore:
    def __init__(self, pool: Any, cipher: SessionCipher) -> None:
        self._pool = pool
        self._cipher = cipher
        self.unreadable = 0

    def _sealed(self, token: Token) -> str:
        record = replace(token, refresh_token=None).to_record()
        return orjson.dumps(self._cipher.seal(record)).decode()

    def _grant(self, row: tuple[Any, ...]) -> StreamGrant | None:
        try:
            doc = orjson.loads(row[3]) if isinstance(row[3], str | bytes) else row[3]
            sealed = orjson.loads(row[4]) if isinstance(row[4], str | bytes) else row[4]
            token = Token.from_record(self._cipher.open(sealed))
            return StreamGrant(
                session_key=str(row[0]),
                episode_id=str(row[1]),
                stream_token=str(row[2]),
                master_url=str(doc["master_url"]),
                variants={str(q): (str(url), int(bw)) for q, url, bw in doc["variants"]},
                subtitles=tuple((str(a), str(b), str(c)) for a, b, c in doc["subtitles"]),
                expires_at=float(row[5]),
                cache_until=float(row[6]),
                token=token,
            )
        except (UndecryptableRecord, KeyError, TypeError, ValueError) as exc:
            self.unreadable += 1
            log.warning("a stored stream grant cannot be read: %s", type(exc).__name__)
            return None

    def _grants(self, rows: list[tuple[Any, ...]]) -> list[StreamGrant]:
        return [g for g in map(self._grant, rows) if g is not None]

    async def get(self, key: str, episode_id: str, now: float) -> StreamGrant | None:
        """The session's grant for the episode while its cache window lasts, or None."""
        row = await fetch_one(
            self._pool,
            f"SELECT {_COLUMNS} FROM kensho_stream_grants "
            "WHERE session_hash = %s AND episode_id = %s AND cache_until > to_timestamp(%s)",
            (key, episode_id, now),
        )
        return None if row is None else self._grant(row)

    async def put(self, grant: StreamGrant) -> StreamGrant | None:
        """Keep `grant`; return the one it replaces (to release), if any."""
        async with transaction(self._pool) as cur:
            await cur.execute(
                f"SELECT {_COLUMNS} FROM kensho_stream_grants "
                "WHERE session_hash = %s AND episode_id = %s FOR UPDATE",
                (grant.session_key, grant.episode_id),
            )
            old = await cur.fetchone()
            await cur.execute(
                "INSERT INTO kensho_stream_grants (session_hash, episode_id, account_id, "
                "stream_token, doc, token, expires_at, cache_until) VALUES (%s, %s, %s, %s, "
                "%s, %s, to_timestamp(%s), to_timestamp(%s)) "
                "ON CONFLICT (session_hash, episode_id) DO UPDATE SET "
                "account_id = EXCLUDED.account_id, stream_token = EXCLUDED.stream_token, "
                "doc = EXCLUDED.doc, token = EXCLUDED.token, created_at = now(), "
                "expires_at = EXCLUDED.expires_at, cache_until = EXCLUDED.cache_until",
                (
                    grant.session_key,
                    grant.episode_id,
                    grant.token.account_id,
                    grant.stream_token,
                    orjson.dumps(grant.doc()).decode(),
                    self._sealed(grant.token),
                    grant.expires_at,
                    grant.cache_until,
                ),
            )
        return None if old is None else self._grant(old)

    async def take(self, key: str, episode_id: str) -> StreamGrant | None:
        """Remove one grant (the viewer stopped): the caller releases it."""
        row = await fetch_one(
            self._pool,
            f"DELETE FROM kensho_stream_grants WHERE session_hash = %s AND episode_id = %s "
            f"RETURNING {_COLUMNS}",
            (key, episode_id),
        )
        return None if row is None else self._grant(row)

    async def take_session(self, key: str) -> list[StreamGrant]:
        """Remove every grant of a session (logout, revocation): the caller releases them."""
        rows = await fetch_all(
            self._pool,
            f"DELETE FROM kensho_stream_grants WHERE session_hash = %s RETURNING {_COLUMNS}",
            (key,),
        )
        return self._grants(rows)

    async def touch(self, key: str, episode_id: str, now: float) -> bool:
        """A player reported playing the episode: the grant's heartbeat; False if none held."""
        row = await fetch_one(
            self._pool,
            "UPDATE kensho_stream_grants SET heartbeat_at = to_timestamp(%s) "
            "WHERE session_hash = %s AND episode_id = %s RETURNING 1",
            (now, key, episode_id),
        )
        return row is not None

    async def take_due(
        self, now: float, *, silent_for: float = 0.0, limit: int = 500
    ) -> list[StreamGrant]:
        """Remove grants whose window ended, whose session is gone, or (with `silent_for`)
        whose player stopped sending heartbeats that long ago, fleet-wide (the sweep)."""
        silent = "FALSE"
        params: tuple[Any, ...] = (now, now)
        if silent_for > 0:
            silent = "g.heartbeat_at <= to_timestamp(%s)"
            params += (now - silent_for,)
        rows = await fetch_all(
            self._pool,
            "DELETE FROM kensho_stream_grants WHERE ctid IN (SELECT ctid FROM "
            f"kensho_stream_grants g WHERE g.cache_until <= to_timestamp(%s) OR {_DEAD_SESSION} "
            f"OR {silent} LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}",
            (*params, limit),
        )
        return self._grants(rows)

    async def take_stale(self, account_id: str | None, key: str, now: float) -> list[StreamGrant]:
        """The account hit its stream limit (upstream 420): remove the grants the fleet holds
        for it that nobody can be watching any more — their window is over or their session
        is gone (logged out, revoked, expired, on whichever replica) — to release them. A
        live session's grant is never taken: its viewer may be playing it."""
        owner = "g.session_hash = %s" if account_id is None else "g.account_id = %s"
        rows = await fetch_all(
            self._pool,
            "DELETE FROM kensho_stream_grants WHERE ctid IN (SELECT ctid FROM "
            f"kensho_stream_grants g WHERE {owner} AND (g.cache_until <= to_timestamp(%s) "
            f"OR {_DEAD_SESSION}) FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}",
            (key if account_id is None else account_id, now, now),
        )
        return self._grants(rows)

    async def count(self, now: float) -> int:
        """Live grants the fleet holds now (for the operator console)."""
        row = await fetch_one(
            self._pool,
            "SELECT count(*) FROM kensho_stream_grants g "
            f"WHERE g.cache_until > to_timestamp(%s) AND NOT {_DEAD_SESSION}",
            (now, now),
        )
        return int(row[0]) if row else 0
