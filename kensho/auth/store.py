"""PostgreSQL persistence of Kenshō sessions, so a token survives a server restart.

Rows are keyed by the SHA-256 of the session token (`kensho_sessions.token_hash`); the
`upstream` column holds the Crunchyroll tokens, including the rotating refresh token, which is
rewritten after every refresh. They are sealed with `SessionCipher` (Fernet) before they reach
the database; a row that cannot be opened (another key, tampering) is no session at all, so the
caller answers 401. Nothing here logs a row or a token.

Every replica shares these rows (docs/fleet.md): `version` counts token rotations and a refresh
is written only over the version it started from (`save_refresh`, a compare-and-swap), under a
fleet-wide per-session lease (`take_refresh_lease`) so only one replica spends the rotating
refresh token at a time.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from kensho.auth.crypto import SessionCipher, UndecryptableRecord
from kensho.store.pool import execute, fetch_all, fetch_one
from kensho.upstream.sessions import Session
from kensho.upstream.tokens import Token

__all__ = ["SessionStore"]

log = logging.getLogger(__name__)


class SessionStore:
    def __init__(self, pool: Any, cipher: SessionCipher) -> None:
        self._pool = pool
        self._cipher = cipher
        self.undecryptable = 0

    def _sealed(self, token: Token) -> str:
        return orjson.dumps(self._cipher.seal(token.to_record())).decode()

    async def save(self, session: Session) -> None:
        up = session.upstream
        await execute(
            self._pool,
            "INSERT INTO kensho_sessions (token_hash, username, account_id, premium, upstream, "
            "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, to_timestamp(%s), "
            "to_timestamp(%s))",
            (
                session.token_hash,
                session.username,
                up.account_id,
                up.premium,
                self._sealed(up),
                session.created_at,
                session.expires_at,
            ),
        )

    async def load(self, token_hash: str) -> Session | None:
        """The live (unexpired, unrevoked) session with this hash, or None."""
        row = await fetch_one(
            self._pool,
            "SELECT username, upstream, extract(epoch FROM created_at), "
            "extract(epoch FROM expires_at), version FROM kensho_sessions "
            "WHERE token_hash = %s AND revoked_at IS NULL AND expires_at > now()",
            (token_hash,),
        )
        if row is None:
            return None
        try:
            stored = orjson.loads(row[1]) if isinstance(row[1], str | bytes) else row[1]
            legacy = not self._cipher.is_sealed(stored)
            record = stored if legacy else self._cipher.open(stored)
            upstream = Token.from_record(record)
        except (UndecryptableRecord, KeyError, TypeError, ValueError) as exc:
            self.undecryptable += 1
            log.warning(
                "a stored session cannot be read (%s): treated as invalid; was "
                "KENSHO_SESSION_ENCRYPTION_KEY changed without keeping the old key?",
                exc if isinstance(exc, UndecryptableRecord) else type(exc).__name__,
            )
            return None
        if legacy:  # written before encryption at rest: seal it now
            await self.update_upstream(token_hash, upstream)
        return Session(
            token_hash=token_hash,
            username=str(row[0]),
            upstream=upstream,
            created_at=float(row[2]),
            expires_at=float(row[3]),
            version=int(row[4]),
        )

    async def update_upstream(self, token_hash: str, token: Token) -> None:
        """Persist a refreshed token (the old refresh token is now useless upstream)."""
        await execute(
            self._pool,
            "UPDATE kensho_sessions SET upstream = %s, premium = %s, updated_at = now() "
            "WHERE token_hash = %s AND revoked_at IS NULL",
            (self._sealed(token), token.premium, token_hash),
        )

    async def take_refresh_lease(self, token_hash: str, version: int, seconds: float) -> bool:
        """The fleet-wide refresh lock: True when this caller may spend the refresh token of
        `version` (no other replica holds an unexpired lease and nobody rotated it yet)."""
        count = await execute(
            self._pool,
            "UPDATE kensho_sessions SET refresh_lease_until = now() + make_interval(secs => %s) "
            "WHERE token_hash = %s AND version = %s AND revoked_at IS NULL "
            "AND (refresh_lease_until IS NULL OR refresh_lease_until < now())",
            (seconds, token_hash, version),
        )
        return count > 0

    async def save_refresh(self, token_hash: str, from_version: int, token: Token) -> int | None:
        """Write a rotated token over `from_version` and free the lease; the new version, or
        None when the row moved on (another replica rotated it, or it was revoked)."""
        row = await fetch_one(
            self._pool,
            "UPDATE kensho_sessions SET upstream = %s, premium = %s, version = version + 1, "
            "refresh_lease_until = NULL, updated_at = now() "
            "WHERE token_hash = %s AND version = %s AND revoked_at IS NULL RETURNING version",
            (self._sealed(token), token.premium, token_hash, from_version),
        )
        return None if row is None else int(row[0])

    async def revoke(self, token_hash: str, *, version: int | None = None) -> bool:
        """Mark revoked and drop the upstream secrets; True if a live row was revoked. With
        `version`, only if the row still holds that version (its refresh token was the one
        rejected upstream, not one another replica already replaced)."""
        query = (
            "UPDATE kensho_sessions SET revoked_at = now(), upstream = '{}'::jsonb "
            "WHERE token_hash = %s AND revoked_at IS NULL"
        )
        params: tuple[Any, ...] = (token_hash,)
        if version is not None:
            query += " AND version = %s"
            params = (token_hash, version)
        count = await execute(self._pool, query, params)
        return count > 0

    async def revoke_user(self, username: str) -> list[str]:
        """Revoke every live session of `username` (an operator's action); their hashes."""
        rows = await fetch_all(
            self._pool,
            "UPDATE kensho_sessions SET revoked_at = now(), upstream = '{}'::jsonb "
            "WHERE lower(username) = lower(%s) AND revoked_at IS NULL RETURNING token_hash",
            (username,),
        )
        return [str(r[0]) for r in rows]
