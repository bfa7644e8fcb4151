"""The `search-ranking` flag: relevance (score order) vs popular-first, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from kensho.flags import SEARCH_RANKING, FeatureFlags, Setting, parse_setting
from kensho.flags.model import decide
from kensho.http import keys
from kensho.search.service import POPULAR_FIRST, RELEVANCE

from .conftest import MakeSearchApp

QUERY = "/api/search?q=the&limit=10"
_KINDS = {"exact": 3, "prefix": 2, "fuzzy": 1}


def flags_with(setting: Setting) -> FeatureFlags:
    return FeatureFlags(configured={SEARCH_RANKING.key: setting})


async def page(app: Any, path: str = QUERY) -> list[dict[str, Any]]:
    resp = await app.client.get(path)
    body = await resp.json()
    assert resp.status == 200, body
    return list(body["items"])


def popular_order(items: list[dict[str, Any]]) -> list[str]:
    ranked = sorted(items, key=lambda i: (-_KINDS[i["match_kind"]], -i["popularity"], i["id"]))
    return [i["id"] for i in ranked]


async def test_relevance_is_score_order_and_popular_first_reorders(
    make_search_app: MakeSearchApp,
) -> None:
    relevance = await make_search_app(cache=False, flags=flags_with(SEARCH_RANKING.builtin()))
    items = await page(relevance)
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    # the query has hits whose score order is not their popularity order: the flag matters
    assert [i["id"] for i in items] != popular_order(items)

    popular = await make_search_app(
        cache=False, flags=flags_with(Setting(enabled=True, default_variant=POPULAR_FIRST))
    )
    reordered = await page(popular)
    assert [i["id"] for i in reordered] == popular_order(items)  # same hits, popular first
    counts = popular.app[keys.FLAGS].evaluations
    assert counts == {(SEARCH_RANKING.key, POPULAR_FIRST): 1}


async def test_pages_of_both_variants_hold_the_same_hits(make_search_app: MakeSearchApp) -> None:
    relevance = await make_search_app(cache=False)  # no flags service: relevance
    popular = await make_search_app(
        cache=False, flags=flags_with(Setting(enabled=True, default_variant=POPULAR_FIRST))
    )
    pages = []
    for app in (relevance, popular):
        first = await app.client.get("/api/search?q=the&limit=4")
        body = await first.json()
        cursor = body["next_cursor"]
        second = await page(app, f"/api/search?q=the&limit=4&cursor={cursor}")
        pages.append(({i["id"] for i in body["items"]}, {i["id"] for i in second}))
    assert pages[0] == pages[1]  # each page partitions the same hits


async def test_the_cache_keeps_variants_apart(
    make_search_app: MakeSearchApp,
) -> None:
    everyone = parse_setting(
        SEARCH_RANKING, {"default_variant": "relevance", "rollout": {POPULAR_FIRST: 100}}
    )
    app = await make_search_app(cache=True, flags=flags_with(SEARCH_RANKING.builtin()))
    cached_relevance = await page(app)
    # flip to everyone popular-first (as a Redis override would): the cached relevance page
    # must not be served to the other variant
    app.app[keys.FLAGS].configure({SEARCH_RANKING.key: everyone})
    flipped = await page(app)
    assert [i["id"] for i in flipped] == popular_order(cached_relevance)
    app.app[keys.FLAGS].configure({SEARCH_RANKING.key: SEARCH_RANKING.builtin()})
    assert await page(app) == cached_relevance


async def test_answers_are_private_while_a_rollout_splits_searchers(
    make_search_app: MakeSearchApp,
) -> None:
    """A CDN keys on the URL (and Vary): it must not keep pages whose order depends on the
    searcher's bucket, which no header names. Unsplit settings keep them public."""
    half = parse_setting(
        SEARCH_RANKING, {"default_variant": "relevance", "rollout": {POPULAR_FIRST: 50}}
    )
    everyone = parse_setting(
        SEARCH_RANKING, {"default_variant": "relevance", "rollout": {POPULAR_FIRST: 100}}
    )
    app = await make_search_app(flags=flags_with(half))
    flags = app.app[keys.FLAGS]
    rounds = [(half, "private"), (everyone, "public"), (half, "private")]
    for n, (setting, scope) in enumerate(rounds, 1):
        flags.configure({SEARCH_RANKING.key: setting})
        fresh = f"/api/search?q={'%20' * n}the&limit=10"  # the same query, a target not seen
        for path in (QUERY, fresh):
            for _ in range(2):  # the first request of a target, then the hot path
                resp = await app.client.get(path)
                await resp.read()
                assert resp.status == 200
                assert resp.headers["Cache-Control"] == f"{scope}, max-age=30", (setting, path)
                etag = resp.headers["ETag"]
            revalidated = await app.client.get(path, headers={"If-None-Match": etag})
            assert revalidated.status == 304
            assert revalidated.headers["Cache-Control"] == f"{scope}, max-age=30"
    suggest = await app.client.get("/api/search/suggest?q=the")
    assert suggest.headers["Cache-Control"] == "public, max-age=30"  # not ranked by the flag
    flags.configure({SEARCH_RANKING.key: Setting(enabled=False, default_variant="relevance")})
    resp = await app.client.get(QUERY)
    assert resp.headers["Cache-Control"] == "public, max-age=30"


def _subjects_by_variant(setting: Setting) -> dict[str, str]:
    """A forwarded client address (TEST-NET-3) for each variant `setting` hands out."""
    found: dict[str, str] = {}
    for n in range(1, 255):
        address = f"203.0.113.{n}"
        found.setdefault(decide(SEARCH_RANKING, setting, f"client:{address}").variant, address)
    assert set(found) == {RELEVANCE, POPULAR_FIRST}
    return found


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-proxy", "untrusted-peer"])
async def test_the_searcher_is_the_client_the_trusted_proxy_names(
    make_search_app: MakeSearchApp, trusted: bool
) -> None:
    """Behind a balancer the peer is the balancer: bucketing by it would put every searcher
    in one variant. The subject is the client id rate limits use (`client_identity`)."""
    half = parse_setting(
        SEARCH_RANKING, {"default_variant": "relevance", "rollout": {POPULAR_FIRST: 50}}
    )
    clients = _subjects_by_variant(half)
    peer = decide(SEARCH_RANKING, half, "client:127.0.0.1").variant  # the test client's address
    settings = {"trusted_proxies": "127.0.0.0/8"} if trusted else {}
    app = await make_search_app(flags=flags_with(half), settings=settings)
    reference = await page(app)  # by the peer's variant
    relevance = sorted(reference, key=lambda i: -i["score"])
    assert [i["id"] for i in relevance] != popular_order(relevance)  # the variants differ
    for variant, address in clients.items():
        resp = await app.client.get(QUERY, headers={"X-Forwarded-For": f"198.51.100.7, {address}"})
        items = (await resp.json())["items"]
        expected = variant if trusted else peer
        if expected == POPULAR_FIRST:
            assert [i["id"] for i in items] == popular_order(relevance), (variant, address)
        else:
            assert items == relevance, (variant, address)
