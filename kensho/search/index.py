"""The immutable search index: build once (off the event loop), then read from any thread.

`build_index()` returns a frozen `SearchIndex` snapshot. The search actor builds a new one aside
and swaps the published reference; handlers call `search()`/`suggest()` on whatever snapshot they
hold, without locks or a thread hop (ARCHITECTURE.md rule 3).

Ranking: candidates come from shared n-grams (trigrams, CJK bigrams); each candidate title gets
a tier (exact 3 > prefix 2 > fuzzy 1) and a similarity in 0..100 from rapidfuzz. An entry's score
is its best title's `100 * tier` plus a part below 100 mixing similarity and popularity (a
fixed log scale of members), so popularity reorders near-ties and never crosses a tier. Scores
depend on the query and the entry alone, which keeps keyset cursors exact across a rebuild.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, islice
from types import MappingProxyType

from rapidfuzz import fuzz

from kensho.search.cursor import CursorPosition, decode_cursor, encode_cursor, fingerprint
from kensho.search.loading import BuildCancelled, load_cancellable
from kensho.search.normalize import compact, grams, kana_romaji, normalize, warm_kana
from kensho.search.readings import has_katakana, kana_reading, loanword_key
from kensho.search.records import SearchRecord
from kensho.search.suggest import Suggestion, suggest

__all__ = [
    "ALGORITHM_VERSION",
    "BuildCancelled",
    "Hit",
    "SearchIndex",
    "SearchPage",
    "build_index",
]

#: Bump when scoring changes: it is part of the index version, so old cursors get 410.
ALGORITHM_VERSION = "2"
MAX_CANDIDATES = 250  # titles scored per query; bounds latency and the depth of a result set
#: postings counted per query, the rarest grams first: bounds the work of a long query made of
#: common trigrams (it ran on the event loop for ~10-30 ms); no evaluation query comes near it
MAX_POSTINGS = 4000
#: query characters times titles scored, at most: a 20-character query scores every candidate,
#: a 200-character one the best 60 (candidates come best first, so the bound cuts the tail)
SCORE_BUDGET = 12_000
MIN_FUZZY = 60.0  # below this a fuzzy title is noise
PREFIX_TABLE_LEN = 4  # prefixes up to this length are precomputed (popular titles first)
PREFIX_TABLE_TOP = 64
_POP_SCALE = math.log1p(2_000_000)


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked entry: its catalog key, score and the title that matched best."""

    id: str
    score: float
    matched_title: str
    matched_lang: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: tuple[Hit, ...]
    next_cursor: str | None


def _popularity(members: int) -> float:
    return min(1.0, math.log1p(max(0, members)) / _POP_SCALE)


def _similarity(q: str, qc: str, t: str, tc: str) -> tuple[int, float]:
    """(tier, similarity 0..100) of a normalised query against a normalised title."""
    if qc == tc:
        return 3, 100.0
    if t.startswith(q):  # on the spaced form: "kuroko no baskett" is no prefix of "… basket tip"
        return 2, 100.0 * len(qc) / len(tc)
    lq, lt = len(qc), len(tc)
    cov = min(lq, lt) / max(lq, lt)
    sim = fuzz.ratio(qc, tc)
    if lq >= 2 and qc in tc:  # a partial title ("brotherhood", "巨人")
        sim = max(sim, 85.0 + 15.0 * cov)
    if lq >= 4:  # a prefix typed with a typo ("shingekki no")
        sim = max(sim, fuzz.ratio(qc, tc[:lq]) * (0.8 + 0.2 * cov))
    if " " in q:  # several words, any order, some missing
        sim = max(sim, fuzz.token_sort_ratio(q, t), fuzz.token_set_ratio(q, t) * (0.8 + 0.2 * cov))
    return 1, float(sim)


