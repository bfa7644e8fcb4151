"""`SearchService`: the loop side of search (view access, cached pages, suggestions, analytics).

It reads the search actor's published `SearchView` directly (ARCHITECTURE rule 3): a query
costs no mailbox hop. It knows the actor only as an `IndexOwner` (`kensho.search.protocol`),
so this package imports no actor module. Pages go through the `CacheService` under a key that
holds the index version, so a rebuild invalidates them by itself (`rebuild` also drops
`search:*`). Every query is recorded for analytics in memory and written to `search_events`
in batches by a loop task (`AnalyticsRecorder`), never on the request path.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson

from kensho.cache import CacheService
from kensho.errors import ServiceUnavailable
from kensho.search.analytics import AnalyticsRecorder, SearchEvent
from kensho.search.normalize import normalize
from kensho.search.protocol import BuildInfo, IndexOwner, Rebuild
from kensho.search.ranker import RankingPool
from kensho.search.view import SearchView
from kensho.store.search_queries import QueryCount, query_counts

__all__ = ["CACHE_TTL", "REBUILD_TIMEOUT", "AnalyticsReport", "SearchService"]

CACHE_TTL = 30.0  # seconds; the version in the key makes a rebuild invalidate anyway
REBUILD_TIMEOUT = 120.0
_MATCH_KINDS = {3: "exact", 2: "prefix", 1: "fuzzy"}


@dataclass(frozen=True, slots=True)
class AnalyticsReport:
    """Top queries and queries with no result since `since`."""

    since: datetime
    top: list[QueryCount]
    zero: list[QueryCount]
    recorder: dict[str, Any]


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
        ranker: RankingPool | None = None,
    ) -> None:
        self.handle = handle
        self.cache = cache
        self.analytics = analytics
        self.pool = pool
        self.cache_ttl = cache_ttl
        #: uncached ranking runs off the loop, a bounded queue in front (kensho.search.ranker)
        self.ranker = ranker or RankingPool()

    def view(self) -> SearchView:
        """The newest published view; while the actor restarts (and rebuilds), the previous
        incarnation's (rule 4). Before the first build: 503 with `Retry-After`."""
        view = cast(SearchView | None, self.handle.last_view)
        if view is None:
            raise ServiceUnavailable("The search index is being built.", retry_after=1)
        return view

    async def search(
        self, q: str, *, kind: str | None, genre: str | None, limit: int, cursor: str | None
    ) -> bytes:
        """One page as a JSON body (cached); `genre` is a slug. Cursor errors are 400 or 410."""
        t0 = time.perf_counter()
        view = self.view()
        norm = normalize(q)

        async def load() -> bytes:
            return await self._rank(view, q, kind=kind, genre=genre, limit=limit, cursor=cursor)

        if self.cache is None:
            body = await load()
        else:
            ident = orjson.dumps([norm, kind, genre, limit, cursor])
            key = f"search:{view.index.version}:{hashlib.sha256(ident).hexdigest()[:32]}"
            body = await self.cache.get_or_load(key, load, ttl=self.cache_ttl)
        if self.analytics is not None:
            count = len(orjson.loads(body)["items"])
            self.analytics.record(
                SearchEvent(
                    at=datetime.now(UTC),
                    query=norm,
                    kind=kind,
                    genre=genre,
                    result_count=count,
                    latency_ms=round((time.perf_counter() - t0) * 1000.0, 3),
                    paged=cursor is not None,
                )
            )
        return body

    async def _rank(
        self,
        view: SearchView,
        q: str,
        *,
        kind: str | None,
        genre: str | None,
        limit: int,
        cursor: str | None,
    ) -> bytes:
        """An uncached page, ranked on a ranking thread (`RankingPool`), never on the loop."""
        return await self.ranker.run(
            self._page, view, q, kind=kind, genre=genre, limit=limit, cursor=cursor
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
    ) -> bytes:
        page = view.index.search(q, kind=kind, genre=genre, limit=limit, after=cursor)
        items = []
        for hit in page.items:
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
        return orjson.dumps({"items": items, "next_cursor": page.next_cursor})

    def suggest(self, q: str, limit: int) -> bytes:
        """Completions for a search box (not cached: cheaper than a cache lookup)."""
        view = self.view()
        items = []
        for s in view.index.suggest(q, limit):
            doc = view.docs.get(s.id)
            items.append(
                {"id": s.id, "title": s.title, "lang": s.lang, "type": doc.kind if doc else None}
            )
        return orjson.dumps({"items": items})

    async def rebuild(self, reason: str = "requested") -> BuildInfo:
        """Rebuild the index aside (queries keep using the old view), then drop cached pages.

        Requests made while a build runs are answered by the next build (they coalesce).
        """
        info = cast(
            BuildInfo, await self.handle.ask(Rebuild(reason=reason), timeout=REBUILD_TIMEOUT)
        )
        if self.cache is not None and info.rebuilt:
            await self.cache.invalidate("search:*")
        return info

    async def analytics_report(self, window_seconds: int, limit: int) -> AnalyticsReport:
        """Top and zero-result queries of the last `window_seconds` (needs PostgreSQL)."""
        if self.pool is None or self.analytics is None:
            raise ServiceUnavailable("Search analytics need PostgreSQL.")
        await self.analytics.flush()  # the report includes what is still buffered
        since = datetime.now(UTC) - timedelta(seconds=window_seconds)
        top = await query_counts(self.pool, since, limit, zero_results=False)
        zero = await query_counts(self.pool, since, limit, zero_results=True)
        return AnalyticsReport(since, top, zero, self.analytics.stats())
