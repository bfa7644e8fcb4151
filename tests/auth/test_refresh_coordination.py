"""The fleet-wide refresh, path by path: the lease, the compare-and-swap save, a rejected
refresh token that is (or is no longer) the session's current one, a login whose save fails;
and within one replica: callers waiting for the refresh in flight, a lease nobody completes,
answers without a refresh token, credentials refusals that are not retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from auth.kit import DEMO, Kit, bearer, stored_token
from kensho.actors.session_pool import Invalidate, Sweep, TokenFor
from kensho.auth.service import AuthService, Caller
from kensho.errors import ServiceUnavailable, Unauthorized
from kensho.http import keys
from kensho.upstream.errors import InvalidCredentials, InvalidRefreshToken
from kensho.upstream.sessions import PoolConfig, Refresh, hash_session_token
from kensho.upstream.simulator import SimConfig
from kensho.upstream.tokens import Token

pytestmark = pytest.mark.usefixtures("redis_client")
CALLER = Caller(None, None, None)


@asynccontextmanager
async def refreshing(make_kit: Any) -> AsyncIterator[tuple[Kit, AuthService, str, str]]:
    """A kit whose every use of an upstream token refreshes it first (margin > life)."""
    async with make_kit(sim=SimConfig(expires_in=60), pool=PoolConfig(refresh_margin=120)) as kit:
        token = await kit.login(DEMO)
        yield kit, kit.app[keys.AUTH], token, hash_session_token(token)


def _other(token: Token, n: int) -> Token:
    """The token another replica's refresh would have saved."""
    return Token(f"other-access-{n}", f"other-refresh-{n}", 2e9, token.account_id, True, "dev")


