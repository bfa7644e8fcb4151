"""SessionPool logic: single refresh in flight, rotation, LRU, expiry, hash-only storage."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from kensho.upstream.sessions import (
    ANONYMOUS,
    PoolConfig,
    Refresh,
    Session,
    SessionPool,
    Use,
    Wait,
)
from kensho.upstream.tokens import Token


def tok(access: str = "a1", refresh: str | None = "r1", expires_at: float = 1300.0) -> Token:
    return Token(access, refresh, expires_at, "acct", True, "dev-1")


def pool(**kw: float) -> SessionPool:
    kw.setdefault("revalidate_after", 1e9)  # re-validation has its own tests below
    return SessionPool(PoolConfig(**kw))  # type: ignore[arg-type]


def test_only_the_hash_is_stored() -> None:
    p = pool()
    plain, session = p.create("demo@kensho.dev", tok(), now=1000.0)
    assert len(plain) == 43  # 32 random bytes, urlsafe base64
    assert session.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    record = session.to_record()
    assert plain not in repr(record) and plain not in repr(session)
    assert "a1" not in repr(session.upstream)  # tokens never appear in a repr
    assert p.lookup(plain, 1000.0) == session


def test_record_round_trip_and_adopt_after_restart() -> None:
    p = pool()
    plain, session = p.create("u", tok(), now=1000.0)
    restored = Session.from_record(session.to_record())
    assert restored == session
    fresh = pool()
    assert fresh.adopt(restored, now=1001.0)
    assert fresh.lookup(plain, 1001.0) == session
    assert not fresh.adopt(restored, now=restored.expires_at + 1)


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "x",
        "a" * 42,
        "a" * 44,
        "a" * 10_000,
        "../../etc/passwd" + "a" * 27,
        "é" * 43,
        "a b" * 14 + "a",
    ],
)
def test_malformed_tokens_find_nothing(hostile: str) -> None:
    p = pool()
    p.create("u", tok(), now=0.0)
    assert p.lookup(hostile, 0.0) is None
    assert p.token_for(hostile, 0.0) is None
    assert p.revoke(hostile) is None


def test_session_expires() -> None:
    p = pool(session_ttl=60.0)
    plain, _ = p.create("u", tok(expires_at=10_000), now=0.0)
    assert p.lookup(plain, 59.0) is not None
    assert p.lookup(plain, 60.0) is None
    assert len(p) == 0


def test_expire_sweep_returns_expired_sessions() -> None:
    p = pool(session_ttl=60.0)
    p.create("old", tok(), now=0.0)
    p.create("new", tok(), now=30.0)
    gone = p.expire(61.0)
    assert [s.username for s in gone] == ["old"]
    assert len(p) == 1


def test_lru_eviction_keeps_recently_used() -> None:
    p = pool(max_sessions=2)
    a, _ = p.create("a", tok(), now=0.0)
    b, _ = p.create("b", tok(), now=1.0)
    assert p.lookup(a, 2.0) is not None  # a is now the most recently used
    p.create("c", tok(), now=3.0)
    assert p.lookup(b, 4.0) is None
    assert p.lookup(a, 4.0) is not None
    assert [s.username for s in p.take_evicted()] == ["b"]
    assert p.take_evicted() == []
    assert p.summary()["evictions"] == 1


def test_one_refresh_in_flight_per_session_and_rotation_kept() -> None:
    p = pool(refresh_margin=30.0)
    plain, session = p.create("u", tok(expires_at=1000.0), now=0.0)
    assert isinstance(p.token_for(plain, 900.0), Use)
    first = p.token_for(plain, 980.0)  # inside the margin
    assert isinstance(first, Refresh)
    assert first.refresh_token == "r1" and first.device_id == "dev-1"
    assert p.token_for(plain, 980.5) == Wait(session.token_hash)
    assert p.token_for(plain, 981.0) == Wait(session.token_hash)
    assert p.complete_refresh(first.key, first.ticket, tok("a2", "r2", 1300.0))
    decision = p.token_for(plain, 982.0)
    assert isinstance(decision, Use)
    assert decision.token.access_token == "a2"
    assert decision.token.refresh_token == "r2"  # the rotated refresh token is kept


def test_refresh_without_rotation_keeps_old_refresh_token() -> None:
    p = pool()
    plain, _ = p.create("u", tok(expires_at=0.0), now=0.0)
    r = p.token_for(plain, 1.0)
    assert isinstance(r, Refresh)
    p.complete_refresh(r.key, r.ticket, tok("a2", None, 999.0))
    d = p.token_for(plain, 2.0)
    assert isinstance(d, Use) and d.token.refresh_token == "r1"


def test_lost_lease_lets_another_caller_refresh() -> None:
    p = pool(refresh_timeout=15.0)
    plain, _ = p.create("u", tok(expires_at=0.0), now=0.0)
    first = p.token_for(plain, 1.0)
    assert isinstance(p.token_for(plain, 15.9), Wait)
    second = p.token_for(plain, 16.0)  # the first refresher died
    assert isinstance(first, Refresh) and isinstance(second, Refresh)
    assert second.ticket != first.ticket
    assert not p.complete_refresh(first.key, first.ticket, tok("late")), "stale ticket wins"
    assert p.complete_refresh(second.key, second.ticket, tok("a3", "r3", 999.0))


def test_transient_failure_releases_lease_permanent_ends_session() -> None:
    p = pool()
    plain, _ = p.create("u", tok(expires_at=0.0), now=0.0)
    r = p.token_for(plain, 1.0)
    assert isinstance(r, Refresh)
    assert p.fail_refresh(r.key, r.ticket, permanent=False) is None
    r2 = p.token_for(plain, 1.1)
    assert isinstance(r2, Refresh)
    ended = p.fail_refresh(r2.key, r2.ticket, permanent=True)
    assert ended is not None and ended.username == "u"
    assert p.token_for(plain, 1.2) is None


def test_upstream_401_forces_exactly_one_refresh() -> None:
    p = pool()
    plain, session = p.create("u", tok(expires_at=10_000.0), now=0.0)
    used = p.token_for(plain, 1.0)
    assert isinstance(used, Use)
    p.invalidate(session.token_hash, used.token)
    r = p.token_for(plain, 1.0)
    assert isinstance(r, Refresh)
    assert isinstance(p.token_for(plain, 1.0), Wait)
    p.complete_refresh(r.key, r.ticket, tok("a2", "r2", 10_000.0))
    # a second 401 carrying the OLD token must not trigger another refresh
    p.invalidate(session.token_hash, used.token)
    assert isinstance(p.token_for(plain, 2.0), Use)


def test_anonymous_token_single_flight() -> None:
    p = pool()
    first = p.anonymous(0.0)
    assert isinstance(first, Refresh) and first.key == ANONYMOUS and first.refresh_token is None
    assert p.anonymous(0.1) == Wait(ANONYMOUS)
    p.complete_refresh(ANONYMOUS, first.ticket, tok("anon", None, 300.0))
    d = p.anonymous(1.0)
    assert isinstance(d, Use) and d.token.access_token == "anon"
    assert isinstance(p.anonymous(271.0), Refresh)  # within the 30 s margin


def test_revoke_removes_session() -> None:
    p = pool()
    plain, _ = p.create("u", tok(), now=0.0)
    assert p.revoke(plain) is not None
    assert p.lookup(plain, 0.0) is None
    assert p.revoke(plain) is None


def test_a_cached_session_is_due_for_a_re_read_after_revalidate_after() -> None:
    p = pool(revalidate_after=5.0)
    plain, session = p.create("u", tok(expires_at=1e6), now=0.0)
    assert p.lookup(plain, 5.0) == session
    assert p.lookup(plain, 5.1) is None  # the caller re-reads PostgreSQL and re-adopts
    assert p.token_for(plain, 5.1) is None
    assert p.adopt(session, 5.1)
    assert p.lookup(plain, 10.0) == session


def test_an_older_stored_copy_never_rolls_a_fresh_refresh_back() -> None:
    p = pool(refresh_margin=30.0)
    plain, session = p.create("u", tok(expires_at=0.0), now=0.0)
    decision = p.token_for(plain, 1.0)
    assert isinstance(decision, Refresh) and decision.version == 0
    fresh = tok(access="a2", refresh="r2", expires_at=1e6)
    assert p.complete_refresh(decision.key, decision.ticket, fresh, 1, now=1.0)
    assert p.adopt(session, 2.0)  # a re-read that raced our own save: version 0 < 1
    found = p.lookup(plain, 2.0)
    assert found is not None and found.upstream == fresh and found.version == 1


def test_forget_drops_a_session_revoked_elsewhere() -> None:
    p = pool()
    plain, session = p.create("u", tok(expires_at=1e6), now=0.0)
    assert p.forget(session.token_hash) == session
    assert p.lookup(plain, 1.0) is None and p.forget(session.token_hash) is None


@pytest.mark.parametrize(
    "leave",
    [
        pytest.param(lambda p, plain, s: p.revoke(plain), id="logout"),
        pytest.param(lambda p, plain, s: p.forget(s.token_hash), id="revoked-elsewhere"),
        pytest.param(lambda p, plain, s: p.expire(s.expires_at), id="expiry-sweep"),
        pytest.param(lambda p, plain, s: p.lookup(plain, s.expires_at), id="expired-on-lookup"),
        pytest.param(lambda p, plain, s: p.create("other", tok(), now=2.0), id="lru-eviction"),
    ],
)
def test_a_session_that_leaves_memory_mid_refresh_takes_its_lease_along(
    leave: Callable[[SessionPool, str, Session], object],
) -> None:
    p = pool(max_sessions=1)
    plain, session = p.create("u", tok(expires_at=0.0), now=0.0)
    r = p.token_for(plain, 1.0)
    assert isinstance(r, Refresh)
    leave(p, plain, session)
    assert p.summary()["refreshing"] == 0
    # the refresher's answer comes back to nothing: refused, and nothing is resurrected
    assert not p.complete_refresh(r.key, r.ticket, tok("a2", "r2", 1e6), 1, now=3.0)
    assert p.lookup(plain, 3.0) is None
    assert p.fail_refresh(r.key, r.ticket, permanent=True) is None
