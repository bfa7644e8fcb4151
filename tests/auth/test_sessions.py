"""Session pool through the running actor: LRU eviction, upstream 401s, rotation on restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from auth.kit import DEMO, FREE, bearer, episodes, stored_token
from kensho.actors.session_pool import ForgetSession, LookupSession
from kensho.auth.service import Caller, settled
from kensho.composition.services import child_handle
from kensho.errors import Unauthorized
from kensho.http.keys import AUTH, PLAYBACK
from kensho.upstream.errors import InvalidRefreshToken
from kensho.upstream.sessions import PoolConfig, hash_session_token
from kensho.upstream.simulator import SimConfig, running_simulator

pytestmark = pytest.mark.usefixtures("redis_client")

PLAY = "/playback/v3/{id}/{device}/{platform}/play"
TOKEN = "/auth/v1/token"
RELEASE = "/playback/v1/token/{id}/{token}"


def _handle(app: Any, name: str) -> Any:
    handle = child_handle(app, name)
    assert handle is not None
    return handle


class ShiftedClock:
    """The simulator's clock, moved forward so tokens expire upstream but not in Kenshō."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def _in_actor(kit: Any, token: str) -> bool:
    found = await _handle(kit.app, "session_pool").ask(LookupSession(token))
    return found is not None


def _summary(kit: Any) -> dict[str, Any]:
    """The actor's domain summary (read after an ask completed, so the state is settled)."""
    return _handle(kit.app, "session_pool").summary()


async def _counts(kit: Any) -> dict[str, int]:
    async with kit.upstream.session.get(f"{kit.sim_url}/_sim/stats") as r:
        stats = await r.json()
    return {p: int(v["count"]) for p, v in stats["paths"].items()}


async def _reset_counts(kit: Any) -> None:
    async with kit.upstream.session.delete(f"{kit.sim_url}/_sim/stats") as r:
        assert r.status in (200, 204)


async def test_lru_eviction_only_leaves_the_cache_streams_are_kept_and_reused(
    make_kit: Any,
) -> None:
    """The pool is a cache of PostgreSQL: an evicted session is still live, and so is the
    stream grant it holds (stored in PostgreSQL), reused with no new play call."""
    free1, _, _ = episodes()
    async with make_kit(pool=PoolConfig(max_sessions=2)) as kit:
        first = await kit.login(DEMO)
        opened = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(first))
        assert opened.status == 200
        second = await kit.login(FREE)
        third = await kit.login(DEMO)  # the pool is full: `first` is least recently used
        assert not await _in_actor(kit, first)
        assert await _in_actor(kit, second) and await _in_actor(kit, third)
        summary = _summary(kit)
        assert summary["sessions"] == 2 and summary["evictions"] == 1

        await _reset_counts(kit)
        swept, released = await kit.app[PLAYBACK].sweep()
        assert swept.expired_sessions == () and released == 0
        assert await _in_actor(kit, third)  # a round trip after the sweep's count
        assert _summary(kit)["streams"] >= 1  # the fleet's grants, for the console
        await kit.app[PLAYBACK].drain()
        assert await _counts(kit) == {}  # nothing released: the session is alive

        # An evicted session is still valid: it is re-adopted from PostgreSQL, evicting the
        # LRU, and its stream comes from the stored grant.
        again = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(first))
        assert again.status == 200
        assert (await again.json())["manifest_url"] == (await opened.json())["manifest_url"]
        assert await _counts(kit) == {}
        assert await _in_actor(kit, first)
        assert not await _in_actor(kit, second)
        assert _summary(kit)["evictions"] == 2


async def test_upstream_401_leads_to_one_refresh_and_one_retry(make_kit: Any) -> None:
    free1, _, _ = episodes()
    clock = ShiftedClock()
    async with make_kit(sim=SimConfig(clock=clock)) as kit:
        token = await kit.login(DEMO)
        clock.offset = 3600.0  # the access token expired upstream; Kenshō still trusts it
        await _reset_counts(kit)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        counts = await _counts(kit)
        assert counts.get(PLAY) == 2, counts  # the 401, then the one retry
        assert counts.get(TOKEN) == 1, counts  # exactly one refresh
        assert kit.app[AUTH].refreshes == 1


async def test_a_second_upstream_401_is_not_retried_again(make_kit: Any) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        await kit.fault(path_prefix="/playback/", status=401)
        await _reset_counts(kit)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 401
        assert resp.content_type == "application/problem+json"
        counts = await _counts(kit)
        assert counts.get(PLAY) == 2, counts
        assert counts.get(TOKEN) == 1, counts
        assert kit.app[AUTH].refreshes == 1
        await kit.clear_faults()
        # the session itself survived (the refresh succeeded): the next call works
        again = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert again.status == 200