async def test_a_rejected_current_refresh_token_ends_the_session_everywhere(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with refreshing(make_kit) as (kit, auth, token, key):

        async def rejected(*args: Any, **kwargs: Any) -> Any:
            raise InvalidRefreshToken("the refresh token was rejected")

        monkeypatch.setattr(kit.upstream, "refresh_grant", rejected)
        before = auth.revocations.published
        with pytest.raises(Unauthorized):
            await auth.upstream_token(token, CALLER)
        assert await auth.store.load(key) is None  # revoked in PostgreSQL
        assert auth.revocations.published == before + 1  # and broadcast
        assert (await kit.client.get("/api/auth/me", headers=bearer(token))).status == 401


async def test_a_rejected_token_another_replica_already_replaced_keeps_the_session(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with refreshing(make_kit) as (kit, auth, token, key):
        stored = await auth.store.load(key)
        assert stored is not None and stored.version == 0
        theirs = _other(stored.upstream, 1)

        async def raced(*args: Any, **kwargs: Any) -> Any:
            # another replica (its lease lapsed for us) rotated it first: ours is now spent
            assert await auth.store.save_refresh(key, 0, theirs) == 1
            raise InvalidRefreshToken("the refresh token was rejected")

        monkeypatch.setattr(kit.upstream, "refresh_grant", raced)
        _key, got = await auth.upstream_token(token, CALLER)
        assert got.access_token == theirs.access_token
        assert auth.refreshes_adopted == 1
        found = await auth.store.load(key)
        assert found is not None and found.version == 1  # not revoked


async def test_a_lease_held_by_another_replica_that_never_finishes_is_a_503(
    make_kit: Any,
) -> None:
    async with refreshing(make_kit) as (_kit, auth, token, key):
        assert await auth.store.take_refresh_lease(key, 0, 60)  # "another replica"
        auth._refresh_wait = 0.1
        with pytest.raises(ServiceUnavailable):
            await auth.upstream_token(token, CALLER)
        assert await auth.store.load(key) is not None  # the session is untouched
        assert not await auth.store.take_refresh_lease(key, 0, 60)  # still theirs


async def test_a_session_revoked_while_waiting_for_the_lease_is_a_401(make_kit: Any) -> None:
    async with refreshing(make_kit) as (_kit, auth, token, key):
        assert await auth.store.take_refresh_lease(key, 0, 60)
        assert await auth.store.revoke(key)  # e.g. a logout on the lease holder
        with pytest.raises(Unauthorized):
            await auth.upstream_token(token, CALLER)


async def test_a_save_that_lost_the_race_uses_the_row_or_ends(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with refreshing(make_kit) as (kit, auth, token, key):
        real = kit.upstream.refresh_grant
        stored = await auth.store.load(key)
        assert stored is not None
        theirs = _other(stored.upstream, 2)

        async def overtaken(*args: Any, **kwargs: Any) -> Any:
            fresh = await real(*args, **kwargs)
            assert await auth.store.save_refresh(key, 0, theirs) == 1  # saved over v0 first
            return fresh

        monkeypatch.setattr(kit.upstream, "refresh_grant", overtaken)
        _key, got = await auth.upstream_token(token, CALLER)
        assert got.access_token == theirs.access_token  # the row wins: one truth


async def test_a_save_over_a_revoked_row_ends_the_session(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with refreshing(make_kit) as (kit, auth, token, key):
        real = kit.upstream.refresh_grant

        async def revoking(*args: Any, **kwargs: Any) -> Any:
            fresh = await real(*args, **kwargs)
            assert await auth.store.revoke(key)
            return fresh

        monkeypatch.setattr(kit.upstream, "refresh_grant", revoking)
        with pytest.raises(Unauthorized):
            await auth.upstream_token(token, CALLER)


async def test_a_login_whose_save_fails_leaves_no_session_in_memory(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_kit() as kit:
        auth = kit.app[keys.AUTH]

        async def down(session: Any) -> None:
            raise ServiceUnavailable("database unavailable", retry_after=1)

        monkeypatch.setattr(auth.store, "save", down)
        resp = await kit.client.post(
            "/api/auth/login", json={"username": DEMO[0], "password": DEMO[1]}
        )
        assert resp.status == 503
        await auth.sessions.ask(Sweep())  # after the revocation told before it
        assert auth.sessions.summary()["sessions"] == 0


@asynccontextmanager
async def stale(make_kit: Any) -> AsyncIterator[tuple[Kit, AuthService, str, str]]:
    """A kit whose session's upstream token was just refused (an upstream 401): its next use
    refreshes it once, and the refreshed token is fresh."""
    async with make_kit() as kit:
        auth: AuthService = kit.app[keys.AUTH]
        token = await kit.login(DEMO)
        key, upstream = await auth.upstream_token(token, CALLER)
        auth.sessions.tell(Invalidate(key, upstream))
        yield kit, auth, token, key


def held(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """(entered, go): upstream refreshes wait for `go` once they started."""
    entered, go = asyncio.Event(), asyncio.Event()
    real = kit.upstream.refresh_grant

    async def held_refresh(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await go.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(kit.upstream, "refresh_grant", held_refresh)
    return entered, go


def observe_waits(auth: AuthService, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set when a caller starts waiting for another caller's refresh."""
    waiting = asyncio.Event()
    real = auth._wait_for

    async def observed(key: str) -> None:
        waiting.set()
        await real(key)

    monkeypatch.setattr(auth, "_wait_for", observed)
    return waiting


async def test_concurrent_uses_on_one_replica_share_its_one_refresh(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with stale(make_kit) as (kit, auth, token, _key):
        entered, go = held(kit, monkeypatch)
        waiting = observe_waits(auth, monkeypatch)
        first = asyncio.ensure_future(auth.upstream_token(token, CALLER))
        await asyncio.wait_for(entered.wait(), 10)
        second = asyncio.ensure_future(auth.upstream_token(token, CALLER))
        await asyncio.wait_for(waiting.wait(), 10)  # the pool told it to wait for `first`
        go.set()
        (_, got1), (_, got2) = await asyncio.gather(first, second)
        assert got2.access_token == got1.access_token and auth.refreshes == 1


async def test_a_refresh_that_outlasts_the_wait_is_a_503_for_the_waiters(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with stale(make_kit) as (kit, auth, token, _key):
        entered, go = held(kit, monkeypatch)
        first = asyncio.ensure_future(auth.upstream_token(token, CALLER))
        await asyncio.wait_for(entered.wait(), 10)
        auth._refresh_wait = 0.01  # each wait for `first` gives up at once
        with pytest.raises(ServiceUnavailable):
            await auth.upstream_token(token, CALLER)
        go.set()
        await first  # the refresh itself still completes
        assert auth.refreshes == 1


async def test_a_refresh_lease_nobody_here_completes_is_a_503_not_a_hang(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's lease was handed to a caller that is gone (it never refreshes): the others
    retry a few times, then answer 503 until the lease expires (`refresh_timeout`)."""
    async with stale(make_kit) as (_kit, auth, token, _key):
        decision = await auth.sessions.ask(TokenFor(token))  # the caller that went away
        assert isinstance(decision, Refresh)
        waiting = observe_waits(auth, monkeypatch)
        with pytest.raises(ServiceUnavailable):
            await auth.upstream_token(token, CALLER)
        assert waiting.is_set() and auth.refreshes == 0


async def test_a_session_without_a_refresh_token_ends_without_an_upstream_call(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_kit(sim=SimConfig(expires_in=60), pool=PoolConfig(refresh_margin=120)) as kit:
        auth: AuthService = kit.app[keys.AUTH]
        real = kit.upstream.password_grant

        async def without_refresh_token(*args: Any, **kwargs: Any) -> Token:
            return replace(await real(*args, **kwargs), refresh_token=None)

        async def never(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("no refresh token: nothing to send upstream")

        monkeypatch.setattr(kit.upstream, "password_grant", without_refresh_token)
        monkeypatch.setattr(kit.upstream, "refresh_grant", never)
        token = await kit.login(DEMO)
        with pytest.raises(Unauthorized):
            await auth.upstream_token(token, CALLER)
        assert await auth.store.load(hash_session_token(token)) is None


async def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one(
    make_kit: Any, db_pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with refreshing(make_kit) as (kit, auth, token, key):
        before = await stored_token(db_pool, key)
        real = kit.upstream.refresh_grant

        async def not_rotated(*args: Any, **kwargs: Any) -> Token:
            return replace(await real(*args, **kwargs), refresh_token=None)

        monkeypatch.setattr(kit.upstream, "refresh_grant", not_rotated)
        _key, got = await auth.upstream_token(token, CALLER)
        after = await stored_token(db_pool, key)
        assert before is not None and after is not None
        assert after.access_token == got.access_token != before.access_token
        assert after.refresh_token == before.refresh_token  # kept, not lost


async def test_a_rejected_refresh_of_a_session_revoked_meanwhile_ends_it(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with refreshing(make_kit) as (kit, auth, token, key):

        async def logged_out_meanwhile(*args: Any, **kwargs: Any) -> Any:
            assert await auth.store.revoke(key)  # a logout on another replica
            raise InvalidRefreshToken("the refresh token was rejected")

        monkeypatch.setattr(kit.upstream, "refresh_grant", logged_out_meanwhile)
        before = auth.revocations.published
        with pytest.raises(Unauthorized):
            await auth.upstream_token(token, CALLER)
        assert await auth.store.load(key) is None
        assert auth.revocations.published == before + 1
        assert (await kit.client.get("/api/auth/me", headers=bearer(token))).status == 401


@pytest.mark.parametrize("error", [InvalidRefreshToken, InvalidCredentials])
async def test_a_call_refused_for_its_credentials_is_not_retried(
    make_kit: Any, error: type[Exception]
) -> None:
    """Only a plain upstream 401 (the access token) earns a refresh and a retry."""
    async with make_kit() as kit:
        auth: AuthService = kit.app[keys.AUTH]
        token = await kit.login(DEMO)
        calls: list[Token] = []

        async def refused(upstream: Token) -> None:
            calls.append(upstream)
            raise error("refused")

        with pytest.raises(error):
            await auth.call(token, CALLER, refused)
        assert len(calls) == 1 and auth.refreshes == 0
