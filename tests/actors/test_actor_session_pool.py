"""The session-pool actor across a restart: stream grants are taken over, sessions re-adopted."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest

from kensho.actors import Supervisor
from kensho.actors import session_pool as pool_actor
from kensho.actors.session_pool import (
    CreateSession,
    GetStream,
    LookupSession,
    PutStream,
    StreamGrant,
    Sweep,
)
from kensho.config import Config
from kensho.upstream.tokens import Token

TOKEN = Token("access-1", "refresh-1", 2e9, "acct-1", False, "dev-1")


def _grant(key: str, episode: str, *, until: float) -> StreamGrant:
    return StreamGrant(
        session_key=key,
        episode_id=episode,
        stream_token=f"stream-{episode}",
        master_url="https://example.test/master.m3u8",
        variants={"1080p": ("https://example.test/1080.m3u8", 5_000_000)},
        subtitles=(),
        expires_at=until + 60,
        cache_until=until,
        token=TOKEN,
    )


@pytest.fixture
async def sup() -> AsyncIterator[Supervisor]:
    tree = Supervisor(
        "root", [pool_actor.child_spec(Config())], min_backoff=0.001, max_backoff=0.01
    )
    await tree.start()
    yield tree
    await tree.stop()


async def test_stream_grants_survive_a_restart(
    sup: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    handle = sup.handle("session_pool")
    later = time.time() + 600
    await handle.ask(PutStream(_grant("s1", "e1", until=later)))
    await handle.ask(PutStream(_grant("s1", "e2", until=later)))
    with caplog.at_level(logging.WARNING):
        handle.tell("not a session-pool message")  # a tell that raises kills the actor
        await sup.idle()
        grant = await handle.ask(GetStream("s1", "e1"))
    assert handle.stats()["restarts"] == 1
    assert grant is not None and grant.stream_token == "stream-e1"
    assert handle.summary()["streams"] == 2
    assert any("took over 2 stream grant(s)" in r.getMessage() for r in caplog.records)
    # …and they are still released as before, e.g. once their cache window is over
    result = await handle.ask(Sweep())
    assert result.released == ()


async def test_sessions_are_not_kept_across_a_restart(sup: Supervisor) -> None:
    # They live in PostgreSQL: AuthService re-adopts a session the new incarnation lacks.
    handle = sup.handle("session_pool")
    plain, _session = await handle.ask(CreateSession("demo", TOKEN))
    assert (await handle.ask(LookupSession(plain))) is not None
    await sup.restart_child("session_pool")
    assert (await handle.ask(LookupSession(plain))) is None


def test_memory_hands_each_incarnation_a_dict_of_its_own() -> None:
    memory = pool_actor.SessionPoolMemory()
    first = memory.take_over()
    first["s"] = {"e": _grant("s", "e", until=1.0)}
    second = memory.take_over()
    assert second == first and second is not first
    first["late"] = {}  # a wedged predecessor writing on cannot reach its successor
    assert "late" not in memory.streams