def _score(tier: int, sim: float, popularity: float) -> float:
    """Combine tier, similarity and popularity; the within-tier part stays below 100.

    Among prefix matches the user has not typed enough to choose, so popularity weighs more
    there (10 points) than among exact or fuzzy matches (3 points, a near-tie breaker).
    """
    prefix = tier == 2
    part = 80.0 + 0.1 * sim + 10.0 * popularity if prefix else 0.97 * sim + 3.0 * popularity
    return round(100.0 * tier + min(part, 99.999), 6)


@dataclass(frozen=True, slots=True, eq=False)
class SearchIndex:
    """A read-only snapshot. Per-title data lives in parallel tuples indexed by title number;
    titles are ordered by their entry's popularity, so a lower number means more popular."""

    version: str
    records: tuple[SearchRecord, ...]
    title_entry: tuple[int, ...]
    title_text: tuple[str, ...]
    title_lang: tuple[str, ...]
    title_norm: tuple[str, ...]
    title_compact: tuple[str, ...]
    postings: Mapping[str, tuple[int, ...]]
    sorted_compact: tuple[str, ...]
    sorted_title: tuple[int, ...]
    prefix_top: Mapping[str, tuple[int, ...]]
    popularity: tuple[float, ...]
    by_id: Mapping[str, int]
    _key: bytes = field(repr=False)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def title_count(self) -> int:
        return len(self.title_text)

    # -- primitives shared with suggest.py -------------------------------------------------

    def prefixed(self, qc: str, cap: int = 400) -> list[int]:
        """Title numbers whose compact form starts with `qc`, most popular first."""
        if len(qc) <= PREFIX_TABLE_LEN:
            return list(self.prefix_top.get(qc, ()))
        lo = bisect_left(self.sorted_compact, qc)
        out: list[int] = []
        for i in range(lo, min(lo + cap, len(self.sorted_compact))):
            if not self.sorted_compact[i].startswith(qc):
                break
            out.append(self.sorted_title[i])
        out.sort()
        return out

    def candidates(
        self,
        norm: str,
        limit: int = MAX_CANDIDATES,
        min_share: float = 0.4,
        max_postings: int | None = None,
    ) -> list[int]:
        """Title numbers sharing the most grams with `norm` (at least `min_share` of them).

        The rarest grams are counted first, and only until `max_postings` postings have been
        counted (at least one gram's): the common grams of a long query then add work, not
        information. The share is of the grams considered (those counted, and those no title
        has), so a query whose postings all fit is treated exactly as without the bound.
        `max_postings` defaults to `MAX_POSTINGS`.
        """
        budget = MAX_POSTINGS if max_postings is None else max_postings
        qgrams = grams(norm)
        lists = sorted((self.postings[g] for g in qgrams if g in self.postings), key=len)
        if not lists:
            return []
        used, total = 0, 0
        for posting in lists:
            if used and total + len(posting) > budget:
                break
            used += 1
            total += len(posting)
        counts = Counter(chain.from_iterable(lists[:used]))
        considered = len(qgrams) - (len(lists) - used)
        need = max(1, math.ceil(considered * min_share))
        best = [(c, t) for t, c in counts.items() if c >= need]
        best.sort(key=lambda ct: (-ct[0], ct[1]))
        return [t for _, t in best[:limit]]

    # -- search ------------------------------------------------------------------------------

    def _rank(self, norm: str, kind: str | None, genre: str | None) -> list[tuple[float, str, int]]:
        """Every matching entry as (score, id, best title), sorted score desc, id asc."""
        qc = compact(norm)
        if not qc:
            return []
        # The most popular titles sharing the first two characters catch typos in short words
        # ("naurto") that leave no trigram in common.
        titles = dict.fromkeys(
            chain(self.prefixed(qc), self.prefixed(qc[:2]), self.candidates(norm))
        )
        best: dict[int, tuple[float, int]] = {}
        for t in islice(titles, max(1, SCORE_BUDGET // len(qc))):
            e = self.title_entry[t]
            rec = self.records[e]
            if (kind is not None and rec.kind != kind) or (
                genre is not None and genre not in rec.genres
            ):
                continue
            tier, sim = _similarity(norm, qc, self.title_norm[t], self.title_compact[t])
            if tier == 1 and sim < MIN_FUZZY:
                continue
            score = _score(tier, sim, self.popularity[e])
            if e not in best or score > best[e][0]:
                best[e] = (score, t)
        ranked = [(s, self.records[e].id, t) for e, (s, t) in best.items()]
        ranked.sort(key=lambda r: (-r[0], r[1]))
        return ranked

    def search(
        self,
        query: str,
        *,
        kind: str | None = None,
        genre: str | None = None,
        limit: int = 20,
        after: str | None = None,
    ) -> SearchPage:
        """One page of results for `query`, optionally filtered by kind and genre.

        `after` is a cursor from a previous page of the same query: `BadRequest` if it is
        malformed, forged or for another query; `Gone` if the index changed since.
        """
        norm = normalize(query)
        genre = genre.casefold() if genre else None
        qfp = fingerprint(norm, kind, genre)
        position = None
        if after is not None:
            position = decode_cursor(self._key, after, version=self.version, query_fp=qfp)
        ranked = self._rank(norm, kind, genre)
        romaji = kana_romaji(norm)
        if romaji is not None:
            # A kana query also meets romaji titles, best score per entry. The reading is a
            # guess: its fuzzy matches count only when the kana found nothing, its exact and
            # prefix ones (score >= 200) always. Katakana loanwords ("クレイモア") meet the
            # katakana readings of Latin Japanese titles instead (`_title_forms`).
            floor = 0.0 if not ranked else 200.0
            best = {i: (s, t) for s, i, t in self._rank(romaji, kind, genre) if s >= floor}
            for s, i, t in ranked:
                if i not in best or s > best[i][0]:
                    best[i] = (s, t)
            # A katakana loanword spelled otherwise than the reading guessed ("トライガン" for
            # TRIGUN, read "トリガン") meets it by consonant skeleton; such a match ranks with
            # prefix matches: under any real exact match, over fuzzy ones.
            key = loanword_key(norm) if has_katakana(query) else None
            for s, i, t in self._rank(key, kind, genre) if key is not None else ():
                near = _score(2, 100.0, self.popularity[self.title_entry[t]])
                if s >= 300 and near > best.get(i, (0.0, 0))[0]:
                    best[i] = (near, t)
            ranked = sorted(((s, i, t) for i, (s, t) in best.items()), key=lambda r: (-r[0], r[1]))
        start = 0
        if position is not None:
            keys = [(-s, i) for s, i, _ in ranked]
            start = bisect_left(keys, (-position.score, position.id))
            if start < len(keys) and keys[start] == (-position.score, position.id):
                start += 1
        page = ranked[start : start + max(0, limit)]
        items = tuple(
            Hit(id=i, score=s, matched_title=self.title_text[t], matched_lang=self.title_lang[t])
            for s, i, t in page
        )
        next_cursor = None
        if page and start + len(page) < len(ranked):
            last = page[-1]
            next_cursor = encode_cursor(
                self._key,
                version=self.version,
                query_fp=qfp,
                position=CursorPosition(score=last[0], id=last[1]),
            )
        return SearchPage(items=items, next_cursor=next_cursor)

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Typo-tolerant completions for a search box; see `kensho.search.suggest`."""
        return suggest(self, prefix, limit)

    def summary(self) -> dict[str, object]:
        """Cheap numbers for `/admin/actors`."""
        return {
            "version": self.version,
            "entries": len(self.records),
            "titles": self.title_count,
            "grams": len(self.postings),
        }


_QUALIFIER = re.compile(r"\s*[(（][^()（）]{1,24}[)）]\s*$")


def _title_forms(rec: SearchRecord) -> Iterable[tuple[str, str, str]]:
    """(lang, text, normalised) for every title, plus the title without a trailing
    disambiguator such as "(TV)" or "(2011)", which catalogs add and users never type, and a
    Japanese title written in Latin letters as read in katakana ("CLAYMORE" -> "クレイモア")."""
    for lang, text in rec.titles:
        yield lang, text, normalize(text)
        bare = _QUALIFIER.sub("", text)
        if bare != text and bare.strip():
            yield lang, text, normalize(bare)
        if lang == "ja" and (reading := kana_reading(text)) is not None:
            yield lang, text, normalize(reading)
            if (key := loanword_key(normalize(reading))) is not None:
                yield lang, text, key


def _version(records: Iterable[SearchRecord]) -> str:
    h = hashlib.sha256(ALGORITHM_VERSION.encode())
    for r in records:
        h.update(repr((r.id, r.titles, r.kind, r.genres, r.popularity)).encode())
    return h.hexdigest()[:16]


def build_index(
    records: Iterable[SearchRecord],
    *,
    cursor_key: bytes | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SearchIndex:
    """Build a snapshot. Blocking CPU work: run it on the search actor's thread, never the loop.

    `cursor_key` signs pagination cursors; give the same key to every rebuild (and every
    process) or outstanding cursors stop verifying. Without one a random key is used.
    `cancelled()` is asked first, every 64 entries and before the final phase; when it says so,
    `BuildCancelled` is raised (a build takes seconds, ten on a loaded 2-core machine, and a
    stopping actor must give up well inside its shutdown timeout: 64 entries are ~40 ms there).
    """
    # here, off the loop, not at the first kana query; seconds on a loaded machine, so a
    # stopping builder does not wait for it (kensho.search.loading)
    load_cancellable(warm_kana, cancelled, "the kana dictionaries")
    recs = sorted(records, key=lambda r: (-r.popularity, r.id))
    ids = [r.id for r in recs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate record ids")
    t_entry: list[int] = []
    t_text: list[str] = []
    t_lang: list[str] = []
    t_norm: list[str] = []
    t_compact: list[str] = []
    postings: dict[str, list[int]] = {}
    prefix_lists: dict[str, list[int]] = {}
    for e, rec in enumerate(recs):
        if cancelled is not None and e % 64 == 0 and cancelled():
            raise BuildCancelled(f"cancelled after {e} of {len(recs)} entries")
        seen: set[str] = set()
        for lang, text, norm in _title_forms(rec):
            comp = compact(norm)
            if not comp or comp in seen:
                continue
            seen.add(comp)
            t = len(t_text)
            t_entry.append(e)
            t_text.append(text)
            t_lang.append(lang)
            t_norm.append(norm)
            t_compact.append(comp)
            for g in grams(norm):
                postings.setdefault(g, []).append(t)
            for n in range(1, min(PREFIX_TABLE_LEN, len(comp)) + 1):
                bucket = prefix_lists.setdefault(comp[:n], [])
                if len(bucket) < PREFIX_TABLE_TOP:  # titles arrive most popular first
                    bucket.append(t)
    if cancelled is not None and cancelled():
        raise BuildCancelled(f"cancelled after all {len(recs)} entries")
    order = sorted(range(len(t_compact)), key=t_compact.__getitem__)
    return SearchIndex(
        version=_version(recs),
        records=tuple(recs),
        title_entry=tuple(t_entry),
        title_text=tuple(t_text),
        title_lang=tuple(t_lang),
        title_norm=tuple(t_norm),
        title_compact=tuple(t_compact),
        postings=MappingProxyType({g: tuple(v) for g, v in postings.items()}),
        sorted_compact=tuple(t_compact[i] for i in order),
        sorted_title=tuple(order),
        prefix_top=MappingProxyType({p: tuple(v) for p, v in prefix_lists.items()}),
        popularity=tuple(_popularity(r.popularity) for r in recs),
        by_id=MappingProxyType({r.id: e for e, r in enumerate(recs)}),
        _key=cursor_key if cursor_key is not None else secrets.token_bytes(32),
    )
