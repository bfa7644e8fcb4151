"""The session-pool actor is a cache of PostgreSQL: a restart keeps nothing, loses nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kensho.actors import Supervisor
from kensho.actors import session_pool as pool_actor
from kensho.actors.session_pool import (
    AdoptSession,
    CreateSession,
    ForgetSession,
    LookupSession,
    RecheckAll,
    Sweep,
)
from kensho.config import Config
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