async def test_refresh_rotation_survives_an_app_restart(make_kit: Any, db_pool: Any) -> None:
    free1, free2, _ = episodes()
    short = {"pool": PoolConfig(refresh_margin=120)}  # every use refreshes first
    async with running_simulator(SimConfig(expires_in=60)) as url:
        async with make_kit(sim_url=url, **short) as first:
            token = await first.login(DEMO)
            key = hash_session_token(token)
            before = await stored_token(db_pool, key)
            assert before is not None
            ok = await first.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
            assert ok.status == 200 and first.app[AUTH].refreshes == 1
        rotated = await stored_token(db_pool, key)
        assert rotated is not None and rotated.refresh_token != before.refresh_token

        async with make_kit(sim_url=url, **short) as second:
            # a fresh process: the session and its rotated refresh token come from PostgreSQL
            resp = await second.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
            assert resp.status == 200, await resp.text()
            assert second.app[AUTH].refreshes == 1
            with pytest.raises(InvalidRefreshToken):  # the pre-restart token is dead upstream
                assert before.refresh_token is not None
                await second.upstream.refresh_grant(before.refresh_token, before.device_id)
        latest = await stored_token(db_pool, key)
        assert latest is not None and latest.refresh_token not in (
            before.refresh_token,
            rotated.refresh_token,
        )


async def test_after_a_broadcast_gap_every_cached_session_is_read_again(make_kit: Any) -> None:
    """`recheck_all` (the revocation listener reconnected: messages may be lost): a session
    revoked meanwhile on another replica is refused at its next use, before its re-validation
    would have come due."""
    async with make_kit(pool=PoolConfig(revalidate_after=3600)) as kit:
        auth = kit.app[AUTH]
        token = await kit.login(DEMO)
        assert (await kit.client.get("/api/auth/me", headers=bearer(token))).status == 200
        assert await auth.store.revoke(hash_session_token(token))  # the broadcast was lost
        assert (await kit.client.get("/api/auth/me", headers=bearer(token))).status == 200
        auth.recheck_all()
        assert (await kit.client.get("/api/auth/me", headers=bearer(token))).status == 401


async def test_a_session_evicted_from_the_pool_is_read_back_for_its_upstream_token(
    make_kit: Any,
) -> None:
    async with make_kit() as kit:
        auth = kit.app[AUTH]
        token, other = await kit.login(DEMO), await kit.login(DEMO)
        caller = Caller(None, None, None)
        for plain in (token, other):
            key = hash_session_token(plain)
            await auth.sessions.ask(ForgetSession(key))  # evicted (LRU, a restart)
        assert await auth.store.revoke(hash_session_token(other))
        got_key, upstream = await auth.upstream_token(token, caller)  # from PostgreSQL
        assert got_key == hash_session_token(token) and upstream.access_token
        with pytest.raises(Unauthorized):  # nothing to read back: revoked
            await auth.upstream_token(other, caller)


@pytest.mark.parametrize("plain", ["", "short", "x" * 44, None])
async def test_a_token_that_cannot_be_one_is_refused_without_a_database_read(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch, plain: Any
) -> None:
    async with make_kit() as kit:
        auth = kit.app[AUTH]

        async def no_read(key: str) -> None:
            raise AssertionError("no database read for an implausible token")

        monkeypatch.setattr(auth.store, "load", no_read)
        with pytest.raises(Unauthorized):
            await auth.session(plain)
        with pytest.raises(Unauthorized):
            await auth.upstream_token(plain, Caller(None, None, None))


async def test_settled_retrieves_a_shared_tasks_outcome_even_when_cancelled() -> None:
    """Requesters of a shared task may all be gone: its failure is retrieved (no "exception
    never retrieved" at garbage collection) and a cancelled one is no error."""
    loop = asyncio.get_running_loop()
    failed, cancelled = loop.create_future(), loop.create_future()
    failed.set_exception(RuntimeError("upstream down"))
    cancelled.cancel()
    settled(failed, None)
    settled(cancelled, None)
    assert failed._log_traceback is False  # retrieved


async def test_concurrent_misses_of_one_session_read_it_once(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_kit() as kit:
        auth = kit.app[AUTH]
        token = await kit.login(DEMO)
        await auth.sessions.ask(ForgetSession(hash_session_token(token)))
        real, loads = auth.store.load, []

        async def counted(key: str) -> Any:
            loads.append(key)
            return await real(key)

        monkeypatch.setattr(auth.store, "load", counted)
        # both start in one loop turn: the second joins the first's read
        both = [asyncio.ensure_future(auth._adopt(token)) for _ in range(2)]
        assert await asyncio.gather(*both) == [True, True]
        assert len(loads) == 1
