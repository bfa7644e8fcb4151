"""Search routes: `/api/search`, `/api/search/suggest` and the admin analytics view.

Handlers validate their query strings once with `kensho.search.validate` (each rejection a 400
problem naming the field), call `SearchService` (kensho.search.service) and answer its cached
representation with `Representations.respond_negotiated` (strong ETag, 304 on `If-None-Match`,
`Cache-Control: public, max-age=KENSHO_SEARCH_MAX_AGE` (search pages `private` while a
`search-ranking` rollout splits searchers), br/gzip/deflate by `Accept-Encoding`,
each coding compressed once per cached answer), as the catalog reads do. The hot path:
a request target seen before whose answer is in L1 is answered by `SearchService.cached`
without parsing its query string again. Like the catalog reads they are documented with
`document_route`, not decorated, so the envelope does not parse the same inputs a second time
with marshmallow.
"""

from __future__ import annotations

import re

import orjson
from aiohttp import web

from kensho.errors import ValidationFailed
from kensho.http import keys
from kensho.http.admin import audit_admin, authorize_admin
from kensho.http.flag_routes import subject_of
from kensho.http.operations import document_route, querystring_schema
from kensho.http.routing import Routes
from kensho.http.schemas.admin import SearchAnalyticsSchema
from kensho.http.schemas.search import (
    SearchAnalyticsQuerySchema,
    SearchPageSchema,
    SearchQuerySchema,
    SuggestionPageSchema,
    SuggestQuerySchema,
)
from kensho.http.services import need
from kensho.search import (
    validate_cursor,
    validate_genre,
    validate_kind,
    validate_limit,
    validate_query,
)
from kensho.search.service import COUNT_BYTES, SearchService
from kensho.store.catalog_queries import genre_slug

__all__ = ["SUGGEST_MAX", "add_search_routes"]

SUGGEST_MAX = 20
_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_WINDOW = 90 * 86400


def _service(request: web.Request) -> SearchService:
    return need(request.app, keys.SEARCH, "Search", retry_after=1)


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


async def search(request: web.Request) -> web.Response:
    """GET /api/search?q=&type=&genre=&limit=&cursor="""
    service = _service(request)
    reps = request.app[keys.REPRESENTATIONS]
    target = request.raw_path
    ranking = service.ranking(subject_of(request))  # the searcher's variant, evaluated once
    policy = service.page_policy()  # private while searchers get different variants
    value = service.cached(target, ranking)
    if value is not None:  # the hot path: a target seen before, its page in L1
        return reps.respond_negotiated(request, value, policy, COUNT_BYTES)
    query = request.query
    q = validate_query(query.get("q"))
    kind = validate_kind(query.get("type"))
    genre = validate_genre(query.get("genre"))
    limit = validate_limit(query.get("limit"))
    cursor = validate_cursor(query.get("cursor"))
    value = await service.search(
        q,
        kind=kind,
        genre=genre_slug(genre) if genre else None,
        limit=limit,
        cursor=cursor,
        target=target,
        ranking=ranking,
    )
    return reps.respond_negotiated(request, value, policy, COUNT_BYTES)


async def suggest(request: web.Request) -> web.Response:
    """GET /api/search/suggest?q=&limit="""
    service = _service(request)
    reps = request.app[keys.REPRESENTATIONS]
    target = request.raw_path
    value = service.cached(target)
    if value is not None:  # the hot path: a target seen before, its list in L1
        return reps.respond_negotiated(request, value, service.suggest_policy)
    q = validate_query(request.query.get("q"))
    limit = validate_limit(request.query.get("limit"), default=10)
    if limit > SUGGEST_MAX:
        raise ValidationFailed.field(
            "limit", f"must be an integer from 1 to {SUGGEST_MAX}", status=400
        )
    value = await service.suggest(q, limit, target=target)
    return reps.respond_negotiated(request, value, service.suggest_policy)


def _window(raw: str | None) -> int:
    match = _WINDOW.match(raw or "24h")
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not 0 < seconds <= _MAX_WINDOW:
        raise ValidationFailed.field(
            "window", "must be a number and s, m, h or d, at most 90d (e.g. 24h)", status=400
        )
    return seconds


async def analytics(request: web.Request) -> web.Response:
    """GET /admin/search/analytics?window=24h&limit=20"""
    authorize_admin(request, "search-analytics", "*")
    seconds = _window(request.query.get("window"))
    limit = validate_limit(request.query.get("limit"))
    report = await _service(request).analytics_report(seconds, limit)
    audit_admin(request, "search-analytics", "*", "ok")
    body = {
        "since": report.since.isoformat().replace("+00:00", "Z"),
        "window_s": seconds,
        "top_queries": [{"query": r.query, "count": r.count} for r in report.top],
        "zero_result_queries": [{"query": r.query, "count": r.count} for r in report.zero],
        "recorder": report.recorder,
    }
    resp = _json(orjson.dumps(body))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def add_search_routes(app: web.Application) -> None:
    """Register the search routes (named, for `url_for`) and describe them."""
    r = Routes(app)
    r.get("/api/search", search, name="search")
    r.get("/api/search/suggest", suggest, name="search-suggest")
    r.get("/admin/search/analytics", analytics, name="admin-search-analytics")
    document_route(
        app,
        "GET",
        "/api/search",
        "Search every title in every language",
        inputs=[querystring_schema(SearchQuerySchema)],
        tags=["search"],
        response=SearchPageSchema,
        errors=(400, 406, 410, 503),
        description=(
            "Typo-tolerant search over romaji, English, Japanese and Chinese titles; exact "
            "matches rank over prefix matches over fuzzy ones. Page with `next_cursor`. "
            "Strong ETag (If-None-Match gives 304 without a body), Cache-Control public "
            "max-age (KENSHO_SEARCH_MAX_AGE; private while a search-ranking rollout gives "
            "searchers different orders), br/gzip/deflate by Accept-Encoding (Vary: "
            "Accept-Encoding; 406 when no coding is acceptable)."
        ),
    )
    document_route(
        app,
        "GET",
        "/api/search/suggest",
        "Search-box suggestions (typo-tolerant prefixes)",
        inputs=[querystring_schema(SuggestQuerySchema)],
        tags=["search"],
        response=SuggestionPageSchema,
        errors=(400, 406, 503),
        description=(
            "Cached per normalised prefix. Strong ETag (If-None-Match gives 304 without a "
            "body), Cache-Control public max-age (KENSHO_SEARCH_MAX_AGE), br/gzip/deflate by "
            "Accept-Encoding (Vary: Accept-Encoding; 406 when no coding is acceptable)."
        ),
    )
    document_route(
        app,
        "GET",
        "/admin/search/analytics",
        "Top search queries and queries with no result",
        inputs=[querystring_schema(SearchAnalyticsQuerySchema)],
        tags=["admin"],
        response=SearchAnalyticsSchema,
        errors=(400, 503),
        auth="admin",
    )
