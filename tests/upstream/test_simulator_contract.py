"""The client against the real simulator: auth, content, play/release, 420, faults, breaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from kensho.catalog import load_catalog
from kensho.errors import CircuitOpen
from kensho.upstream import errors as e
from kensho.upstream.breaker import BreakerConfig, BreakerState, CircuitBreaker
from kensho.upstream.gate import LocalBreakerGate
from kensho.upstream.simulator import running_simulator

from .conftest import Harness


@pytest.fixture
async def sim() -> AsyncIterator[str]:
    async with running_simulator() as url:
        yield url


async def fault(url: str, **doc: object) -> None:
    async with aiohttp.ClientSession() as s:
        if doc:
            async with s.post(f"{url}/_sim/faults", json=doc) as r:
                assert r.status == 201, await r.text()
        else:
            async with s.delete(f"{url}/_sim/faults") as r:
                assert r.status < 300


def series_id() -> str:
    return load_catalog().entries[0].series_id


async def test_login_content_play_release(sim: str, make_client: Callable[..., Harness]) -> None:
    h = make_client(sim)
    async with h.client as c:
        premium = await c.password_grant("demo@kensho.dev", "kensho-demo")
        assert premium.premium and premium.account_id and premium.refresh_token
        free = await c.password_grant("free@kensho.dev", "kensho-free")
        assert not free.premium
        rotated = await c.refresh_grant(premium.refresh_token, premium.device_id)
        assert rotated.refresh_token and rotated.refresh_token != premium.refresh_token
        with pytest.raises(e.InvalidCredentials):
            await c.password_grant("demo@kensho.dev", "wrong")
        anon = await c.fetch_json(f"/content/v2/cms/series/{series_id()}")
        assert anon["data"][0]["id"] == series_id()
        seasons = await c.get_json(f"/content/v2/cms/series/{series_id()}/seasons", None, rotated)
        season = seasons["data"][0]["id"]
        episodes = await c.get_json(f"/content/v2/cms/seasons/{season}/episodes", None, rotated)
        free_eps = [x["id"] for x in episodes["data"] if not x.get("is_premium_only")]
        episode = free_eps[0] if free_eps else episodes["data"][0]["id"]
        playback = await c.play(episode, rotated)
        assert playback.stream_token and playback.manifest_url.startswith("http")
        manifest = await c.fetch_manifest(playback, rotated)
        assert manifest.startswith("#EXTM3U") or "<MPD" in manifest
        await c.release_stream(episode, playback.stream_token, rotated)
        await c.release_stream(episode, playback.stream_token, rotated)  # twice is harmless


async def test_stream_limit_is_a_420_with_active_streams(
    sim: str, make_client: Callable[..., Harness]
) -> None:
    h = make_client(sim)
    async with h.client as c:
        free = await c.password_grant("free@kensho.dev", "kensho-free")
        sid = series_id()
        seasons = await c.get_json(f"/content/v2/cms/series/{sid}/seasons", None, free)
        eps = await c.get_json(
            f"/content/v2/cms/seasons/{seasons['data'][0]['id']}/episodes", None, free
        )
        ids = [x["id"] for x in eps["data"] if not x.get("is_premium_only")]
        if len(ids) < 2:
            pytest.skip("first catalog season has fewer than two free episodes")
        await c.play(ids[0], free)
        with pytest.raises(e.TooManyActiveStreams) as info:
            await c.play(ids[1], free)
        assert info.value.active_streams
        assert h.reports[-1].attempts == 1


async def test_injected_faults_are_classified_and_retried(
    sim: str, make_client: Callable[..., Harness]
) -> None:
    h = make_client(sim)
    path = f"/content/v2/cms/series/{series_id()}"
    async with h.client as c:
        await fault(sim, path_prefix="/content", status=503)
        with pytest.raises(e.UpstreamUnavailable):
            await c.fetch_json(path)
        assert h.reports[-1].attempts == 3
        await fault(sim)
        await fault(sim, path_prefix="/content", status=429, retry_after=2)
        with pytest.raises(e.UpstreamRateLimited) as info:
            await c.fetch_json(path)
        assert info.value.retry_after == 2
        assert h.sleeps[-2:] == [2.0, 2.0]
        await fault(sim)
        await fault(sim, path_prefix="/content", mode="reset")
        with pytest.raises(e.UpstreamUnreachable):
            await c.fetch_json(path)
        await fault(sim)
        assert (await c.fetch_json(path))["data"]


async def test_outage_opens_breaker_and_recovers_without_manual_step(
    sim: str, make_client: Callable[..., Harness]
) -> None:
    now = [1000.0]
    breaker = CircuitBreaker(
        BreakerConfig(
            window_size=4, minimum_calls=4, wait_in_open=30.0, permitted_calls_in_half_open=2
        )
    )
    h = make_client(sim, gate=LocalBreakerGate(breaker, clock=lambda: now[0]))
    path = f"/content/v2/cms/series/{series_id()}"
    async with h.client as c:
        await c.fetch_json(path)  # anonymous token while healthy
        await fault(sim, path_prefix="/content", status=503)
        for _ in range(2):
            with pytest.raises((e.UpstreamUnavailable, CircuitOpen)):
                await c.fetch_json(path)
        assert breaker.state(now[0]) is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            await c.fetch_json(path)
        await fault(sim)
        now[0] += 30.0
        assert breaker.state(now[0]) is BreakerState.HALF_OPEN
        await asyncio.gather(c.fetch_json(path), c.fetch_json(path))
        assert breaker.state(now[0]) is BreakerState.CLOSED
