"""The fleet-wide refresh, path by path: the lease, the compare-and-swap save, a rejected
refresh token that is (or is no longer) the session's current one, a login whose save fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from auth.kit import DEMO, Kit, bearer
from kensho.actors.session_pool import Sweep
from kensho.auth.service import AuthService, Caller
from kensho.errors import ServiceUnavailable, Unauthorized
from kensho.http import keys
from kensho.upstream.errors import InvalidRefreshToken
from kensho.upstream.sessions import PoolConfig, hash_session_token
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
        assert auth.revocations is not None
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
