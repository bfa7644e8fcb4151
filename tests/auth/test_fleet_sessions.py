"""Two replicas in one process (two apps on one PostgreSQL, one Redis, one simulator): sessions
and stream grants are shared, revocations reach the other replica, refreshes are coordinated.

The real-process versions of the headline cases are in tests/fleet/; these are fast and reach
the corners (a missed broadcast, an eviction mid-refresh, Redis down, the 420 retry).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from auth.kit import ADMIN, DEMO, FREE, Kit, bearer, episodes, kensho_app, stored_token
from kensho.actors.session_pool import ForgetSession
from kensho.http import keys
from kensho.upstream.sessions import PoolConfig, hash_session_token
from kensho.upstream.simulator import SimConfig, running_simulator

pytestmark = pytest.mark.usefixtures("redis_client")

PLAY = "/playback/v3/{id}/{device}/{platform}/play"
TOKEN_PATH = "/auth/v1/token"


@pytest.fixture
def two_replicas(aiohttp_client: Any, db_pool: Any, redis_url: str, redis_prefix: str) -> Any:
    """`async with two_replicas(sim=…, **kw) as (a, b)`: two apps sharing everything."""

    @asynccontextmanager
    async def build(sim: SimConfig | None = None, **kw: Any) -> AsyncIterator[tuple[Kit, Kit]]:
        async with (
            running_simulator(sim or SimConfig()) as url,
            kensho_app(aiohttp_client, db_pool, redis_url, redis_prefix, sim_url=url, **kw) as a,
            kensho_app(aiohttp_client, db_pool, redis_url, redis_prefix, sim_url=url, **kw) as b,
        ):
            for kit in (a, b):
                bus = kit.app[keys.AUTH].revocations
                assert bus is not None
                await asyncio.wait_for(bus.subscribed.wait(), 10)
            yield a, b

    return build


async def _sim_counts(kit: Kit) -> dict[str, int]:
    async with kit.upstream.session.get(f"{kit.sim_url}/_sim/stats") as r:
        stats = await r.json()
    return {p: int(v["count"]) for p, v in stats["paths"].items()}


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    """Poll `check` until it holds or `seconds` pass (no fixed sleep: it returns at once)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if await check():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)


async def _status(kit: Kit, path: str, token: str) -> int:
    resp = await kit.client.get(path, headers=bearer(token))
    await resp.read()
    return resp.status


async def _heard(kit: Kit, count: int) -> None:
    """Wait until `kit`'s listener applied `count` revocations (an event, not a clock)."""
    bus = kit.app[keys.AUTH].revocations
    assert bus is not None

    async def heard() -> bool:
        return bus.received >= count

    assert await _until(heard, 30.0), bus.received


#: no re-validation during a test: only the broadcast can tell the other replica
NEVER_RECHECK = PoolConfig(revalidate_after=3600)


async def test_logout_on_one_replica_is_refused_by_the_other_through_the_broadcast(
    two_replicas: Any,
) -> None:
    """The within-a-second measurement is the real-process test's (tests/fleet); here: the
    broadcast alone makes the other replica refuse the token."""
    free1, _, _ = episodes()
    async with two_replicas(pool=NEVER_RECHECK) as (a, b):
        token = await a.login(DEMO)
        assert await _status(b, "/api/auth/me", token) == 200  # B caches it now
        stream = f"/api/episodes/{free1}/stream"
        assert await _status(b, stream, token) == 200
        out = await a.client.post("/api/auth/logout", headers=bearer(token))
        assert out.status == 204

        await _heard(b, 1)
        assert await _status(b, "/api/auth/me", token) == 401
        assert await _status(b, stream, token) == 401


async def test_a_missed_broadcast_is_caught_by_the_re_validation(two_replicas: Any) -> None:
    async with two_replicas(pool=PoolConfig(revalidate_after=0.3)) as (a, b):
        await b.app[keys.AUTH].revocations.close()  # B hears nothing any more
        token = await a.login(DEMO)
        assert await _status(b, "/api/auth/me", token) == 200
        await a.client.post("/api/auth/logout", headers=bearer(token))

        async def refused() -> bool:
            return await _status(b, "/api/auth/me", token) == 401

        assert await _until(refused, 5.0)
        assert b.app[keys.AUTH].revocations.received == 0


