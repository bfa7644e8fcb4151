"""PostgreSQL persistence of Kenshō sessions, so a token survives a server restart.

Rows are keyed by the SHA-256 of the session token (`kensho_sessions.token_hash`); the
`upstream` column holds the Crunchyroll tokens, including the rotating refresh token, which is
rewritten after every refresh. Nothing here logs a row.
"""

from __future__ import annotations

from typing import Any

import orjson

from kensho.store.pool import execute, fetch_one
from kensho.upstream.sessions import Session
from kensho.upstream.tokens import Token

__all__ = ["SessionStore"]


class SessionStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

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
                orjson.dumps(up.to_record()).decode(),
                session.created_at,
                session.expires_at,
            ),
        )

    async def load(self, token_hash: str) -> Session | None:
        """The live (unexpired, unrevoked) session with this hash, or None."""
        row = await fetch_one(
            self._pool,
            "SELECT username, upstream, extract(epoch FROM created_at), "
            "extract(epoch FROM expires_at) FROM kensho_sessions "
            "WHERE token_hash = %s AND revoked_at IS NULL AND expires_at > now()",
            (token_hash,),
        )
        if row is None:
            return None
        upstream = row[1] if isinstance(row[1], dict) else orjson.loads(row[1])
        return Session(
            token_hash=token_hash,
            username=str(row[0]),
            upstream=Token.from_record(upstream),
            created_at=float(row[2]),
            expires_at=float(row[3]),
        )

    async def update_upstream(self, token_hash: str, token: Token) -> None:
        """Persist a refreshed token (the old refresh token is now useless upstream)."""
        await execute(
            self._pool,
            "UPDATE kensho_sessions SET upstream = %s, premium = %s, updated_at = now() "
            "WHERE token_hash = %s AND revoked_at IS NULL",
            (orjson.dumps(token.to_record()).decode(), token.premium, token_hash),
        )

    async def revoke(self, token_hash: str) -> bool:
        """Mark revoked and drop the upstream secrets; True if a live row was revoked."""
        count = await execute(
            self._pool,
            "UPDATE kensho_sessions SET revoked_at = now(), upstream = '{}'::jsonb "
            "WHERE token_hash = %s AND revoked_at IS NULL",
            (token_hash,),
        )
        return count > 0
