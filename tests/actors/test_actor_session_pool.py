"""The session-pool actor is a cache of PostgreSQL: a restart keeps nothing, loses nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kensho.actors import Supervisor
from kensho.actors import session_pool as pool_actor
from kensho.actors.session_pool import (
    AdoptSession,
    CompleteRefresh,
    CreateSession,
    FailRefresh,
    ForgetSession,
    Invalidate,
    LookupSession,
    NoteStreams,
    RecheckAll,
    RevokeSession,
    Sweep,
    TokenFor,
)
from kensho.config import Config
from kensho.upstream.sessions import Refresh, Use, Wait
from kensho.upstream.tokens import Token

TOKEN = Token("access-1", "refresh-1", 2e9, "acct-1", False, "dev-1")


@pytest.fixture
async def sup() -> AsyncIterator[Supervisor]:
    tree = Supervisor(
        "root", [pool_actor.child_spec(Config())], min_backoff=0.001, max_backoff=0.01
    )
    await tree.start()
    yield tree
    await tree.stop()


async def test_sessions_are_not_kept_across_a_restart(sup: Supervisor) -> None:
    # They live in PostgreSQL: AuthService re-adopts a session the new incarnation lacks.
    handle = sup.handle("session_pool")
    plain, session = await handle.ask(CreateSession("demo", TOKEN))
    assert (await handle.ask(LookupSession(plain))) is not None
    await sup.restart_child("session_pool")
    assert (await handle.ask(LookupSession(plain))) is None
    assert await handle.ask(AdoptSession(session))
    assert (await handle.ask(LookupSession(plain))) == session


async def test_a_revocation_from_another_replica_drops_the_cached_session(
    sup: Supervisor,
) -> None:
    handle = sup.handle("session_pool")
    plain, session = await handle.ask(CreateSession("demo", TOKEN))
    assert (await handle.ask(ForgetSession(session.token_hash))) == session
    assert (await handle.ask(LookupSession(plain))) is None
    assert (await handle.ask(ForgetSession(session.token_hash))) is None


async def test_recheck_all_makes_every_session_due_for_a_re_read(sup: Supervisor) -> None:
    handle = sup.handle("session_pool")
    plain, session = await handle.ask(CreateSession("demo", TOKEN))
    assert (await handle.ask(RecheckAll())) == 1
    assert (await handle.ask(LookupSession(plain))) is None  # the caller re-reads PostgreSQL
    assert await handle.ask(AdoptSession(session))
    assert (await handle.ask(LookupSession(plain))) == session
    assert (await handle.ask(Sweep())).expired_sessions == ()


async def test_a_message_it_does_not_know_is_refused_and_the_pool_lives_on(
    sup: Supervisor,
) -> None:
    handle = sup.handle("session_pool")
    plain, session = await handle.ask(CreateSession("demo", TOKEN))
    with pytest.raises(TypeError, match="SessionPoolActor cannot handle Token"):
        await handle.ask(TOKEN)
    assert handle.stats()["restarts"] == 0
    assert (await handle.ask(LookupSession(plain))) == session


async def test_one_refresh_at_a_time_through_the_actor(sup: Supervisor) -> None:
    handle = sup.handle("session_pool")
    expired = Token("old", "refresh-1", 0.0, "acct-1", False, "dev-1")
    plain, session = await handle.ask(CreateSession("demo", expired))
    first = await handle.ask(TokenFor(plain))
    assert isinstance(first, Refresh) and first.refresh_token == "refresh-1"
    assert await handle.ask(TokenFor(plain)) == Wait(session.token_hash)
    assert handle.summary()["refreshing"] == 1
    # a transient failure releases the lease: the next caller refreshes
    assert await handle.ask(FailRefresh(first.key, first.ticket, permanent=False)) is None
    second = await handle.ask(TokenFor(plain))
    assert isinstance(second, Refresh) and second.ticket != first.ticket
    # the first refresher's late answer is refused; the lease holder's is stored and returned
    assert await handle.ask(CompleteRefresh(first.key, first.ticket, TOKEN, 1)) is None
    stored = await handle.ask(CompleteRefresh(second.key, second.ticket, TOKEN, 1))
    assert stored.upstream == TOKEN and stored.version == 1
    assert await handle.ask(TokenFor(plain)) == Use(TOKEN)
    # an upstream 401 for the current token forces one more refresh
    assert await handle.ask(Invalidate(session.token_hash, TOKEN)) is None
    third = await handle.ask(TokenFor(plain))
    assert isinstance(third, Refresh)
    # a rejected refresh token ends the session
    ended = await handle.ask(FailRefresh(third.key, third.ticket, permanent=True))
    assert ended is not None and ended.username == "demo"
    assert await handle.ask(TokenFor(plain)) is None


async def test_logout_and_the_stream_count_through_the_actor(sup: Supervisor) -> None:
    handle = sup.handle("session_pool")
    plain, session = await handle.ask(CreateSession("demo", TOKEN))
    assert await handle.ask(RevokeSession(plain)) == session
    assert await handle.ask(RevokeSession(plain)) is None
    assert await handle.ask(NoteStreams(3)) is None
    summary = handle.summary()
    assert summary["streams"] == 3 and summary["sessions"] == 0