async def test_refresh_race_between_two_replicas_keeps_the_session(
    two_replicas: Any, db_pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every use refreshes (margin > life). A is inside its refresh when B decides to refresh
    too: B must wait for A's rotation and re-read the fresh token (before, B spent the old
    refresh token, upstream rejected it, and the session was revoked for everyone)."""
    free1, free2, _ = episodes()
    sim = SimConfig(expires_in=60)
    async with two_replicas(sim=sim, pool=PoolConfig(refresh_margin=120)) as (a, b):
        token = await a.login(DEMO)
        key = hash_session_token(token)
        assert await _status(b, "/api/auth/me", token) == 200  # B holds version 0 too
        before = await stored_token(db_pool, key)
        entered, go = asyncio.Event(), asyncio.Event()
        real = a.upstream.refresh_grant

        async def held_refresh(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            await go.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(a.upstream, "refresh_grant", held_refresh)
        on_a = asyncio.ensure_future(
            a.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        )
        await asyncio.wait_for(entered.wait(), 10)
        on_b = asyncio.ensure_future(
            b.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        )
        b_auth = b.app[keys.AUTH]

        async def b_is_refreshing() -> bool:
            return key in b_auth._refreshing

        assert await _until(b_is_refreshing, 10)
        go.set()
        results = await asyncio.gather(on_a, on_b)
        assert [r.status for r in results] == [200, 200], [await r.text() for r in results]
        assert a.app[keys.AUTH].refreshes == 1 and b_auth.refreshes == 0
        assert b_auth.refreshes_adopted == 1  # the loser re-read the fresh token
        for kit in (a, b):
            assert await _status(kit, "/api/auth/me", token) == 200
        after = await stored_token(db_pool, key)
        assert before is not None and after is not None
        assert after.refresh_token != before.refresh_token


async def test_a_session_evicted_during_its_refresh_still_saves_the_new_token(
    make_kit: Any, db_pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    free1, free2, _ = episodes()
    async with make_kit(sim=SimConfig(expires_in=60), pool=PoolConfig(refresh_margin=120)) as kit:
        token = await kit.login(DEMO)
        key = hash_session_token(token)
        auth = kit.app[keys.AUTH]
        real = kit.upstream.refresh_grant

        async def evicting_refresh(*args: Any, **kwargs: Any) -> Any:
            fresh = await real(*args, **kwargs)
            await auth.sessions.ask(ForgetSession(key))  # pushed out of the pool meanwhile
            return fresh

        monkeypatch.setattr(kit.upstream, "refresh_grant", evicting_refresh)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        stored = await stored_token(db_pool, key)
        assert stored is not None
        monkeypatch.undo()
        # The stored refresh token is the rotated one: the next refresh (from PostgreSQL, the
        # session left the pool) succeeds instead of ending the session.
        again = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert again.status == 200, await again.text()
        assert auth.refreshes == 2


async def test_concurrent_stream_opens_on_two_replicas_make_one_play_call(
    two_replicas: Any,
) -> None:
    free1, _, _ = episodes()
    async with two_replicas() as (a, b):
        token = await a.login(DEMO)
        path = f"/api/episodes/{free1}/stream"
        results = await asyncio.gather(
            *(
                kit.client.get(f"{path}?quality={q}", headers=bearer(token))
                for kit in (a, b, a, b, a, b)
                for q in ("auto", "480p")
            )
        )
        bodies = [await r.json() for r in results]
        assert [r.status for r in results] == [200] * 12, bodies
        assert len({body["expires_at"] for body in bodies}) == 1  # one grant
        counts = await _sim_counts(a)
        assert counts.get(PLAY, 0) == 1, counts
        opened = a.app[keys.PLAYBACK].opened + b.app[keys.PLAYBACK].opened
        assert opened == 1


async def test_grants_are_released_by_the_replica_that_gets_the_logout(
    two_replicas: Any,
) -> None:
    free1, free2, _ = episodes()
    async with two_replicas() as (a, b):
        token = await a.login(DEMO)
        manifests = []
        for ep in (free1, free2):
            resp = await a.client.get(f"/api/episodes/{ep}/stream", headers=bearer(token))
            manifests.append((await resp.json())["manifest_url"])
        out = await b.client.post("/api/auth/logout", headers=bearer(token))
        assert out.status == 204
        assert b.app[keys.PLAYBACK].released == 2  # B released what A opened
        assert a.app[keys.PLAYBACK].released == 0
        for url in manifests:
            async with a.upstream.session.get(url) as r:
                assert r.status == 403  # released upstream by B


async def test_stop_on_another_replica_and_the_sweep_of_any_replica_release(
    two_replicas: Any,
) -> None:
    free1, _, _ = episodes()
    clock = [0.0]

    def wall() -> float:
        return time.time() + clock[0]

    async with two_replicas(wall_clock=wall) as (a, b):
        token = await a.login(DEMO)
        resp = await a.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        manifest = (await resp.json())["manifest_url"]
        stop = await b.client.delete(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert stop.status == 204 and b.app[keys.PLAYBACK].released == 1
        async with a.upstream.session.get(manifest) as r:
            assert r.status == 403

        resp = await a.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200
        clock[0] = 3600.0  # the grant's window is over
        manifest = (await resp.json())["manifest_url"]
        _, released = await b.app[keys.PLAYBACK].sweep()
        assert released >= 1  # B's sweeper released what A opened (and older tests' leftovers)
        async with a.upstream.session.get(manifest) as r:
            assert r.status == 403
        _, again = await a.app[keys.PLAYBACK].sweep()
        assert again == 0  # taken once, released once


async def test_420_releases_the_fleets_stale_grants_and_retries_once(
    two_replicas: Any, db_pool: Any
) -> None:
    """A free account (one stream): a session that ended without its grant being released
    (its replica died mid-logout) holds the account's stream; the next open on another
    replica gets 420, releases it and retries."""
    free1, free2, _ = episodes()
    async with two_replicas(sim=SimConfig(stream_limit_free=1)) as (a, b):
        first = await a.login(FREE)
        ok = await a.client.get(f"/api/episodes/{free1}/stream", headers=bearer(first))
        assert ok.status == 200
        await a.app[keys.AUTH].store.revoke(hash_session_token(first))  # no release happened

        second = await b.login(FREE)
        resp = await b.client.get(f"/api/episodes/{free2}/stream", headers=bearer(second))
        assert resp.status == 200, await resp.text()
        playback = b.app[keys.PLAYBACK]
        assert playback.retried_after_limit == 1 and playback.released == 1
        counts = await _sim_counts(b)
        assert counts.get(PLAY, 0) == 3  # ok, the 420, the retry

        # A live session's grant is never taken: a third session gets the 429.
        third = await a.login(FREE)
        over = await a.client.get(f"/api/episodes/{free1}/stream", headers=bearer(third))
        assert over.status == 429
        assert a.app[keys.PLAYBACK].retried_after_limit == 0


async def test_redis_down_every_request_still_succeeds(two_replicas: Any) -> None:
    """No broadcast and no fleet lock: logout still revokes (PostgreSQL, then the other
    replica's re-validation), streams open with the local single flight only."""
    free1, _, _ = episodes()
    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        async with two_replicas(pool=PoolConfig(revalidate_after=0.3)) as (a, b):
            for kit in (a, b):
                kit.app[keys.AUTH].revocations._redis = dead
                kit.app[keys.PLAYBACK]._redis = dead
            token = await a.login(DEMO)
            path = f"/api/episodes/{free1}/stream"
            results = await asyncio.gather(
                *(k.client.get(path, headers=bearer(token)) for k in (a, a, b))
            )
            assert [r.status for r in results] == [200] * 3
            assert await _status(b, "/api/auth/me", token) == 200
            out = await a.client.post("/api/auth/logout", headers=bearer(token))
            assert out.status == 204
            assert a.app[keys.AUTH].revocations.failures >= 1

            async def refused() -> bool:
                return await _status(b, "/api/auth/me", token) == 401

            assert await _until(refused, 5.0)
    finally:
        await dead.aclose()


async def test_an_operator_revokes_a_users_sessions_on_every_replica(two_replicas: Any) -> None:
    free1, _, _ = episodes()
    async with two_replicas(pool=NEVER_RECHECK) as (a, b):
        first, second = await a.login(DEMO), await b.login(DEMO)
        other = await a.login(FREE)
        resp = await a.client.get(f"/api/episodes/{free1}/stream", headers=bearer(first))
        manifest = (await resp.json())["manifest_url"]
        admin = {"Authorization": f"Bearer {ADMIN}"}
        out = await b.client.post(
            "/admin/sessions/revoke", json={"username": " DEMO@kensho.dev "}, headers=admin
        )
        assert out.status == 200, await out.text()
        result = await out.json()
        # at least these two (the test database also holds earlier tests' demo sessions)
        assert result["revoked"] >= 2 and result["released"] >= 1, result
        await _heard(a, 2)
        for token in (first, second):
            for kit in (a, b):
                assert await _status(kit, "/api/auth/me", token) == 401
        assert await _status(a, "/api/auth/me", other) == 200  # another user is untouched
        async with a.upstream.session.get(manifest) as r:
            assert r.status == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"username": ""}, 422),
        ({"username": "x" * 321}, 422),
        ({"username": "demo\x00@kensho.dev"}, 422),
        ({"username": 7}, 422),
        (["demo@kensho.dev"], 422),
        ({"username": "demo@kensho.dev", "extra": True}, 422),
    ],
)
async def test_session_revocation_refuses_bad_bodies(make_kit: Any, body: Any, status: int) -> None:
    async with make_kit() as kit:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        resp = await kit.client.post("/admin/sessions/revoke", json=body, headers=admin)
        assert resp.status in (400, status), await resp.text()
        assert resp.content_type == "application/problem+json"


