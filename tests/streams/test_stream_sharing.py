"""Opening one stream once: the single flight's failures reach every waiter, a fleet lock whose
holder never stores a grant does not wedge the open, a grant that cannot be read is no grant."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from auth.kit import DEMO, FREE, bearer, episodes

from kensho.errors import ServiceUnavailable
from kensho.http import keys
from kensho.upstream.sessions import hash_session_token

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
