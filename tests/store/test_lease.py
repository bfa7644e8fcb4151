"""The PostgreSQL lease (`kensho.store.lease`): one holder, expiry, fencing token."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import psycopg2
import pytest

from kensho.store.lease import LeaseStore, holder_id, lease_lost
from kensho.store.pool import transaction


async def _expired(store: LeaseStore) -> None:
    """Until the database's clock passed the lease's expiry (polled: expiry is the server's)."""
    for _ in range(200):
        if not (await store.state()).held:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the lease never expired")


def _name() -> str:
    return f"test-{secrets.token_hex(4)}"  # tests share the session database


async def test_one_holder_at_a_time(db_pool: Any) -> None:
    name = _name()
    a, b = LeaseStore(db_pool, name, "a", 30), LeaseStore(db_pool, name, "b", 30)
    lease = await a.try_acquire()
    assert lease is not None and lease.holder == "a" and lease.token == 1
    assert await b.try_acquire() is None
    assert await a.try_acquire() is None  # not re-entrant: one run per lease
    state = await b.state()
    assert state.held and state.holder == "a" and state.token == 1
    assert state.expires_at == lease.expires_at and 0 < state.remaining <= 30


async def test_release_lets_the_next_holder_in_with_a_new_token(db_pool: Any) -> None:
    name = _name()
    a, b = LeaseStore(db_pool, name, "a", 30), LeaseStore(db_pool, name, "b", 30)
    first = await a.try_acquire()
    assert first is not None
    assert await a.release(first) is True
    state = await a.state()
    assert not state.held and state.holder is None and state.expires_at is None
    second = await b.try_acquire()
    assert second is not None and second.token == first.token + 1


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(
    db_pool: Any,
) -> None:
    name = _name()
    crashed = LeaseStore(db_pool, name, "crashed", 0.2)
    other = LeaseStore(db_pool, name, "other", 30)
    old = await crashed.try_acquire()
    assert old is not None
    await _expired(other)
    new = await other.try_acquire()
    assert new is not None and new.token == old.token + 1
    assert await crashed.renew(old) is None
    assert await crashed.release(old) is False
    assert (await other.state()).holder == "other"


async def test_renew_extends_and_an_expired_but_untaken_lease_is_still_ours(db_pool: Any) -> None:
    name = _name()
    store = LeaseStore(db_pool, name, "a", 0.2)
    lease = await store.try_acquire()
    assert lease is not None
    await _expired(store)
    renewed = await store.renew(lease)  # nobody took it: same token, new expiry
    assert renewed is not None and renewed.token == lease.token
    assert renewed.expires_at > lease.expires_at
    assert (await store.state()).held


async def test_the_fence_refuses_writes_after_a_takeover(db_pool: Any) -> None:
    name = _name()
    old_store = LeaseStore(db_pool, name, "old", 0.2)
    old = await old_store.try_acquire()
    assert old is not None
    async with transaction(db_pool) as cur:
        await cur.execute(*old.fence)  # current: passes
    await _expired(old_store)
    assert await LeaseStore(db_pool, name, "new", 30).try_acquire() is not None
    with pytest.raises(psycopg2.Error) as caught:
        async with transaction(db_pool) as cur:
            await cur.execute(*old.fence)
    assert lease_lost(caught.value)
    assert not lease_lost(RuntimeError("x"))


async def test_a_takeover_waits_for_a_fenced_transaction_to_end(db_pool: Any) -> None:
    """The fence locks the row: the new holder starts only after the old page committed."""
    name = _name()
    old_store = LeaseStore(db_pool, name, "old", 0.3)
    old = await old_store.try_acquire()
    assert old is not None
    async with transaction(db_pool) as cur:
        await cur.execute(*old.fence)
        await _expired(old_store)
        takeover = asyncio.create_task(LeaseStore(db_pool, name, "new", 30).try_acquire())
        await asyncio.sleep(0.3)  # give it every chance to (wrongly) get through
        assert not takeover.done()
    lease = await asyncio.wait_for(takeover, 10)
    assert lease is not None and lease.holder == "new"


def test_holder_ids_differ_per_call_and_a_lease_needs_a_ttl(db_pool: Any) -> None:
    assert holder_id() != holder_id()
    with pytest.raises(ValueError, match="positive"):
        LeaseStore(db_pool, "x", "a", 0)
