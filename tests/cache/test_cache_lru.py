"""L1 alone: TTL windows, both bounds, CLOCK eviction, counters, lock-free readers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from kensho.cache.lru import Entry, Freshness, LRUCache

if TYPE_CHECKING:
    from tests.cache.conftest import FakeClock


def entry(clock: FakeClock, value: bytes = b"v", ttl: float = 10, stale: float = 0) -> Entry:
    return Entry.create(value, clock(), ttl, stale)


def test_hit_and_miss_are_counted(clock: FakeClock) -> None:
    lru = LRUCache(clock=clock)
    assert lru.get(b"k") is None
    lru.set(b"k", entry(clock, b"hello"))
    got = lru.get(b"k")
    assert got is not None and got.value == b"hello"
    assert (lru.stats.hits, lru.stats.misses) == (1, 1)


def test_windows_fresh_stale_error_expired(clock: FakeClock) -> None:
    e = Entry.create(b"v", clock(), ttl=10, stale_ttl=5, error_ttl=60)
    assert e.freshness(clock() + 9.99) is Freshness.FRESH
    assert e.freshness(clock() + 10) is Freshness.STALE
    assert e.freshness(clock() + 15) is Freshness.ERROR_ONLY
    assert e.freshness(clock() + 70) is Freshness.EXPIRED


def test_ttl_expiry_without_sleeping(clock: FakeClock) -> None:
    lru = LRUCache(clock=clock)
    lru.set(b"k", entry(clock, ttl=10, stale=5))
    clock.advance(12)
    assert lru.get(b"k") is not None
    assert lru.stats.stale_hits == 1
    clock.advance(10)
    assert lru.get(b"k") is None
    assert lru.purge_expired() == 1
    assert len(lru) == 0 and lru.size_bytes == 0


def test_entry_bound_evicts_least_recently_used(clock: FakeClock) -> None:
    lru = LRUCache(max_entries=3, clock=clock)
    for k in (b"a", b"b", b"c"):
        lru.set(k, entry(clock))
    assert lru.get(b"a") is not None  # a is recently used, b is not
    lru.set(b"d", entry(clock))
    assert b"b" not in lru
    assert {b"a", b"c", b"d"} == set(lru)
    assert lru.stats.evictions == 1


def test_byte_bound(clock: FakeClock) -> None:
    lru = LRUCache(max_entries=100, max_bytes=10, clock=clock)
    lru.set(b"a", entry(clock, b"1234"))
    lru.set(b"b", entry(clock, b"5678"))
    lru.set(b"c", entry(clock, b"9abc"))
    assert lru.size_bytes <= 10
    assert b"a" not in lru and b"c" in lru
    assert lru.size_bytes == sum(len(e.value) for k in lru if (e := lru.peek(k)) is not None)


def test_oversized_value_is_rejected_and_replaces_nothing(clock: FakeClock) -> None:
    lru = LRUCache(max_bytes=8, clock=clock)
    lru.set(b"k", entry(clock, b"small"))
    assert lru.set(b"k", entry(clock, b"x" * 9)) is False
    assert b"k" not in lru  # the old value must not survive a failed overwrite
    assert lru.stats.rejected == 1 and lru.size_bytes == 0


def test_replacing_keeps_byte_count_exact(clock: FakeClock) -> None:
    lru = LRUCache(clock=clock)
    lru.set(b"k", entry(clock, b"abc"))
    lru.set(b"k", entry(clock, b"abcdef"))
    assert lru.size_bytes == 6 and len(lru) == 1


def test_expired_entries_are_evicted_before_live_ones(clock: FakeClock) -> None:
    lru = LRUCache(max_entries=2, clock=clock)
    lru.set(b"old", entry(clock, ttl=1))
    lru.set(b"live", entry(clock, ttl=100))
    clock.advance(5)
    lru.set(b"new", entry(clock, ttl=100))
    assert set(lru) == {b"live", b"new"}
    assert lru.stats.evictions == 0 and lru.stats.expirations == 1


def test_delete_matching_and_clear(clock: FakeClock) -> None:
    lru = LRUCache(clock=clock)
    for k in (b"x:1", b"x:2", b"y:1"):
        lru.set(k, entry(clock))
    assert lru.delete_matching(lambda k: k.startswith(b"x:")) == 2
    lru.clear()
    assert len(lru) == 0 and lru.size_bytes == 0


def test_delete_says_whether_the_key_was_there(clock: FakeClock) -> None:
    lru = LRUCache(clock=clock)
    lru.set(b"k", entry(clock, b"12345"))
    assert lru.delete(b"absent") is False and len(lru) == 1
    assert lru.delete(b"k") is True
    assert lru.delete(b"k") is False
    assert len(lru) == 0 and lru.size_bytes == 0


def test_invalid_bounds() -> None:
    with pytest.raises(ValueError):
        LRUCache(max_entries=0)


def test_readers_on_other_threads_while_the_owner_writes(clock: FakeClock) -> None:
    lru = LRUCache(max_entries=50, max_bytes=10_000, clock=clock)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                for i in range(200):
                    got = lru.get(str(i).encode())
                    if got is not None and got.value != str(i).encode():
                        raise AssertionError("value does not belong to its key")
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for n in range(5000):
        k = str(n % 200).encode()
        lru.set(k, entry(clock, k))
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert len(lru) <= 50


def test_inserts_into_a_full_cache_do_not_scan_it(clock: FakeClock) -> None:
    # The work behind a write grows with the writes, never with the size of the cache: a
    # full scan per insert cost 4.3 ms at 10,000 entries (on the event loop).
    lru = LRUCache(max_entries=10_000, clock=clock)
    for i in range(10_000):
        lru.set(b"k%d" % i, entry(clock, ttl=3600))
    for i in range(10_000):
        if i % 3 == 0:
            lru.get(b"k%d" % i)  # some reference bits to clear
    lru.stats.scanned = 0
    for i in range(1_000):
        lru.set(b"new%d" % i, entry(clock, ttl=3600))
    assert len(lru) == 10_000 and lru.stats.evictions == 1_000
    assert lru.stats.scanned <= 3 * 1_000 + 10_000 // 3  # each reference bit is used up once


def test_purge_expired_drops_a_bounded_slice(clock: FakeClock) -> None:
    lru = LRUCache(clock=clock)
    for i in range(100):
        lru.set(b"short%d" % i, entry(clock, ttl=1))
        lru.set(b"long%d" % i, entry(clock, ttl=1000))
    lru.set(b"short0", entry(clock, ttl=1000))  # replaced: its old deadline no longer counts
    clock.advance(5)
    assert lru.purge_expired(limit=40) == 40
    assert lru.purge_expired(limit=40) == 40
    assert lru.purge_expired() == 19
    assert lru.purge_expired() == 0
    assert len(lru) == 101 and b"short0" in lru
    assert lru.stats.expirations == 99


def test_the_deadline_heap_stays_proportional_to_the_entries(clock: FakeClock) -> None:
    lru = LRUCache(max_entries=10, clock=clock)
    for _ in range(1000):
        lru.set(b"same", entry(clock, ttl=60))  # every overwrite leaves a dead heap item
    assert len(lru._deadlines) <= 2 * len(lru) + 64
