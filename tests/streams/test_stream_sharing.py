"""Opening one stream once: the single flight's failures reach every waiter, a fleet lock whose
holder never stores a grant does not wedge the open, a grant that cannot be read is no grant."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from auth.kit import DEMO, FREE, bearer, episodes, kensho_app
from redisproc import RedisProcess

from kensho.actors.session_pool import NoteStreams
from kensho.auth.grants import StreamGrant
from kensho.auth.playback import PlaybackService
from kensho.errors import ActorStopped, ServiceUnavailable, UpstreamError
from kensho.http import keys
from kensho.upstream.sessions import hash_session_token
from kensho.upstream.tokens import Token

pytestmark = pytest.mark.usefixtures("redis_client")
PLAY = "/playback/v3/{id}/{device}/{platform}/play"


async def _plays(kit: Any) -> int:
    async with kit.upstream.session.get(f"{kit.sim_url}/_sim/stats") as r:
        stats = await r.json()
    return int(stats["paths"].get(PLAY, {}).get("count", 0))


async def test_a_failed_open_fails_every_request_that_shared_it(make_kit: Any) -> None:
    _, _, premium = episodes()
    async with make_kit() as kit:
        token = await kit.login(FREE)
        results = await asyncio.gather(
            *(
                kit.client.get(f"/api/episodes/{premium}/stream", headers=bearer(token))
                for _ in "123"
            )
        )
        assert [r.status for r in results] == [403, 403, 403]
        assert await _plays(kit) == 1
        assert kit.app[keys.PLAYBACK].shared == 2


async def test_a_lock_whose_holder_stores_nothing_expires_into_our_own_open(
    make_kit: Any, redis_client: Any, redis_prefix: str
) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        playback = kit.app[keys.PLAYBACK]
        playback._lock_seconds = 0.2
        key = hash_session_token(token)
        # a replica took the lock and died: it never stores a grant, never unlocks
        await redis_client.set(f"{redis_prefix}stream-open:{key}:{free1}", "dead", px=60_000)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        assert await _plays(kit) == 1 and playback.opened == 1
        # the dead holder's lock is not ours to delete
        assert await redis_client.get(f"{redis_prefix}stream-open:{key}:{free1}") == b"dead"


async def test_a_grant_that_cannot_be_read_is_opened_again(make_kit: Any, db_pool: Any) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        first = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert first.status == 200
        async with db_pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                'UPDATE kensho_stream_grants SET token = \'{"v": 1, "fernet": "garbage"}\' '
                "WHERE session_hash = %s",
                (hash_session_token(token),),
            )
        again = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert again.status == 200
        playback = kit.app[keys.PLAYBACK]
        assert playback.grants.unreadable >= 1 and playback.opened == 2


@pytest.mark.parametrize("behaviour", ["hangs", "fails"])
async def test_the_last_sweep_at_shutdown_never_holds_or_fails_the_drain(
    make_kit: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    behaviour: str,
) -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    async def fails() -> None:
        raise ServiceUnavailable("database unavailable")

    async with make_kit(shutdown_timeout=0.2) as kit:
        playback = kit.app[keys.PLAYBACK]
        monkeypatch.setattr(playback, "sweep", hangs if behaviour == "hangs" else fails)
    # leaving the block ran the app's cleanup to its end
    if behaviour == "fails":
        assert "the last stream sweep failed: ServiceUnavailable" in caplog.text


@pytest.mark.parametrize("holder", ["keeps its lock", "unlocks"])
async def test_a_grant_the_lock_holder_stores_is_used_by_the_replica_waiting_for_it(
    make_kit: Any,
    redis_client: Any,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    holder: str,
) -> None:
    """Another replica holds the lock and stores the grant while we wait: we use its grant
    (found by a poll, or after we got the lock it released), never a play call of our own."""
    free1, free2, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        key = hash_session_token(token)
        playback = kit.app[keys.PLAYBACK]
        assert (await kit.client.get(f"/api/episodes/{free2}/stream", headers=bearer(token))).ok
        theirs = await playback.grants.get(key, free2, time.time())
        assert theirs is not None
        lock = f"{redis_prefix}stream-open:{key}:{free1}"
        await redis_client.set(lock, "other", px=60_000)
        real_get = playback.grants.get
        reads: list[str] = []

        async def get(k: str, episode: str, now: float) -> Any:
            found = await real_get(k, episode, now)
            reads.append(episode)
            if reads.count(free1) == 2:  # our first poll missed: now the holder finishes
                await playback.grants.put(replace(theirs, episode_id=free1))
                if holder == "unlocks":
                    await redis_client.delete(lock)
            return found

        monkeypatch.setattr(playback.grants, "get", get)
        plays = await _plays(kit)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["manifest_url"] in {u for u, _ in theirs.variants.values()}
        assert await _plays(kit) == plays and playback.opened == 1 and playback.shared == 1


async def test_without_redis_a_stream_opens_with_no_fleet_lock(
    make_kit: Any, redis_client: Any, redis_prefix: str
) -> None:
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        playback = kit.app[keys.PLAYBACK]
        playback._redis = None  # no Redis configured: the single flight of this replica only
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200 and playback.opened == 1 and await _plays(kit) == 1
        assert not [k async for k in redis_client.scan_iter(match=f"{redis_prefix}stream-open:*")]


async def test_redis_lost_while_the_lock_is_held_still_answers_the_stream(
    aiohttp_client: Any,
    db_pool: Any,
    redis_server: RedisProcess,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unlock fails (Redis went away mid-open): the lock expires by itself, the stream is
    answered."""
    free1, _, _ = episodes()
    async with kensho_app(aiohttp_client, db_pool, redis_server.url, redis_prefix) as kit:
        token = await kit.login(DEMO)
        entered, go = asyncio.Event(), asyncio.Event()
        real = kit.upstream.play

        async def held_play(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            await go.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(kit.upstream, "play", held_play)
        pending = asyncio.ensure_future(
            kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        )
        await asyncio.wait_for(entered.wait(), 10)  # under the fleet lock now
        redis_server.stop()
        go.set()
        resp = await pending
        assert resp.status == 200, await resp.text()
        assert kit.app[keys.PLAYBACK].opened == 1


def test_a_grant_without_a_playable_quality_is_an_upstream_error() -> None:
    token = Token("a", None, 2e9, "acct", False, "dev")
    empty = StreamGrant("k", "E1", "st", "", {}, (), 0.0, 0.0, token)
    with pytest.raises(UpstreamError):
        PlaybackService.render(empty, "auto", None)


@pytest.mark.parametrize("failure", ["database down", "actor stopped"])
async def test_a_stream_count_that_cannot_be_noted_never_fails_the_stream(
    make_kit: Any, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """The console's streams figure is best effort: neither PostgreSQL down nor the session
    pool stopped under an open finishing at shutdown fails the stream request."""
    free1, _, _ = episodes()
    async with make_kit() as kit:
        token = await kit.login(DEMO)
        playback = kit.app[keys.PLAYBACK]
        if failure == "database down":

            async def down(now: float) -> int:
                raise ServiceUnavailable("database unavailable", retry_after=1)

            monkeypatch.setattr(playback.grants, "count", down)
        else:
            real_tell = playback.sessions.tell

            def tell(message: Any) -> None:
                if isinstance(message, NoteStreams):
                    raise ActorStopped("session_pool is stopped")
                real_tell(message)

            monkeypatch.setattr(playback.sessions, "tell", tell)
        resp = await kit.client.get(f"/api/episodes/{free1}/stream", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        assert playback.opened == 1
