"""Stream URLs: quality selection, caching, release, stream limit, premium, heartbeat, refresh."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from auth.kit import DEMO, FREE, bearer, episodes, stored_token

from kensho.auth.quality import parse_master, select_quality
from kensho.errors import ServiceUnavailable
from kensho.http import keys
from kensho.http.keys import AUTH
from kensho.upstream.errors import InvalidRefreshToken, UpstreamForbidden
from kensho.upstream.sessions import PoolConfig, hash_session_token
from kensho.upstream.simulator import SimConfig

pytestmark = pytest.mark.usefixtures("redis_client")
PLAY = "/playback/v3/{id}/{device}/{platform}/play"


async def _sim_streams(kit: Any) -> int:
    """Upstream API requests the simulator has seen (its own /_sim routes excluded)."""
    async with kit.upstream.session.get(f"{kit.sim_url}/_sim/stats") as r:
        stats = await r.json()
    return sum(v["count"] for p, v in stats["paths"].items() if not p.startswith("/_sim"))


def test_select_quality_rules() -> None:
    ladder = {"1080p": 8_000_000, "720p": 4_000_000, "480p": 1_500_000, "360p": 800_000}
    assert select_quality(ladder, "480p", None) == "480p"
    assert select_quality(ladder, "auto", 5000) == "720p"
    assert select_quality(ladder, "auto", 100) == "360p"
    assert select_quality(ladder, "auto", None) == "720p"
    assert select_quality({"1080p": 8_000_000}, "480p", None) == "1080p"
    assert select_quality({"480p": 1, "360p": 1}, "1080p", 99_999) == "480p"
    assert select_quality({}, "auto", None) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a playlist",
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=abc,NAME="720p"\n720p.m3u8',
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,NAME="9999p"\nx.m3u8',
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,NAME="720p"\njavascript:alert(1)',
        "#EXTM3U\n" + "#EXT-X-STREAM-INF:BANDWIDTH=1\n" * 100_000,
    ],
)
def test_parse_master_ignores_hostile_playlists(text: str) -> None:
    assert parse_master(text, "https://cdn.example/m/master.m3u8") == []


async def test_stream_quality_cache_and_logout_release(make_kit: Any) -> None:
    free1, free2, _premium = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        first = await kit.client.get(
            f"/api/episodes/{free1}/stream?quality=480p", headers=bearer(token)
        )
        assert first.status == 200, await first.text()
        body = await first.json()
        assert body["quality"] == "480p" and body["qualities"] == ["1080p", "720p", "480p", "360p"]
        assert "/480p/index.m3u8" in body["manifest_url"] and body["subtitles"]
        # the manifest URL really plays
        async with kit.upstream.session.get(body["manifest_url"]) as r:
            assert r.status == 200 and "#EXTINF" in await r.text()

        plays = await _sim_streams(kit)
        auto = await kit.client.get(
            f"/api/episodes/{free1}/stream?quality=auto&bandwidth_kbps=5000", headers=bearer(token)
        )
        assert (await auto.json())["quality"] == "720p"
        assert await _sim_streams(kit) == plays, "the second request must come from the cache"
        assert (await auto.json())["expires_at"] == body["expires_at"]

        await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        state = kit.app[keys.PLAYBACK]
        assert state.opened == 2
        out = await kit.client.post("/api/auth/logout", headers=bearer(token))
        assert out.status == 204
        assert state.released == 2
        # released upstream: the manifest is no longer authorised
        async with kit.upstream.session.get(body["manifest_url"]) as r:
            assert r.status == 403


async def test_stream_limit_420_becomes_429_naming_streams(make_kit: Any) -> None:
    free1, free2, _ = episodes()
    async with make_kit(sim=SimConfig(stream_limit_free=1)) as kit:
        token = await kit.login(FREE)
        playback = kit.app[keys.PLAYBACK]
        # earlier tests' ended sessions of this account: none left to release and retry with
        session = await kit.app[AUTH].session(token)
        await playback.grants.take_stale(session.upstream.account_id, session.token_hash, 2e9)
        ok = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert ok.status == 200
        over = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert over.status == 429
        problem = await over.json()
        assert [s["contentId"] for s in problem["active_streams"]] == [free1]
        assert playback.retried_after_limit == 0  # the live session's grant was kept


async def test_premium_episode_needs_premium(make_kit: Any) -> None:
    _, _, premium = episodes()
    async with make_kit() as kit:
        free = await kit.login(FREE)
        denied = await kit.client.get(f"/api/episodes/{premium}/stream", headers=bearer(free))
        assert denied.status == 403
        assert "premium" in (await denied.json())["detail"]
        paying = await kit.login(DEMO)
        allowed = await kit.client.get(f"/api/episodes/{premium}/stream", headers=bearer(paying))
        assert allowed.status == 200


@pytest.mark.parametrize(
    "query",
    ["quality=4k", "quality=", "bandwidth_kbps=-1", "bandwidth_kbps=abc", "bandwidth_kbps=1e99"],
)
async def test_bad_stream_parameters_are_400(make_kit: Any, query: str) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream?{query}", headers=bearer(token))
        assert resp.status == 400


async def test_stream_needs_a_session_and_a_valid_id(make_kit: Any) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        assert (await kit.client.get(f"/api/episodes/{free1}/stream")).status == 401
        token = await kit.login(DEMO)
        bad = await kit.client.get("/api/episodes/..%2F..%2Fetc/stream", headers=bearer(token))
        assert bad.status in (400, 404)


async def test_refresh_before_expiry_rotates_and_persists(make_kit: Any, db_pool: Any) -> None:
    free1, free2, _ = episodes()
    # every token is "about to expire" (margin > lifetime): each use refreshes first
    async with make_kit(sim=SimConfig(expires_in=60), pool=PoolConfig(refresh_margin=120)) as kit:
        token = await kit.login(DEMO)
        key = hash_session_token(token)
        stored = await stored_token(db_pool, key)
        assert stored is not None and stored.refresh_token
        before = stored.refresh_token
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200
        stored = await stored_token(db_pool, key)
        assert stored is not None
        after = stored.refresh_token
        assert after and after != before
        auth_service = kit.app[AUTH]
        assert auth_service.refreshes == 1
        # the old refresh token was rotated away upstream
        with pytest.raises(InvalidRefreshToken):
            await kit.upstream.refresh_grant(before, stored.device_id)
        resp2 = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert resp2.status == 200 and auth_service.refreshes == 2


@pytest.mark.parametrize(
    "body",
    [
        {"episode_id": "E1", "quality": "720p", "bytes": -1, "seconds": 1},
        {"episode_id": "E1", "quality": "720p", "bytes": 1, "seconds": 0},
        {"episode_id": "E1", "quality": "8k", "bytes": 1, "seconds": 1},
        {"episode_id": "../x", "quality": "720p", "bytes": 1, "seconds": 1},
        {"episode_id": "E1", "quality": "720p", "bytes": 1 << 50, "seconds": 1},
        {"episode_id": "E1", "quality": "720p", "bytes": "12", "seconds": 1},
        {"episode_id": "E1", "quality": "720p", "bytes": 1.5, "seconds": 1},
        {"episode_id": "E1", "quality": "720p", "bytes": 1},
        {"episode_id": "E1", "quality": "720p", "bytes": 1, "seconds": 1, "evil": 1},
        [],
    ],
)
async def test_heartbeat_validation(make_kit: Any, body: Any) -> None:
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        resp = await kit.client.post("/api/streams/heartbeat", json=body, headers=bearer(token))
        assert resp.status == 422, await resp.text()


async def test_heartbeat_feeds_metrics_and_admin_view(make_kit: Any) -> None:
    async with make_kit() as kit:
        # Without a session a well-formed report is refused; a malformed one is a 422 first.
        report = {"episode_id": "GRDKJZ81Y", "quality": "720p", "bytes": 1, "seconds": 1}
        assert (await kit.client.post("/api/streams/heartbeat", json=report)).status == 401
        assert (await kit.client.post("/api/streams/heartbeat", json={})).status == 422
        token = await kit.login(DEMO)
        for nbytes in (5_000_000, 15_000_000):
            resp = await kit.client.post(
                "/api/streams/heartbeat",
                json={"episode_id": "E1", "quality": "1080p", "bytes": nbytes, "seconds": 10.0},
                headers=bearer(token),
            )
            assert resp.status == 204
        metrics = await (await kit.client.get("/metrics")).text()
        assert 'streaming_bandwidth_bytes_total{quality="1080p"} 2e+07' in metrics
        assert 'streaming_throughput_kbps_count{quality="1080p"} 2.0' in metrics
        view = await kit.client.get(
            "/admin/streams/bandwidth", headers={"Authorization": "Bearer admin-token-for-tests"}
        )
        q = (await view.json())["qualities"]["1080p"]
        assert q["reports"] == 2 and q["bytes"] == 20_000_000 and q["average_kbps"] == 8000.0
        assert q["underruns"] == 1


async def test_stop_releases_the_stream_upstream_at_once(make_kit: Any) -> None:
    """DELETE /api/episodes/{id}/stream: the viewer pressed Stop; the account's stream frees."""
    free1, free2, _ = episodes()
    async with make_kit(sim=SimConfig(stream_limit_free=1)) as kit:
        token = await kit.login(FREE)
        first = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert first.status == 200
        manifest = (await first.json())["manifest_url"]
        # the free account's one stream is taken
        over = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert over.status == 429

        stop = await kit.client.delete(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert stop.status == 204
        playback = kit.app[keys.PLAYBACK]
        assert playback.released == 1
        async with kit.upstream.session.get(manifest) as r:
            assert r.status == 403  # the stream token is gone upstream
        second = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert second.status == 200, await second.text()

        again = await kit.client.delete(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert again.status == 204 and playback.released == 1  # idempotent, nothing held


async def test_stop_needs_a_session_and_a_valid_id(make_kit: Any) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        assert (await kit.client.delete(f"/api/episodes/{free1}/stream")).status == 401
        token = await kit.login(DEMO)
        for bad in ("x" * 200, "%00", "a%20b", "..%2F..%2Fetc"):
            resp = await kit.client.delete(f"/api/episodes/{bad}/stream", headers=bearer(token))
            assert resp.status in (400, 404), bad
            assert resp.content_type == "application/problem+json"


async def test_a_stream_the_pool_could_not_keep_is_released_upstream(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing the grant failed (PostgreSQL unavailable): nobody holds the grant, so the
    account's stream slot must not stay taken until the token expires."""
    free1, free2, _ = episodes()
    async with make_kit(sim=SimConfig(stream_limit_free=1)) as kit:
        token = await kit.login(FREE)
        playback = kit.app[keys.PLAYBACK]

        async def refusing_put(grant: Any) -> Any:
            raise ServiceUnavailable("database unavailable", retry_after=1)

        monkeypatch.setattr(playback.grants, "put", refusing_put)
        first = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert first.status == 503 and first.headers["Retry-After"] == "1"
        await playback.drain()
        assert playback.released == 1  # before: 0, and the next stream got 429
        monkeypatch.undo()
        second = await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))
        assert second.status == 200, await second.text()


async def test_without_a_heartbeat_timeout_a_silent_player_keeps_its_grant(
    make_kit: Any,
) -> None:
    """`KENSHO_STREAM_HEARTBEAT_TIMEOUT=0`: silence never releases a grant; its window does."""
    free1, _, _ = episodes()
    clock = [0.0]

    def wall() -> float:
        return time.time() + clock[0]

    async with make_kit(wall_clock=wall, stream_heartbeat_timeout=0) as kit:
        token = await kit.login(DEMO)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        manifest = (await resp.json())["manifest_url"]
        beat = {"episode_id": free1, "quality": "720p", "bytes": 1000, "seconds": 10.0}
        resp = await kit.client.post("/api/streams/heartbeat", json=beat, headers=bearer(token))
        assert resp.status == 204
        clock[0] = 120.0  # silent for 120 s, still inside the grant's window
        await kit.app[keys.PLAYBACK].sweep()
        async with kit.upstream.session.get(manifest) as r:
            assert r.status == 200  # not released
        again = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert (await again.json())["manifest_url"] == manifest
        clock[0] = 3600.0  # the window is over: the sweep releases it
        await kit.app[keys.PLAYBACK].sweep()
        async with kit.upstream.session.get(manifest) as r:
            assert r.status == 403


async def _opened_stream_tokens(kit: Any) -> int:
    """Play calls the simulator answered 200 (each opened a stream token)."""
    async with kit.upstream.session.get(f"{kit.sim_url}/_sim/stats") as r:
        stats = await r.json()
    return int(stats["paths"].get(PLAY, {}).get("statuses", {}).get("200", 0))


@pytest.mark.parametrize("manifest", ["unavailable", "unplayable"])
async def test_a_stream_whose_manifest_fails_is_released_upstream(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch, manifest: str
) -> None:
    """The play call opened a stream token but no grant came of it: it is released at once
    (it would hold one of the account's streams until it expired)."""
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        playback = kit.app[keys.PLAYBACK]
        if manifest == "unavailable":
            await kit.fault(path_prefix="/playback/manifests", status=503)
        else:

            async def unplayable(*args: Any) -> str:
                return "#EXTM3U\n#EXT-X-VERSION:3\n"

            monkeypatch.setattr(kit.upstream, "fetch_manifest", unplayable)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status in (502, 503), await resp.text()
        assert resp.content_type == "application/problem+json"
        await playback.drain()
        assert await _opened_stream_tokens(kit) == 1 and playback.released == 1


@pytest.mark.parametrize(
    "session_doc",
    [None, "not an object", {"sessionExpirationSeconds": True}, {"sessionExpirationSeconds": 0}],
)
async def test_a_play_answer_without_a_usable_expiry_gets_the_default_window(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch, session_doc: Any
) -> None:
    free1, _, _ = episodes()
    now = float(int(time.time()))
    async with make_kit(wall_clock=lambda: now) as kit:
        token = await kit.login(DEMO)
        real = kit.upstream.play

        async def odd_session(*args: Any, **kwargs: Any) -> Any:
            playback = await real(*args, **kwargs)
            raw = {k: v for k, v in playback.raw.items() if k != "session"}
            if session_doc is not None:
                raw["session"] = session_doc
            return replace(playback, raw=raw)

        monkeypatch.setattr(kit.upstream, "play", odd_session)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        expires = datetime.fromisoformat((await resp.json())["expires_at"].replace("Z", "+00:00"))
        assert expires.timestamp() == now + 600  # the default: ten minutes


async def test_a_release_upstream_refuses_is_logged_and_not_counted(
    make_kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        manifest = (await resp.json())["manifest_url"]
        await kit.fault(path_prefix="/playback/v1/token", status=503)
        stop = await kit.client.delete(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert stop.status == 204  # the grant is gone here; upstream lets the token expire
        playback = kit.app[keys.PLAYBACK]
        assert playback.released == 0
        assert f"stream release failed for {free1}:" in caplog.text
        await kit.clear_faults()
        async with kit.upstream.session.get(manifest) as r:
            assert r.status == 200  # still open upstream


async def test_a_refusal_other_than_premium_passes_through_as_it_is(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A region-locked episode (a JSON 403 without the premium code) is not called premium."""
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)

        async def region_locked(*args: Any, **kwargs: Any) -> Any:
            raise UpstreamForbidden(
                "not available in your region", upstream_status=403, code="playback.geo_blocked"
            )

        monkeypatch.setattr(kit.upstream, "play", region_locked)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 403
        assert "premium" not in (await resp.json())["detail"]
        assert kit.app[keys.PLAYBACK].opened == 0
