"""Search endpoints, the loop-side search service, rebuild requests and search analytics.

Handlers read the search actor's published `SearchView` directly (ARCHITECTURE rule 3): a
query costs no mailbox hop. `/api/search` pages go through the `CacheService` under a key that
holds the index version, so a rebuild invalidates them by itself (and `request_rebuild` also
drops `search:*` explicitly). Every search query is recorded for analytics in memory and
written to `search_events` in batches by a loop task, never on the request path.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from aiohttp import web

from kensho.actors.handle import ActorHandle
from kensho.actors.search import BuildInfo, Rebuild, SearchView, genre_slug
from kensho.actors.supervisor import Supervisor
from kensho.cache import CacheService
from kensho.errors import ServiceUnavailable, ValidationFailed
from kensho.http import keys
from kensho.http.admin import audit_admin, authorize_admin
from kensho.http.openapi import operation, querystring_schema
from kensho.http.readiness import ReadinessCheck
from kensho.http.resources import Resource
from kensho.http.routing import Routes
from kensho.http.schemas.admin import SearchAnalyticsSchema
from kensho.http.schemas.search import (
    SearchAnalyticsQuerySchema,
    SearchPageSchema,
    SearchQuerySchema,
    SuggestionPageSchema,
    SuggestQuerySchema,
)
from kensho.search import (
    normalize,
    validate_cursor,
    validate_genre,
    validate_kind,
    validate_limit,
    validate_query,
)
from kensho.search.analytics import AnalyticsRecorder, SearchEvent
from kensho.search.ranker import RankingPool
from kensho.store.search_queries import insert_search_events, query_counts

__all__ = [
    "SEARCH",
    "SearchService",
    "add_search_routes",
    "request_rebuild",
    "search_resource",
]

log = logging.getLogger(__name__)

CACHE_TTL = 30.0  # seconds; the version in the key makes a rebuild invalidate anyway
REBUILD_TIMEOUT = 120.0
SUGGEST_MAX = 20
_MATCH_KINDS = {3: "exact", 2: "prefix", 1: "fuzzy"}
_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_WINDOW = 90 * 86400


class SearchService:
    """The loop side of search: view access, cached pages, suggestions, analytics, rebuilds."""

    def __init__(
        self,
        handle: ActorHandle,
        *,
        cache: CacheService | None = None,
        analytics: AnalyticsRecorder | None = None,
        cache_ttl: float = CACHE_TTL,
        ranker: RankingPool | None = None,
    ) -> None:
        self.handle = handle
        self.cache = cache
        self.analytics = analytics
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
        """One page as a JSON body (cached). Cursor errors raise 400 or 410 problems."""
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
            if doc is None:  # cannot happen: docs and index come from the same rows
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
        """Rebuild the index aside (queries keep using the old view), then drop cached pages."""
        info = cast(
            BuildInfo, await self.handle.ask(Rebuild(reason=reason), timeout=REBUILD_TIMEOUT)
        )
        if self.cache is not None and info.rebuilt:
            await self.cache.invalidate("search:*")
        return info


SEARCH = web.AppKey("search_service", SearchService)


async def request_rebuild(app: web.Application, reason: str = "catalog-sync") -> BuildInfo | None:
    """Hook for the catalog sync: rebuild the index after the catalog changed.

    Returns what is published afterwards, or None when search is not installed. Requests made
    while a build runs are answered by the next build (they coalesce).
    """
    service = app.get(SEARCH)
    if service is None:
        return None
    return await service.rebuild(reason)


def search_resource(*, actor: str = "search", cache: CacheService | None = None) -> Resource:
    """cleanup_ctx entry: the search service over the supervisor's `actor` child, caching
    through `cache` (default: the app's `keys.CACHE`, when installed), with the analytics
    writer when `keys.DB_POOL` is set, flushed at shutdown. Install it after the actor tree
    (and so after PostgreSQL): it closes first, while the pool still works."""

    async def search_feature(app: web.Application) -> Any:
        sup = cast(Supervisor, app[keys.SUPERVISOR])
        handle = sup.handle(actor)
        if cache is None:
            cache_key = getattr(keys, "CACHE", None)  # the cache resource's key, once it exists
            service_cache = app.get(cache_key) if cache_key is not None else None
        else:
            service_cache = cache
        pool = app.get(keys.DB_POOL)
        recorder = None
        if pool is not None:

            async def write(batch: Any) -> None:
                await insert_search_events(pool, [e.as_row() for e in batch])

            recorder = AnalyticsRecorder(write)
            recorder.start()
        config = app[keys.CONFIG]
        ranker = RankingPool(config.search_threads, config.search_max_waiting)
        service = SearchService(handle, cache=service_cache, analytics=recorder, ranker=ranker)
        app[SEARCH] = service

        async def probe() -> None:
            service.view()

        app[keys.READINESS].add(ReadinessCheck("search", required=False, probe=probe))
        try:
            yield
        finally:
            ranker.close()
            if recorder is not None:
                await recorder.close()

    return search_feature


def _service(request: web.Request) -> SearchService:
    service = request.app.get(SEARCH)
    if service is None:
        raise ServiceUnavailable("Search is not running.", retry_after=1)
    return service


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


@operation(
    "Search every title in every language",
    tags=["search"],
    response=SearchPageSchema,
    errors=(400, 410, 503),
    description=(
        "Typo-tolerant search over romaji, English, Japanese and Chinese titles; exact matches "
        "rank over prefix matches over fuzzy ones. Page with `next_cursor`."
    ),
)
@querystring_schema(SearchQuerySchema)
async def search(request: web.Request) -> web.Response:
    """GET /api/search"""
    query = request.query
    q = validate_query(query.get("q"))
    kind = validate_kind(query.get("type"))
    genre = validate_genre(query.get("genre"))
    limit = validate_limit(query.get("limit"))
    cursor = validate_cursor(query.get("cursor"))
    body = await _service(request).search(
        q,
        kind=kind,
        genre=genre_slug(genre) if genre else None,
        limit=limit,
        cursor=cursor,
    )
    return _json(body)


@operation(
    "Search-box suggestions (typo-tolerant prefixes)",
    tags=["search"],
    response=SuggestionPageSchema,
    errors=(400, 503),
)
@querystring_schema(SuggestQuerySchema)
async def suggest(request: web.Request) -> web.Response:
    """GET /api/search/suggest"""
    q = validate_query(request.query.get("q"))
    limit = validate_limit(request.query.get("limit"), default=10)
    if limit > SUGGEST_MAX:
        raise ValidationFailed.field(
            "limit", f"must be an integer from 1 to {SUGGEST_MAX}", status=400
        )
    return _json(_service(request).suggest(q, limit))


def _window(raw: str | None) -> int:
    match = _WINDOW.match(raw or "24h")
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not 0 < seconds <= _MAX_WINDOW:
        raise ValidationFailed.field(
            "window", "must be a number and s, m, h or d, at most 90d (e.g. 24h)", status=400
        )
    return seconds


@operation(
    "Top search queries and queries with no result",
    tags=["admin"],
    response=SearchAnalyticsSchema,
    errors=(400, 503),
    auth="admin",
)
@querystring_schema(SearchAnalyticsQuerySchema)
async def analytics(request: web.Request) -> web.Response:
    """GET /admin/search/analytics?window=24h&limit=20"""
    authorize_admin(request, "search-analytics", "*")
    seconds = _window(request.query.get("window"))
    limit = validate_limit(request.query.get("limit"))
    service = _service(request)
    pool = request.app.get(keys.DB_POOL)
    if pool is None or service.analytics is None:
        raise ServiceUnavailable("Search analytics need PostgreSQL.")
    await service.analytics.flush()  # the view includes what is still buffered
    since = datetime.now(UTC) - timedelta(seconds=seconds)
    top = await query_counts(pool, since, limit, zero_results=False)
    zero = await query_counts(pool, since, limit, zero_results=True)
    audit_admin(request, "search-analytics", "*", "ok")
    body = {
        "since": since.isoformat().replace("+00:00", "Z"),
        "window_s": seconds,
        "top_queries": [{"query": r.query, "count": r.count} for r in top],
        "zero_result_queries": [{"query": r.query, "count": r.count} for r in zero],
        "recorder": service.analytics.stats(),
    }
    resp = _json(orjson.dumps(body))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def add_search_routes(app: web.Application) -> None:
    """Register the search routes (named, for `url_for`)."""
    r = Routes(app)
    r.get("/api/search", search, name="search")
    r.get("/api/search/suggest", suggest, name="search-suggest")
    r.get("/admin/search/analytics", analytics, name="admin-search-analytics")
