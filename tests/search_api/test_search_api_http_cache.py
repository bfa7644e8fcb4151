"""HTTP caching of search and suggestions: ETag/304, Cache-Control, the suggestion cache.

Conditional requests are checked on both routes, on the first request of a target (the slow
path: inputs parsed, page from the cache) and on a repeated one (the hot path: the memoised
target); the suggestion cache is checked for sharing per normalised prefix, single flight, and
invalidation when the index is rebuilt (through the service and behind its back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from kensho.config import ConfigError, load_config
from kensho.search import service as search_service
from kensho.search.protocol import Rebuild
from kensho.search.service import SearchService
from kensho.store.search_queries import CatalogSearchRow

from .conftest import MakeSearchApp, fresh_database, seed
from .test_search_api_endpoints import get_json

ROUTES = ("/api/search?q=naruto", "/api/search/suggest?q=naru")
#: the same answers under other spellings of the query (same normalised text: not memoised)
OTHER_SPELLING = {ROUTES[0]: "/api/search?q=NARUTO!", ROUTES[1]: "/api/search/suggest?q=NARU"}

FRESH = CatalogSearchRow(
    id="GZZTEST02",
    title="Zzyzx Wanderers",
    kind="tv",
    genres=("Comedy",),
    members=1,
    rating=None,
    titles=(("romaji", "Zzyzx Wanderers"),),
    external_ids={},
)


async def _etag(app: Any, path: str) -> str:
    resp = await app.client.get(path)
    assert resp.status == 200
    await resp.read()
    return str(resp.headers["ETag"])


@pytest.mark.parametrize("path", ROUTES)
async def test_answers_carry_a_strong_etag_and_cache_control(
    make_search_app: MakeSearchApp, path: str
) -> None:
    app = await make_search_app()
    first = await app.client.get(path)
    body = await first.read()
    again = await app.client.get(path)  # the hot path
    assert await again.read() == body
    for resp in (first, again):
        etag = resp.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34  # strong
        assert resp.headers["Cache-Control"] == "public, max-age=30"
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Vary"] == "Accept-Encoding"  # sent in br/gzip when accepted
    assert first.headers["ETag"] == again.headers["ETag"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("hot", [False, True], ids=["first-request", "seen-before"])
@pytest.mark.parametrize(
    ("condition", "status"),
    [
        ("{etag}", 304),
        ("W/{etag}", 304),  # If-None-Match compares weakly (RFC 9110 §13.1.2)
        ('"00000000000000000000000000000000"', 200),
        ('"a", {etag}', 304),
        ('"a" , "b",W/"c"', 200),
        ("*", 304),
        ("{bare}", 200),  # malformed (no quotes): ignored, the request is unconditional
        ('{etag}, "unterminated', 304),  # the match comes before the malformed rest
        ('"unterminated, {etag}', 200),
        ("{many}, {etag}", 200),  # past the 64 tags parsed: not looked at
        ('"' + "x" * 8000 + '"', 200),  # oversized tag
        ("", 200),
    ],
)
async def test_conditional_requests(
    make_search_app: MakeSearchApp, path: str, hot: bool, condition: str, status: int
) -> None:
    app = await make_search_app()
    etag = await _etag(app, path)
    target = path if hot else OTHER_SPELLING[path]
    header = condition.format(
        etag=etag, bare=etag.strip('"'), many=", ".join(f'"t{i}"' for i in range(64))
    )
    resp = await app.client.get(target, headers={"If-None-Match": header})
    body = await resp.read()
    assert resp.status == status
    assert resp.headers["ETag"] == etag
    assert resp.headers["Cache-Control"] == "public, max-age=30"
    if status == 304:
        assert body == b""
    else:
        assert body.startswith(b'{"items":[')


async def test_a_changed_answer_has_a_new_etag(
    make_search_app: MakeSearchApp,
    make_database: Callable[[], str],
    catalog_rows: list[CatalogSearchRow],
) -> None:
    async with fresh_database(make_database, catalog_rows) as dsn:
        app = await make_search_app(dsn=dsn)
        before = {
            p: await _etag(app, p) for p in ("/api/search?q=zzyzx", "/api/search/suggest?q=zzyz")
        }
        await asyncio.to_thread(seed, dsn, [*catalog_rows, FRESH])
        await app.service.rebuild("catalog-sync")
        for path, etag in before.items():
            resp = await app.client.get(path, headers={"If-None-Match": etag})
            body = await resp.json()
            assert resp.status == 200 and resp.headers["ETag"] != etag
            assert FRESH.id in [i["id"] for i in body["items"]]


async def test_max_age_is_configurable(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app(settings={"search_max_age": 5})
    for path in ROUTES:
        resp = await app.client.get(path)
        assert resp.headers["Cache-Control"] == "public, max-age=5"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KENSHO_SEARCH_MAX_AGE", "-1"),
        ("KENSHO_SEARCH_MAX_AGE", "3601"),
        ("KENSHO_SEARCH_MAX_AGE", "30s"),
        ("KENSHO_SEARCH_MAX_AGE", "1.5"),
        ("KENSHO_SEARCH_MAX_AGE", "9" * 400),
        ("KENSHO_SEARCH_SUGGEST_TTL", "0"),
        ("KENSHO_SEARCH_SUGGEST_TTL", "nan"),
        ("KENSHO_SEARCH_SUGGEST_TTL", "inf"),
        ("KENSHO_SEARCH_SUGGEST_TTL", "1e9"),
    ],
)
def test_cache_settings_are_validated(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({name: value})


def test_cache_settings_are_read() -> None:
    config = load_config({"KENSHO_SEARCH_MAX_AGE": "0", "KENSHO_SEARCH_SUGGEST_TTL": "2.5"})
    assert config.search_max_age == 0 and config.search_suggest_ttl == 2.5


# -- the suggestion cache -------------------------------------------------------------------


def _count_suggestion_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = SearchService._suggestions

    def counted(view: Any, q: str, limit: int) -> bytes:
        calls.append(q)
        return original(view, q, limit)

    monkeypatch.setattr(SearchService, "_suggestions", staticmethod(counted))
    return calls


async def test_suggestions_are_cached_per_normalised_prefix(
    make_search_app: MakeSearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_suggestion_builds(monkeypatch)
    app = await make_search_app()
    first = await get_json(app, "/api/search/suggest?q=shinge")
    for q in ["shinge", "SHINGE", "%20Shinge%20", "ｓｈｉｎｇｅ"]:  # full-width folds too
        assert await get_json(app, f"/api/search/suggest?q={q}") == first
    assert calls == ["shinge"]
    await get_json(app, "/api/search/suggest?q=shinge&limit=3")  # another limit: its own list
    assert len(calls) == 2


async def test_concurrent_misses_of_one_prefix_compute_it_once(
    make_search_app: MakeSearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_suggestion_builds(monkeypatch)
    app = await make_search_app()
    spellings = ["naru", "NARU", "Naru", "naRU", "%20naru", "naru%20"] * 3
    bodies = await asyncio.gather(*(get_json(app, f"/api/search/suggest?q={q}") for q in spellings))
    assert all(b == bodies[0] for b in bodies) and bodies[0]["items"]
    assert calls == [calls[0]]  # one computation for all eighteen


@pytest.mark.parametrize("through", ["service", "actor"])
async def test_a_rebuild_invalidates_cached_suggestions(
    make_search_app: MakeSearchApp,
    make_database: Callable[[], str],
    catalog_rows: list[CatalogSearchRow],
    through: str,
) -> None:
    """Through the service, the suggestion cache is dropped; behind its back (the actor
    rebuilt by itself, e.g. after a restart), the index version in the key still tells."""
    async with fresh_database(make_database, catalog_rows) as dsn:
        app = await make_search_app(dsn=dsn)
        path = "/api/search/suggest?q=zzyzx"
        assert (await get_json(app, path))["items"] == []
        assert (await get_json(app, path))["items"] == []  # now cached (and memoised)
        same = await app.service.rebuild("catalog-sync")  # same data: same version
        assert (await get_json(app, path))["items"] == []
        await asyncio.to_thread(seed, dsn, [*catalog_rows, FRESH])
        if through == "service":
            info = await app.service.rebuild("catalog-sync")
            assert len(app.service.suggestions.l1) == 0
        else:
            info = await app.service.handle.ask(Rebuild(reason="test"), timeout=60)
        assert info.version != same.version
        items = (await get_json(app, path))["items"]
        assert [i["id"] for i in items] == [FRESH.id]


# -- the memo of targets seen before ------------------------------------------------------


async def test_only_answered_targets_are_remembered_and_the_memo_is_bounded(
    make_search_app: MakeSearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_service, "_KNOWN_MAX", 3)
    app = await make_search_app()
    for path in ["/api/search?q=", "/api/search?q=a&limit=999", "/api/search/suggest?q=%00"]:
        for _ in range(2):  # a rejected target stays rejected: it was never remembered
            await get_json(app, path, 400)
    await get_json(app, "/api/search?q=gate&cursor=AAAA.AAAA", 400)  # a forged cursor
    assert app.service.known == {}
    for q in ["nar", "one", "ble", "gat", "kim"]:
        await get_json(app, f"/api/search/suggest?q={q}")
    assert 1 <= len(app.service.known) <= 3


async def test_a_remembered_search_is_not_served_from_an_older_index(
    make_search_app: MakeSearchApp,
    make_database: Callable[[], str],
    catalog_rows: list[CatalogSearchRow],
) -> None:
    """The actor rebuilds behind the service's back: the version check on the hot path and the
    version in the key send the remembered target to the new index."""
    async with fresh_database(make_database, catalog_rows) as dsn:
        app = await make_search_app(dsn=dsn)
        path = "/api/search?q=zzyzx%20wanderers"
        for _ in range(2):
            assert FRESH.id not in [i["id"] for i in (await get_json(app, path))["items"]]
        assert path in app.service.known
        await asyncio.to_thread(seed, dsn, [*catalog_rows, FRESH])
        await app.service.handle.ask(Rebuild(reason="test"), timeout=60)
        assert (await get_json(app, path))["items"][0]["id"] == FRESH.id
