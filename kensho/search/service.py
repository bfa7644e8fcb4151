"""`SearchService`: the loop side of search (view access, cached pages, suggestions, analytics).

It reads the search actor's published `SearchView` directly (ARCHITECTURE rule 3): a query
costs no mailbox hop. It knows the actor only as an `IndexOwner` (`kensho.search.protocol`),
so this package imports no actor module.

Answers are cached as the representations the API sends (`kensho.catalog.representation`:
`<ETag><coding><body>`), so a hit is answered with no JSON work:
- a search page goes through the app's `CacheService` (L1, then Redis, then ranked once on a
  ranking thread for all who wait) under `search:r1:<index version>:<hash of the normalised
  query, type, genre, limit, cursor>`, its value prefixed with the page's result count
  (`_COUNT`), which analytics reads instead of parsing the JSON;
- suggestions go through a cache of this replica's own (`suggestions`: L1 only, short TTL,
  the same single flight) under `suggest:<index version>:<limit>:<hash of the normalised
  prefix>`: computing them costs less than a Redis round trip.
The index version in both keys makes a rebuild invalidate them by itself; `rebuild` also
drops `search:*`, every suggestion and the memo below.

`known` maps a request target already validated to a `Target` (the stored cache key, the index
version it was made for, the analytics key), so a repeated request is one dict read, one L1
read and one counter increment (`kensho.http.search_routes`). Searches are counted per
normalised query per minute in memory (`AnalyticsRecorder`) and written in batches by a loop
task, never on the request path.

The page order is a feature flag (`search-ranking`, `kensho.flags.definitions`): each searcher
is bucketed by their id (`subject`), and the variant is part of both the cache key and the
`known` memo's key, so one variant's page is never answered to the other's searchers; while a
rollout splits searchers, pages are `Cache-Control: private` (`page_policy`), so no shared HTTP
cache does either.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import orjson

from kensho.cache import CacheService, CacheSettings
from kensho.catalog.representation import CachePolicy, etag_for, pack
from kensho.errors import ServiceUnavailable
from kensho.flags import SEARCH_RANKING, FeatureFlags
from kensho.observability.timings import SEARCH, SEARCH_MEMO
from kensho.search.analytics import AnalyticsRecorder, QueryKey
from kensho.search.normalize import normalize
from kensho.search.protocol import BuildInfo, IndexOwner, Rebuild
from kensho.search.ranker import RankingPool
from kensho.search.view import SearchView
from kensho.store.search_queries import QueryCount, query_counts

__all__ = [
    "CACHE_TTL",
    "COUNT_BYTES",
    "MAX_AGE",
    "POPULAR_FIRST",
    "REBUILD_TIMEOUT",
    "SUGGEST_TTL",
    "AnalyticsReport",
    "SearchService",
    "Target",
    "search_policy",
]

CACHE_TTL = 30.0  # seconds; the version in the key makes a rebuild invalidate anyway
SUGGEST_TTL = 10.0  # seconds a replica keeps a suggestion list (short: prefixes are many)
MAX_AGE = 30  # seconds browsers and CDNs may reuse an answer (Cache-Control max-age)
REBUILD_TIMEOUT = 120.0
_MATCH_KINDS = {3: "exact", 2: "prefix", 1: "fuzzy"}
RELEVANCE = SEARCH_RANKING.default_variant
#: The `search-ranking` variant that lists each page by match kind, then most popular first.
POPULAR_FIRST = "popular-first"
#: A cached search page is `<result count, 2 bytes><representation>`.
_COUNT: Final = struct.Struct(">H")
COUNT_BYTES: Final = _COUNT.size
_KNOWN_MAX = 8192


def search_policy(max_age: int, ttl: float, *, private: bool = False) -> CachePolicy:
    """The `Cache-Control` of search answers: caches may keep them `max_age` seconds, shared
    ones too unless `private` (the answer depends on who asks, which no `Vary` can name).
    `Vary: Accept-Encoding`: one cached identity page is sent in the coding each request
    accepts (`Representations.respond_negotiated`)."""
    scope = "private" if private else "public"
    return CachePolicy(ttl, 0.0, 0.0, f"{scope}, max-age={int(max_age)}")


@dataclass(frozen=True, slots=True)
class AnalyticsReport:
    """Top queries and queries with no result since `since`."""

    since: datetime
    top: list[QueryCount]
    zero: list[QueryCount]
    recorder: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """A validated request target's answer: where it is cached, for which index version, and
    what analytics counts it as (None for suggestions)."""

    stored: bytes
    version: str
    tally: QueryKey | None


class SearchService:
    """Search, suggestions, analytics and rebuilds over the search actor's handle."""

    def __init__(
        self,
        handle: IndexOwner,
        *,
        cache: CacheService | None = None,
        analytics: AnalyticsRecorder | None = None,
        pool: Any = None,
        cache_ttl: float = CACHE_TTL,
        suggest_ttl: float = SUGGEST_TTL,
        max_age: int = MAX_AGE,
        ranker: RankingPool | None = None,
        suggestions: CacheService | None = None,
        flags: FeatureFlags | None = None,
    ) -> None:
        self.handle = handle
        self.flags = flags
        self.cache = cache
        self.analytics = analytics
        self.pool = pool
        self.cache_ttl = cache_ttl
        self.suggest_ttl = suggest_ttl
        #: uncached ranking: one per loop turn or on threads, a bounded queue in front (ranker.py)
        self.ranker = ranker or RankingPool()
        #: this replica's suggestion lists: L1 only (computing one beats a Redis round trip)
        self.suggestions = suggestions or CacheService(
            CacheSettings(prefix="suggest:", l1_max_entries=20_000, l1_max_bytes=32 << 20)
        )
        self.search_policy = search_policy(max_age, cache_ttl)
        #: while the ranking flag splits searchers: each page is one variant's, not everyone's
        self.private_search_policy = search_policy(max_age, cache_ttl, private=True)
        self.suggest_policy = search_policy(max_age, suggest_ttl)
        #: request target -> `Target`, for targets whose inputs were valid (bounded)
        self.known: dict[str, Target] = {}

    async def start(self) -> None:
        """Start purging expired suggestions (the page cache belongs to the app)."""
        await self.suggestions.start()

    async def close(self) -> None:
        await self.suggestions.close()
        self.ranker.close()

    def view(self) -> SearchView:
        """The newest published view; while the actor restarts (and rebuilds), the previous
        incarnation's (rule 4). Before the first build: 503 with `Retry-After`."""
        view = cast(SearchView | None, self.handle.last_view)
        if view is None:
            raise ServiceUnavailable("The search index is being built.", retry_after=1)
        return view

    # -- the hot path --------------------------------------------------------------------------

    def ranking(self, subject: str | None) -> str:
        """The `search-ranking` variant for this searcher (an account or client id)."""
        if self.flags is None:
            return RELEVANCE
        return self.flags.variant(SEARCH_RANKING.key, subject, RELEVANCE)

    def page_policy(self) -> CachePolicy:
        """How search pages may be cached now: `private` while the `search-ranking` setting
        gives searchers different variants (a CDN must not hand one searcher's order to
        another; the page depends on the client id, which no `Vary` names), else public."""
        flags = self.flags
        if flags is not None and flags.varies(SEARCH_RANKING.key):
            return self.private_search_policy
        return self.search_policy

    def cached(self, target: str, ranking: str = RELEVANCE) -> bytes | None:
        """The cached answer to a request target seen before, if it is in L1 and was made
        from the published index; counted for analytics. No await, no parsing (rule 3).
        A search passes its `ranking` variant: the page remembered is that variant's."""
        if ranking != RELEVANCE:
            target = f"{ranking}\x00{target}"  # the built-in variant keeps the bare target
        known = self.known.get(target)
        if known is None:
            return None
        view = self.handle.last_view
        if view is None or view.index.version != known.version:
            return None
        cache = self.cache if known.tally is not None else self.suggestions
        if cache is None:
            return None
        value = cache.get_stored(known.stored)
        if value is not None and known.tally is not None:  # a search (not a suggestion)
            SEARCH_MEMO.memo += 1  # counted, not timed: see `SearchAnswers`
            if self.analytics is not None:
                self.analytics.count(known.tally)
        return value

    def _remember(self, target: str | None, known: Target) -> None:
        if target is None:
            return
        if len(self.known) >= _KNOWN_MAX:
            self.known.clear()
        self.known[target] = known

    # -- search --------------------------------------------------------------------------------

    async def search(
        self,
        q: str,
        *,
        kind: str | None,
        genre: str | None,
        limit: int,
        cursor: str | None,
        target: str | None = None,
        ranking: str = RELEVANCE,
    ) -> bytes:
        """One page as `<count><ETag><coding><body>` (cached); `genre` is a slug. Cursor errors
        are 400 or 410. `target`: the request target to remember the answer under; `ranking`:
        the searcher's `search-ranking` variant (`ranking(subject)`)."""
        t0 = time.perf_counter()
        view = self.view()
        version = view.index.version
        norm = normalize(q)
        if target is not None and ranking != RELEVANCE:
            target = f"{ranking}\x00{target}"
        ranked = False

        async def load() -> bytes:
            nonlocal ranked
            ranked = True
            return await self._rank(
                view, q, kind=kind, genre=genre, limit=limit, cursor=cursor, ranking=ranking
            )

        if self.cache is None:
            value = await load()
        else:
            ident = orjson.dumps([norm, kind, genre, limit, cursor, ranking])
            key = f"search:r1:{version}:{hashlib.sha256(ident).hexdigest()[:32]}"
            value = await self.cache.get_or_load(key, load, ttl=self.cache_ttl)
        # The page's result count travels with it: no JSON is parsed to count.
        tally = QueryKey(norm, kind, genre, cursor is not None, _COUNT.unpack_from(value)[0])
        if self.cache is not None:
            self._remember(target, Target(self.cache.stored_key(key), version, tally))
        SEARCH.labels("ranked" if ranked else "cached").observe(time.perf_counter() - t0)
        if self.analytics is not None:
            self.analytics.count(tally)
        return value

    async def _rank(
        self,
        view: SearchView,
        q: str,
        *,
        kind: str | None,
        genre: str | None,
        limit: int,
        cursor: str | None,
        ranking: str = RELEVANCE,
    ) -> bytes:
        """An uncached page, ranked in its turn (`RankingPool`: one ranking per loop turn)."""
        return await self.ranker.run(
            self._page,
            view,
            q,
            kind=kind,
            genre=genre,
            limit=limit,
            cursor=cursor,
            ranking=ranking,
        )

    @staticmethod
    def _page(
        view: SearchView,
        q: str,
        *,
        kind: str | None,
        genre: str | None,
        limit: int,
        cursor: str | None,
        ranking: str = RELEVANCE,
    ) -> bytes:
        """Rank, render and tag one page (bounded work; on the loop in its turn, or a thread)."""
        page = view.index.search(q, kind=kind, genre=genre, limit=limit, after=cursor)
        hits = list(page.items)
        if ranking == POPULAR_FIRST:
            # Within the page only: pages still partition the same hits in the same sequence,
            # so the cursor (the last hit in score order) stays valid for both variants.
            def popular(hit: Any) -> tuple[int, int, str]:
                doc = view.docs.get(hit.id)
                return (-int(hit.score // 100), -(doc.popularity if doc else 0), hit.id)

            hits.sort(key=popular)
        items = []
        for hit in hits:
            doc = view.docs.get(hit.id)
            if doc is None:  # pragma: no cover - docs and index come from the same rows
                continue
            items.append(
                {
                    "id": doc.id,
                    "title": doc.title,
                    "titles": dict(doc.titles),
                    "external_ids": dict(doc.external_ids),
                    "type": doc.kind,
                    "genres": list(doc.genres),
                    "popularity": doc.popularity,
                    "rating": doc.rating,
                    "score": round(hit.score / 400.0, 6),
                    "matched": hit.matched_title,
                    "matched_lang": hit.matched_lang,
                    "match_kind": _MATCH_KINDS.get(int(hit.score // 100), "fuzzy"),
                }
            )
        body = orjson.dumps({"items": items, "next_cursor": page.next_cursor})
        return _COUNT.pack(len(items)) + pack(etag_for(body), "identity", body)

    # -- suggestions ---------------------------------------------------------------------------

    async def suggest(self, q: str, limit: int, *, target: str | None = None) -> bytes:
        """Completions for a search box as `<ETag><coding><body>`, cached per normalised
        prefix and limit; concurrent misses of one prefix compute it once."""
        view = self.view()
        version = view.index.version
        digest = hashlib.sha256(normalize(q).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        key = f"suggest:{version}:{limit}:{digest}"

        async def load() -> bytes:
            return self._suggestions(view, q, limit)

        value = self.suggestions.get_cached(key)
        if value is None:
            value = await self.suggestions.get_or_load(key, load, ttl=self.suggest_ttl)
        self._remember(target, Target(self.suggestions.stored_key(key), version, None))
        return value

    @staticmethod
    def _suggestions(view: SearchView, q: str, limit: int) -> bytes:
        items = []
        for s in view.index.suggest(q, limit):
            doc = view.docs.get(s.id)
            items.append(
                {"id": s.id, "title": s.title, "lang": s.lang, "type": doc.kind if doc else None}
            )
        body = orjson.dumps({"items": items})
        return pack(etag_for(body), "identity", body)

    # -- rebuilds and the admin view -----------------------------------------------------------

    async def rebuild(self, reason: str = "requested") -> BuildInfo:
        """Rebuild the index aside (queries keep using the old view), then drop cached pages
        and suggestions.

        Requests made while a build runs are answered by the next build (they coalesce).
        """
        info = cast(
            BuildInfo, await self.handle.ask(Rebuild(reason=reason), timeout=REBUILD_TIMEOUT)
        )
        if info.rebuilt:
            self.known.clear()
            await self.suggestions.invalidate("*")
            if self.cache is not None:
                await self.cache.invalidate("search:*")
        return info

    async def analytics_report(self, window_seconds: int, limit: int) -> AnalyticsReport:
        """Top and zero-result queries of the last `window_seconds` (needs PostgreSQL)."""
        if self.pool is None or self.analytics is None:
            raise ServiceUnavailable("Search analytics need PostgreSQL.")
        await self.analytics.flush()  # the report includes what is still counted in memory
        since = datetime.now(UTC) - timedelta(seconds=window_seconds)
        top = await query_counts(self.pool, since, limit, zero_results=False)
        zero = await query_counts(self.pool, since, limit, zero_results=True)
        return AnalyticsReport(since, top, zero, self.analytics.stats())
