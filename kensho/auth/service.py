"""`AuthService`: login, logout and the upstream token behind a Kenshō session.

Runs on the event loop (it does the upstream and database I/O, rule 2); the session-pool actor
decides who holds which token and who refreshes it. A session missing from the actor (after a
restart of the server or of the actor, an LRU eviction, or because its cached copy is due for
re-validation) is re-adopted from PostgreSQL, which is the truth for every replica.

Across replicas (docs/fleet.md): a revocation is written to PostgreSQL, then broadcast
(`RevocationBus`) so every replica drops its cached copy at once; a refresh takes the
fleet-wide per-session lease in PostgreSQL first, and a replica that does not get it waits for
the holder's rotation and re-reads the fresh token instead of spending its stale refresh token.
A session is revoked for a rejected refresh token only while the row still holds that token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from kensho.actors.handle import ActorHandle
from kensho.actors.session_pool import (
    AdoptSession,
    CompleteRefresh,
    CreateSession,
    FailRefresh,
    ForgetSession,
    Invalidate,
    LookupSession,
    RecheckAll,
    RevokeSession,
    TokenFor,
)
from kensho.auth.audit import AuditEvent, AuditRecord, AuditWriter
from kensho.auth.grants import GrantStore, StreamGrant
from kensho.auth.limiter import LoginLimiter, LoginThrottled
from kensho.auth.revocations import RevocationBus
from kensho.auth.store import SessionStore
from kensho.errors import ServiceUnavailable, Unauthorized
from kensho.upstream.client import CrunchyrollClient
from kensho.upstream.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    UpstreamUnauthorized,
)
from kensho.upstream.sessions import Decision, Refresh, Session, Use, hash_session_token
from kensho.upstream.tokens import Token

__all__ = ["AuthService", "Caller", "settled"]

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
        grants: GrantStore,
        revocations: RevocationBus,
        refresh_wait: float = 15.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.store = store
        self.audit = audit
        self.limiter = limiter
        self.grants = grants
        self.revocations = revocations
        self._refresh_wait = refresh_wait
        self._wall = wall_clock
        self._refreshing: dict[str, asyncio.Event] = {}
        self._adopting: dict[str, asyncio.Future[bool]] = {}
        self.refreshes = 0
        self.refreshes_adopted = 0

    # -- fleet: revocations from other replicas ----------------------------------------------------

    def forget(self, key: str) -> None:
        """Another replica revoked `key` (the broadcast): drop our cached copy."""
        self.sessions.tell(ForgetSession(key))

    def recheck_all(self) -> None:
        """Revocations may have been missed: re-read every cached session before its next use."""
        self.sessions.tell(RecheckAll())

    async def _broadcast(self, key: str) -> None:
        await self.revocations.publish(key)

    async def _take_grants(self, key: str) -> tuple[StreamGrant, ...]:
        return tuple(await self.grants.take_session(key))

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
        """Password grant -> a new session; returns the plain token (shown once) and the session.

        The attempt is reserved with the limiter before the upstream call (parallel guesses
        cannot pass the limit), kept as a failure on a wrong password, released when the
        upstream could not judge it (an outage is not a wrong password).
        """
        address = caller.address or "unknown"
        try:
            reservation = await self.limiter.reserve(username, address)
        except LoginThrottled as exc:
            await self.audit_admin(AuditEvent.RATE_LIMITED, username, caller, f"{exc.scope} locked")
            raise
        try:
            token = await self.client.password_grant(username, password)
        except InvalidCredentials:
            await self.limiter.failed(reservation)
            await self.audit_admin(AuditEvent.FAILURE, username, caller, "invalid credentials")
            raise _unauthorized("Invalid username or password.") from None
        except BaseException:
            await asyncio.shield(self.limiter.release(reservation))
            raise
        await self.limiter.succeeded(reservation)
        plain, session = await self.sessions.ask(CreateSession(username, token))
        try:
            await self.store.save(session)  # the memory is a cache: never the only copy
        except BaseException:
            self.sessions.tell(RevokeSession(plain))
            raise
        await self.audit_admin(AuditEvent.SUCCESS, username, caller)
        return plain, session

    async def logout(self, plain: str, caller: Caller) -> tuple[StreamGrant, ...]:
        """Revoke the session everywhere (PostgreSQL, then the broadcast); returns the stream
        grants to release, whichever replica opened them."""
        session: Session | None = await self.sessions.ask(RevokeSession(plain))
        key = hash_session_token(plain) if _plausible(plain) else None
        revoked = key is not None and await self.store.revoke(key)
        if key is None or (session is None and not revoked):
            raise _unauthorized()
        await self._broadcast(key)
        grants = await self._take_grants(key)
        username = session.username if session is not None else None
        await self.audit_admin(AuditEvent.LOGOUT, username, caller)
        return grants

    async def revoke_user(
        self, username: str, caller: Caller
    ) -> tuple[int, tuple[StreamGrant, ...]]:
        """An operator ends every session of `username` on every replica; returns how many,
        and the grants to release."""
        keys = await self.store.revoke_user(username)
        grants: list[StreamGrant] = []
        for key in keys:
            self.forget(key)
            await self._broadcast(key)
            grants.extend(await self._take_grants(key))
        await self.audit_admin(
            AuditEvent.LOGOUT, username, caller, f"revoked by an operator ({len(keys)})"
        )
        return len(keys), tuple(grants)

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
        """(Re-)read the session from PostgreSQL into the pool; one read per key at a time."""
        if not _plausible(plain):
            return False
        key = hash_session_token(plain)
        running = self._adopting.get(key)
        if running is None:
            running = asyncio.ensure_future(self._load_into_pool(key))
            self._adopting[key] = running
            running.add_done_callback(lambda t: settled(t, self._adopting.pop(key, None)))
        return await asyncio.shield(running)

    async def _load_into_pool(self, key: str) -> bool:
        stored = await self.store.load(key)
        if stored is None:
            self.sessions.tell(ForgetSession(key))  # revoked or expired: drop our copy
            return False
        adopted: bool = await self.sessions.ask(AdoptSession(stored))
        return adopted

    async def upstream_token(self, plain: str, caller: Caller) -> tuple[str, Token]:
        """(session key, a fresh upstream token); refreshes first when it is close to expiry."""
        adopted = False
        for _ in range(_MAX_WAITS + 2):
            decision: Decision | None = await self.sessions.ask(TokenFor(plain))
            if decision is None:
                if adopted or not await self._adopt(plain):
                    raise _unauthorized()
                adopted = True
                continue
            if isinstance(decision, Use):
                return hash_session_token(plain), decision.token
            if isinstance(decision, Refresh):
                return decision.key, await self._refresh(decision, caller)
            await self._wait_for(decision.key)  # Wait: another caller here refreshes it
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
        """Rotate the refresh token (one refresh per session in the fleet) and persist it."""
        event = self._refreshing.setdefault(decision.key, asyncio.Event())
        try:
            try:
                leased = await self._lease(decision)
                if isinstance(leased, Token):
                    return leased
                if decision.refresh_token is None:
                    raise InvalidRefreshToken("the session has no refresh token")
                token = await self.client.refresh_grant(decision.refresh_token, decision.device_id)
            except InvalidRefreshToken:
                return await self._rejected(decision, caller)
            except BaseException as exc:
                self.sessions.tell(FailRefresh(decision.key, decision.ticket, False))
                if isinstance(exc, Exception) and not isinstance(exc, Unauthorized):
                    await self.audit_admin(
                        AuditEvent.REFRESH_FAILURE, None, caller, type(exc).__name__
                    )
                raise
            self.refreshes += 1
            return await self._save(decision, token, caller)
        finally:
            self._refreshing.pop(decision.key, None)
            event.set()

    async def _lease(self, decision: Refresh) -> Token | None:
        """Take the fleet-wide refresh lease on the version we hold (None: we refresh), or
        return the fresh token another replica saved meanwhile (the loser re-reads)."""
        key, version = decision.key, decision.version
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._refresh_wait
        pause = 0.02
        while not await self.store.take_refresh_lease(key, version, self._refresh_wait):
            fresh = await self.store.load(key)
            if fresh is None:
                await self.sessions.ask(FailRefresh(key, decision.ticket, True))
                raise _unauthorized("The session has ended; log in again.")
            if fresh.version != version:
                return await self._adopt_fresh(decision, fresh)
            if loop.time() >= deadline:
                self.sessions.tell(FailRefresh(key, decision.ticket, False))
                raise ServiceUnavailable(
                    "The session's token is being refreshed; retry.", retry_after=1
                )
            await asyncio.sleep(pause)  # another replica holds the lease: wait for its rotation
            pause = min(pause * 2, 0.2)
        return None

    async def _adopt_fresh(self, decision: Refresh, fresh: Session) -> Token:
        self.refreshes_adopted += 1
        await self.sessions.ask(
            CompleteRefresh(decision.key, decision.ticket, fresh.upstream, fresh.version)
        )
        return fresh.upstream

    async def _save(self, decision: Refresh, token: Token, caller: Caller) -> Token:
        """PostgreSQL first (even when this replica's pool evicted the session meanwhile: the
        old refresh token is spent upstream), then the pool."""
        key = decision.key
        if token.refresh_token is None:  # the answer did not rotate it: keep the old one
            token = replace(token, refresh_token=decision.refresh_token)
        saved = await self.store.save_refresh(key, decision.version, token)
        if saved is None:  # our lease lapsed and the row moved on, or it was revoked
            fresh = await self.store.load(key)
            if fresh is None:
                await self.sessions.ask(FailRefresh(key, decision.ticket, True))
                raise _unauthorized("The session has ended; log in again.")
            return await self._adopt_fresh(decision, fresh)
        await self.sessions.ask(CompleteRefresh(key, decision.ticket, token, saved))
        return token

    async def _rejected(self, decision: Refresh, caller: Caller) -> Token:
        """Upstream refused the refresh token. Revoke only if it is still the session's
        current one; if another replica rotated it meanwhile, use theirs."""
        key = decision.key
        if not await self.store.revoke(key, version=decision.version):
            fresh = await self.store.load(key)
            if fresh is not None and fresh.version != decision.version:
                return await self._adopt_fresh(decision, fresh)
        ended: Session | None = await self.sessions.ask(FailRefresh(key, decision.ticket, True))
        await self._broadcast(key)
        await self.audit_admin(
            AuditEvent.REFRESH_FAILURE,
            ended.username if ended else None,
            caller,
            "refresh rejected",
        )
        raise _unauthorized("The session ended upstream; log in again.")

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


def settled(task: asyncio.Future[Any], _forgotten: object) -> None:
    """A shared task is done: retrieve its exception (its requesters may all have gone)."""
    if not task.cancelled():
        task.exception()


def _plausible(plain: Any) -> bool:
    return isinstance(plain, str) and len(plain) == 43
