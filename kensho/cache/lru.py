"""L1: the in-process cache, bounded by entry count and bytes, with stale retention.

One owner writes (the event loop task running `CacheService`, or the cache actor); any thread
may read without a lock (ARCHITECTURE.md rule 3). Reads therefore never reorder shared
structures: a read looks the key up in a plain dict (atomic under the GIL) and sets the
entry's `referenced` flag. Eviction is CLOCK ("second chance"), an approximation of LRU that
only the owner runs: it walks a separate ring in insertion order, gives referenced entries one
more lap and evicts the first unreferenced one. Readers never touch the ring, so a re-queued
entry never disappears from the dict they read.

Every operation the owner runs is O(1) amortised, or O(log n) for the expiry heap: an insert
into a full cache first drops entries past their last deadline from the top of a min-heap of
deadlines, then runs CLOCK steps (each second chance uses up a reference bit a read set, so the
steps are paid for by earlier reads). Nothing scans every entry on the hot path;
`purge_expired(limit)` lets the owner drop expired entries a bounded slice at a time.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["Entry", "Freshness", "LRUCache", "LRUStats"]

Clock = Callable[[], float]


class Freshness(enum.Enum):
    """Where an entry stands at a given instant."""

    FRESH = "fresh"  # serve it
    STALE = "stale"  # serve it and revalidate in the background (stale-while-revalidate)
    ERROR_ONLY = "error_only"  # serve it only when a reload fails (stale-if-error)
    EXPIRED = "expired"  # gone


@dataclass(frozen=True, slots=True)
class Entry:
    """An immutable cached value with its three deadlines (wall-clock seconds)."""

    value: bytes
    fresh_until: float
    stale_until: float
    expire_at: float

    def freshness(self, now: float) -> Freshness:
        """Classify the entry at `now`."""
        if now < self.fresh_until:
            return Freshness.FRESH
        if now < self.stale_until:
            return Freshness.STALE
        if now < self.expire_at:
            return Freshness.ERROR_ONLY
        return Freshness.EXPIRED

    @classmethod
    def create(
        cls, value: bytes, now: float, ttl: float, stale_ttl: float = 0.0, error_ttl: float = 0.0
    ) -> Entry:
        """Build an entry fresh for `ttl`, then stale for `stale_ttl`, kept for errors up to
        `error_ttl` after it went stale (`error_ttl` shorter than `stale_ttl` counts as equal)."""
        fresh_until = now + max(0.0, ttl)
        stale_until = fresh_until + max(0.0, stale_ttl)
        expire_at = max(stale_until, fresh_until + max(0.0, error_ttl))
        return cls(value, fresh_until, stale_until, expire_at)


@dataclass(slots=True)
class _Slot:
    entry: Entry
    referenced: bool = False


@dataclass(slots=True)
class LRUStats:
    """Counters. Readers on several threads may lose an increment; they are for metrics."""

    hits: int = 0
    stale_hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    rejected: int = 0
    #: slots the owner looked at to evict or expire (CLOCK steps and heap pops): the work
    #: behind writes, which must grow with the writes, not with the size of the cache
    scanned: int = 0


@dataclass(slots=True)
class LRUCache:
    """Bounded L1 cache keyed by bytes. `get` is lock-free; every other method is owner-only."""

    max_entries: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    clock: Clock = time.time
    stats: LRUStats = field(default_factory=LRUStats)
    _data: dict[bytes, _Slot] = field(default_factory=dict, init=False, repr=False)
    _ring: OrderedDict[bytes, None] = field(default_factory=OrderedDict, init=False, repr=False)
    #: (expire_at, seq, key, entry), a min-heap; an item whose entry was replaced is skipped
    _deadlines: list[tuple[float, int, bytes, Entry]] = field(
        default_factory=list, init=False, repr=False
    )
    _seq: itertools.count[int] = field(default_factory=itertools.count, init=False, repr=False)
    _bytes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.max_entries < 1 or self.max_bytes < 1:
            raise ValueError("LRUCache bounds must be positive")

    # -- reads: any thread, no lock -----------------------------------------------------------
    def get(self, key: bytes) -> Entry | None:
        """The entry unless it has fully expired; counts a hit, stale hit or miss.

        An ERROR_ONLY entry is returned (the caller may need it if a reload fails) but counted
        as a miss, because the caller must reload.
        """
        slot = self._data.get(key)
        if slot is None:
            self.stats.misses += 1
            return None
        entry = slot.entry
        state = entry.freshness(self.clock())
        if state is Freshness.EXPIRED:
            self.stats.misses += 1
            return None
        slot.referenced = True
        if state is Freshness.FRESH:
            self.stats.hits += 1
        elif state is Freshness.STALE:
            self.stats.stale_hits += 1
        else:
            self.stats.misses += 1
        return entry

    def get_fresh(self, key: bytes) -> bytes | None:
        """The value if its entry is fresh (counted as a hit), else None, counting nothing.

        The hot path's read: one call, one clock reading. A caller that gets None falls back
        to `get`, which counts the miss or stale hit.
        """
        slot = self._data.get(key)
        if slot is None:
            return None
        entry = slot.entry
        if not self.clock() < entry.fresh_until:
            return None
        slot.referenced = True
        self.stats.hits += 1
        return entry.value

    def peek(self, key: bytes) -> Entry | None:
        """The entry, expired or not, without counting or marking it (for tests and admin)."""
        slot = self._data.get(key)
        return None if slot is None else slot.entry

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    @property
    def size_bytes(self) -> int:
        """Sum of the stored values' sizes."""
        return self._bytes

    # -- writes: owner only -------------------------------------------------------------------
    def set(self, key: bytes, entry: Entry) -> bool:
        """Store `entry`; evict until both bounds hold. False when the value alone is too big."""
        size = len(entry.value)
        if size > self.max_bytes:
            self.stats.rejected += 1
            self.delete(key)
            return False
        old = self._data.get(key)
        if old is not None:
            self._bytes -= len(old.entry.value)
            # Replace in place: readers see either the old or the new slot, never a gap.
            self._data[key] = _Slot(entry, referenced=old.referenced)
        else:
            self._data[key] = _Slot(entry)
            self._ring[key] = None
        self._bytes += size
        heapq.heappush(self._deadlines, (entry.expire_at, next(self._seq), key, entry))
        if len(self._deadlines) > 2 * len(self._data) + 64:
            self._compact_deadlines()
        self._evict(protect=key)
        return True

    def delete(self, key: bytes) -> bool:
        """Drop `key`; True if it was present."""
        slot = self._data.pop(key, None)
        if slot is None:
            return False
        self._ring.pop(key, None)
        self._bytes -= len(slot.entry.value)
        return True

    def delete_matching(self, match: Callable[[bytes], bool]) -> int:
        """Drop every key for which `match` is true; returns how many."""
        victims = [k for k in list(self._data) if match(k)]
        for key in victims:
            self.delete(key)
        return len(victims)

    def clear(self) -> None:
        """Drop everything (readers see an empty dict, never a half-cleared one)."""
        self._data = {}
        self._ring = OrderedDict()
        self._deadlines = []
        self._bytes = 0

    def purge_expired(self, limit: int | None = None) -> int:
        """Drop entries past their last deadline, at most `limit` of them; returns how many.

        Costs O(log n) per entry dropped (the top of the deadline heap), never a full scan, so
        the owner can call it with a small `limit` on every tick.
        """
        now = self.clock()
        heap = self._deadlines
        dropped = 0
        while heap and heap[0][0] <= now and (limit is None or dropped < limit):
            _at, _seq, key, entry = heapq.heappop(heap)
            self.stats.scanned += 1
            slot = self._data.get(key)
            if slot is not None and slot.entry is entry:
                self._drop(key, slot)
                self.stats.expirations += 1
                dropped += 1
        return dropped

    def __iter__(self) -> Iterator[bytes]:
        """Iterate over a snapshot of the keys."""
        return iter(list(self._data))

    def _over(self) -> bool:
        return len(self._data) > self.max_entries or self._bytes > self.max_bytes

    def _drop(self, key: bytes, slot: _Slot) -> None:
        del self._data[key]
        self._ring.pop(key, None)
        self._bytes -= len(slot.entry.value)

    def _compact_deadlines(self) -> None:
        """Rebuild the heap from live entries (after as many writes as there are entries)."""
        self._deadlines = [
            (s.entry.expire_at, next(self._seq), k, s.entry) for k, s in self._data.items()
        ]
        heapq.heapify(self._deadlines)

    def _evict(self, protect: bytes) -> None:
        if not self._over():
            return
        # Expired entries go first: they cost nothing to lose.
        while self._over() and self.purge_expired(limit=1):
            pass
        laps = 0
        limit = 2 * (len(self._ring) + 1)
        while self._over() and laps < limit:
            laps += 1
            self.stats.scanned += 1
            key, _ = self._ring.popitem(last=False)
            slot = self._data[key]  # the ring holds exactly the stored keys
            if key == protect or slot.referenced:
                slot.referenced = False
                self._ring[key] = None  # second chance: back of the ring
                continue
            self._data.pop(key)
            self._bytes -= len(slot.entry.value)
            self.stats.evictions += 1
