"""`AuthService`: login, logout and the upstream token behind a Kenshō session.

Runs on the event loop (it does the upstream and database I/O, rule 2); the session-pool actor
decides who holds which token and who refreshes it. A session missing from the actor (after a
restart of the server or of the actor, or an LRU eviction) is re-adopted from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kensho.actors.handle import ActorHandle
from kensho.actors.session_pool import (
    AdoptSession,
    CompleteRefresh,
    CreateSession,
    FailRefresh,
    Invalidate,
    LookupSession,
    RevokeSession,
    StreamGrant,
    TokenFor,
)
from kensho.auth.audit import AuditEvent, AuditRecord, AuditWriter
from kensho.auth.limiter import LoginLimiter
from kensho.auth.store import SessionStore
from kensho.errors import RateLimited, ServiceUnavailable, Unauthorized
from kensho.upstream.client import CrunchyrollClient
from kensho.upstream.errors import (
    ClientRejected,
    InvalidCredentials,
    InvalidRefreshToken,
    UpstreamUnauthorized,
)
from kensho.upstream.sessions import Refresh, Session, Use, Wait, hash_session_token
from kensho.upstream.tokens import Token

__all__ = ["AuthService", "Caller"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kensho"'}
_MAX_WAITS = 3


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request, for the audit trail (never credentials)."""

    address: str | None
    user_agent: str | None
    request_id: str | None


def _unauthorized(detail: str = "A valid session token is required.") -> Unauthorized:
    return Unauthorized(detail, headers=_CHALLENGE)


class AuthService:
    def __init__(
        self,
        *,
        sessions: ActorHandle,
        client: CrunchyrollClient,
        store: SessionStore,
        audit: AuditWriter,
        limiter: LoginLimiter,
        refresh_wait: float = 15.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.store = store
        self.audit = audit
        self.limiter = limiter
        self._refresh_wait = refresh_wait
        self._wall = wall_clock
        self._refreshing: dict[str, asyncio.Event] = {}
        self.refreshes = 0

    async def audit_admin(
        self, event: AuditEvent, username: str | None, caller: Caller, detail: str | None = None
    ) -> None:
        await self.audit.write(
            AuditRecord(
                event, username, caller.address, caller.user_agent, caller.request_id, detail
            )
        )

    # -- login / logout --------------------------------------------------------------------------

    async def login(self, username: str, password: str, caller: Caller) -> tuple[str, Session]:
        """Password grant -> a new session; returns the plain token (shown once) and the session."""
        address = caller.address or "unknown"
        try:
            await self.limiter.check(username, address)
        except RateLimited:
            await self.audit_admin(AuditEvent.RATE_LIMITED, username, caller)
            raise
        try:
            token = await self.client.password_grant(username, password)
        except ClientRejected:
            raise
        except InvalidCredentials:
            await self.limiter.failure(username, address)
            await self.audit_admin(AuditEvent.FAILURE, username, caller, "invalid credentials")
            raise _unauthorized("Invalid username or password.") from None
        plain, session = await self.sessions.ask(CreateSession(username, token))
        await self.store.save(session)
        await self.limiter.success(username)
        await self.audit_admin(AuditEvent.SUCCESS, username, caller)
        return plain, session

    async def logout(self, plain: str, caller: Caller) -> tuple[StreamGrant, ...]:
        """Revoke the session everywhere; returns the stream grants to release."""
        session, grants = await self.sessions.ask(RevokeSession(plain))
        key = hash_session_token(plain) if _plausible(plain) else None
        revoked = key is not None and await self.store.revoke(key)
        if session is None and not revoked:
            raise _unauthorized()
        username = session.username if session is not None else None
        await self.audit_admin(AuditEvent.LOGOUT, username, caller)
        return tuple(grants)

    # -- sessions ----------------------------------------------------------------------------------

    async def session(self, plain: str) -> Session:
        """The live session for a bearer token, re-adopted from PostgreSQL when needed."""
        found: Session | None = await self.sessions.ask(LookupSession(plain))
        if found is None and await self._adopt(plain):
            found = await self.sessions.ask(LookupSession(plain))
        if found is None:
            raise _unauthorized()
        return found

    async def _adopt(self, plain: str) -> bool:
        if not _plausible(plain):
            return False
        stored = await self.store.load(hash_session_token(plain))
        if stored is None:
            return False
        adopted: bool = await self.sessions.ask(AdoptSession(stored))
        return adopted

    async def upstream_token(self, plain: str, caller: Caller) -> tuple[str, Token]:
        """(session key, a fresh upstream token); refreshes first when it is close to expiry."""
        adopted = False
        for _ in range(_MAX_WAITS + 2):
            decision = await self.sessions.ask(TokenFor(plain))
            if decision is None:
                if adopted or not await self._adopt(plain):
                    raise _unauthorized()
                adopted = True
                continue
            if isinstance(decision, Use):
                return hash_session_token(plain), decision.token
            if isinstance(decision, Refresh):
                return decision.key, await self._refresh(decision, caller)
            if isinstance(decision, Wait):
                await self._wait_for(decision.key)
        raise ServiceUnavailable("The session's token is being refreshed; retry.", retry_after=1)

    async def _wait_for(self, key: str) -> None:
        event = self._refreshing.get(key)
        try:
            if event is None:
                await asyncio.sleep(0.05)  # a lease held by a task that no longer runs here
            else:
                await asyncio.wait_for(event.wait(), self._refresh_wait)
        except TimeoutError:
            return

    async def _refresh(self, decision: Refresh, caller: Caller) -> Token:
        """Rotate the refresh token (one refresh per session at a time) and persist it."""
        event = self._refreshing.setdefault(decision.key, asyncio.Event())
        try:
            try:
                if decision.refresh_token is None:
                    raise InvalidRefreshToken("the session has no refresh token")
                token = await self.client.refresh_grant(decision.refresh_token, decision.device_id)
            except InvalidRefreshToken:
                ended = await self.sessions.ask(FailRefresh(decision.key, decision.ticket, True))
                await self.store.revoke(decision.key)
                username = ended[0].username if ended else None
                await self.audit_admin(
                    AuditEvent.REFRESH_FAILURE, username, caller, "refresh rejected"
                )
                raise _unauthorized("The session ended upstream; log in again.") from None
            except BaseException as exc:
                self.sessions.tell(FailRefresh(decision.key, decision.ticket, False))
                if isinstance(exc, Exception):
                    await self.audit_admin(
                        AuditEvent.REFRESH_FAILURE, None, caller, type(exc).__name__
                    )
                raise
            self.refreshes += 1
            updated: Session | None = await self.sessions.ask(
                CompleteRefresh(decision.key, decision.ticket, token)
            )
            if updated is not None:
                await self.store.update_upstream(decision.key, updated.upstream)
            return token
        finally:
            self._refreshing.pop(decision.key, None)
            event.set()

    async def call(
        self, plain: str, caller: Caller, fn: Callable[[Token], Awaitable[T]]
    ) -> tuple[T, Token]:
        """Run `fn(token)`; an upstream 401 leads to one refresh and one retry."""
        key, token = await self.upstream_token(plain, caller)
        try:
            return await fn(token), token
        except UpstreamUnauthorized as exc:
            if isinstance(exc, InvalidCredentials | InvalidRefreshToken):
                raise
            self.sessions.tell(Invalidate(key, token))
        _key, token = await self.upstream_token(plain, caller)
        return await fn(token), token


def _plausible(plain: Any) -> bool:
    return isinstance(plain, str) and len(plain) == 43