async def test_session_revocation_needs_the_admin_token_and_a_small_json_body(
    make_kit: Any,
) -> None:
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        resp = await kit.client.post(
            "/admin/sessions/revoke", json={"username": DEMO[0]}, headers=bearer(token)
        )
        assert resp.status == 401
        admin = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        huge = await kit.client.post(
            "/admin/sessions/revoke",
            data=io.BytesIO(b'{"username": "' + b"x" * (2 << 20) + b'"}'),
            headers=admin,
        )
        assert huge.status == 413
        text = await kit.client.post(
            "/admin/sessions/revoke",
            data=b"username=x",
            headers={**admin, "Content-Type": "text/plain"},
        )
        assert text.status == 415
        assert await _status(kit, "/api/auth/me", token) == 200


async def test_a_grant_whose_player_went_silent_is_released_by_any_replica(
    two_replicas: Any,
) -> None:
    free1, free2, _ = episodes()
    clock = [0.0]

    def wall() -> float:
        return time.time() + clock[0]

    async with two_replicas(wall_clock=wall) as (a, b):
        for kit in (a, b):
            kit.app[keys.PLAYBACK]._heartbeat_timeout = 60.0
        token = await a.login(DEMO)
        manifests = {}
        for ep in (free1, free2):
            resp = await a.client.get(f"/api/episodes/{ep}/stream", headers=bearer(token))
            manifests[ep] = (await resp.json())["manifest_url"]
        beat = {"episode_id": free1, "quality": "720p", "bytes": 1000, "seconds": 10.0}
        resp = await b.client.post("/api/streams/heartbeat", json=beat, headers=bearer(token))
        assert resp.status == 204
        clock[0] = 120.0  # free1's player has been silent for 120 s; free2 never reported
        await b.app[keys.PLAYBACK].sweep()
        async with a.upstream.session.get(manifests[free1]) as r:
            assert r.status == 403  # released by B's sweep
        async with a.upstream.session.get(manifests[free2]) as r:
            assert r.status == 200  # no heartbeat ever: kept until its window ends
        again = await b.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert (await again.json())["manifest_url"] == manifests[free2]
