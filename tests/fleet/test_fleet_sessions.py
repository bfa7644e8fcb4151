"""Sessions and streams across real replicas (`kensho serve` processes on one PostgreSQL, one
Redis and one simulator): a logout is a 401 everywhere within a second, a refresh race keeps
the session, concurrent stream opens make one play call, and any replica releases a grant.

Two fleets, not one per case: a fleet's start costs about a minute on the shared CI machine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from kensho.catalog import load_catalog
from kensho.catalog.derive import episode_id, is_premium_only, seasons_for

from .cluster import Fleet, MakeFleet, Replica, wait_until

DEMO = {"username": "demo@kensho.dev", "password": "kensho-demo"}  # premium
PLAY = "/playback/v3/{id}/{device}/{platform}/play"
RELEASE = "/playback/v1/token/{id}/{token}"
TOKEN = "/auth/v1/token"
#: longer than the simulator's token life: every use of an upstream token refreshes it first
ALWAYS_REFRESH = {"KENSHO_SESSION_REFRESH_MARGIN": "3600"}


async def _free_episodes(fleet: Fleet) -> tuple[str, str]:
    """Two free episodes of a series the fleet's (small) catalog holds."""
    rows = await fleet.query("SELECT id FROM series WHERE removed_at IS NULL ORDER BY id")
    ids = {r[0] for r in rows}
    for entry in load_catalog().entries:
        if entry.series_id not in ids:
            continue
        plan = seasons_for(entry)[0]
        free = [e for e in range(1, plan.episode_count + 1) if not is_premium_only(plan, e)]
        if len(free) >= 2:
            return (
                episode_id(entry.series_id, plan.number, free[0]),
                episode_id(entry.series_id, plan.number, free[1]),
            )
    raise AssertionError("no series with two free episodes in the fleet's catalog")


async def _login(replica: Replica) -> str:
    status, body = await replica.request("POST", "/api/auth/login", json_body=DEMO)
    assert status == 200, body
    token: str = body["token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _get(replica: Replica, path: str, token: str) -> tuple[int, Any]:
    return await replica.request("GET", path, headers=_bearer(token))


async def test_sessions_logout_reaches_the_other_replica_in_a_second_and_refresh_races_are_safe(
    make_fleet: MakeFleet,
) -> None:
    async with make_fleet(replicas=2, settings=ALWAYS_REFRESH) as fleet:
        a, b = fleet.replicas
        free1, free2 = await _free_episodes(fleet)

        # A refresh race: concurrent stream opens on both replicas each need a refresh of the
        # same session, i.e. both want to spend the same rotating refresh token.
        token = await _login(a)
        assert (await _get(b, "/api/auth/me", token))[0] == 200  # cached on B too
        await fleet.sim.reset_stats()
        results = await asyncio.gather(
            _get(a, f"/api/episodes/{free1}/stream", token),
            _get(b, f"/api/episodes/{free2}/stream", token),
        )
        assert [s for s, _ in results] == [200, 200], results
        for replica in (a, b):  # the session survived on both
            assert (await _get(replica, "/api/auth/me", token))[0] == 200
        statuses = (await fleet.sim.stats())["paths"][TOKEN]["statuses"]
        assert set(statuses) == {"200"}, statuses  # no refresh token was spent twice
        # …and the stored refresh token is the latest: B refreshes again with it
        status, _ = await b.request(
            "DELETE", f"/api/episodes/{free1}/stream", headers=_bearer(token)
        )
        assert status == 204
        assert (await _get(b, f"/api/episodes/{free1}/stream", token))[0] == 200

        # Logout on A: B refuses the token within a second. B re-reads PostgreSQL only every
        # 5 s (the default), so within 1 s it is the broadcast.
        status, _ = await a.request("POST", "/api/auth/logout", headers=_bearer(token))
        assert status == 204
        started = time.monotonic()

        async def refused() -> bool:
            return (await _get(b, "/api/auth/me", token))[0] == 401

        await wait_until(refused, seconds=1.0, interval=0.02, what="B refusing the token")
        assert time.monotonic() - started < 1.0
        assert (await _get(b, f"/api/episodes/{free2}/stream", token))[0] == 401


async def test_streams_one_play_call_for_concurrent_opens_and_released_by_another_replica(
    make_fleet: MakeFleet,
) -> None:
    async with make_fleet(replicas=2) as fleet:
        a, b = fleet.replicas
        free1, free2 = await _free_episodes(fleet)
        token = await _login(a)

        # Concurrent opens of one (session, episode) on both replicas: one play call.
        await fleet.sim.reset_stats()
        path = f"/api/episodes/{free1}/stream"
        results = await asyncio.gather(
            *(_get(r, f"{path}?quality={q}", token) for r in (a, b, a, b) for q in ("auto", "480p"))
        )
        assert [s for s, _ in results] == [200] * 8, results
        assert len({body["expires_at"] for _, body in results}) == 1  # one grant for all
        assert await fleet.sim.calls(PLAY) == 1

        # Grants opened by A, released by B: one stopped on B, the rest at logout on B.
        status, body = await _get(a, f"/api/episodes/{free2}/stream", token)
        assert status == 200, body
        manifests = [results[0][1]["manifest_url"], body["manifest_url"]]
        assert (await fleet.query("SELECT count(*) FROM kensho_stream_grants"))[0][0] == 2
        await fleet.sim.reset_stats()
        status, _ = await b.request(
            "DELETE", f"/api/episodes/{free1}/stream", headers=_bearer(token)
        )
        assert status == 204
        status, _ = await b.request("POST", "/api/auth/logout", headers=_bearer(token))
        assert status == 204
        assert await fleet.sim.calls(RELEASE) == 2
        assert (await fleet.query("SELECT count(*) FROM kensho_stream_grants"))[0][0] == 0
        async with aiohttp.ClientSession() as http:  # the manifests live on the simulator
            for url in manifests:
                async with http.get(url) as resp:
                    assert resp.status == 403  # released upstream
