"""/api/search and /api/search/suggest over HTTP: shapes, languages, paging, validation, cache."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any
from urllib.parse import quote

import pytest

from kensho.http import keys
from kensho.http.schemas.search import SearchPageSchema, SuggestionPageSchema
from kensho.search.service import SearchService

from .conftest import MakeSearchApp

AOT = "GR751KNZY"  # Shingeki no Kyojin / Attack on Titan


async def get_json(app: Any, path: str, status: int = 200) -> Any:
    resp = await app.client.get(path)
    body = await resp.json(content_type=None)
    assert resp.status == status, body
    return body


async def test_search_shape_matches_schema(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    body = await get_json(app, "/api/search?q=attack%20on%20titan&limit=3")
    assert SearchPageSchema().validate(body) == {}
    first = body["items"][0]
    assert first["id"] == AOT
    assert first["titles"]["ja"] == "進撃の巨人"
    assert first["external_ids"]["mal"] == "16498"
    assert first["type"] == "tv" and first["popularity"] > 0 and first["genres"]
    assert first["match_kind"] == "exact" and 0.75 < first["score"] <= 1
    assert [i["score"] for i in body["items"]] == sorted(
        (i["score"] for i in body["items"]), reverse=True
    )


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        ("Shingeki no Kyojin", "romaji"),
        ("attack on titan", "en"),
        ("進撃の巨人", "ja"),
        ("进击的巨人", "zh-Hans"),
        ("shingeki no kyojn", "romaji"),  # a typo
        ("ＳＨＩＮＧＥＫＩ　ＮＯ　ＫＹＯＪＩＮ", "romaji"),  # full-width
    ],
)
async def test_each_language_finds_the_series(
    make_search_app: MakeSearchApp, query: str, lang: str
) -> None:
    app = await make_search_app(cache=False)
    body = await get_json(app, f"/api/search?q={quote(query)}&limit=5")
    assert body["items"][0]["id"] == AOT
    assert body["items"][0]["matched_lang"] == lang


async def test_filters_by_type_and_genre(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app(cache=False)
    movies = await get_json(app, "/api/search?q=gate&type=MOVIE&limit=50")
    assert movies["items"] and {i["type"] for i in movies["items"]} == {"movie"}
    everything = await get_json(app, "/api/search?q=gate&limit=50")
    assert len(everything["items"]) > len(movies["items"])
    by_slug = await get_json(app, "/api/search?q=kimi&genre=slice-of-life&limit=50")
    by_name = await get_json(app, "/api/search?q=kimi&genre=Slice%20of%20Life&limit=50")
    assert by_slug["items"] and by_slug == by_name
    assert all("Slice of Life" in i["genres"] for i in by_slug["items"])
    none = await get_json(app, "/api/search?q=gate&genre=no-such-genre")
    assert none == {"items": [], "next_cursor": None}


async def test_pagination_has_no_duplicates_or_gaps(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    full = await get_json(app, "/api/search?q=gate&limit=50")
    assert full["next_cursor"] is None and len(full["items"]) > 7
    expected = [i["id"] for i in full["items"]]
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        path = "/api/search?q=gate&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = await get_json(app, path)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_second_identical_query_is_a_cache_hit(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    assert app.cache is not None
    first = await get_json(app, "/api/search?q=naruto")
    loads = app.cache.counters["loads"]
    hits = app.cache.lookups["l1"]
    second = await get_json(app, "/api/search?q=%20NARUTO%20")  # same normalised query
    assert second == first
    assert app.cache.counters["loads"] == loads
    assert app.cache.lookups["l1"] == hits + 1


async def test_suggest(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    body = await get_json(app, "/api/search/suggest?q=shinge&limit=5")
    assert SuggestionPageSchema().validate(body) == {}
    assert AOT in [s["id"] for s in body["items"]]
    assert len(body["items"]) <= 5
    typo = await get_json(app, "/api/search/suggest?q=naurto")
    assert "GY9PJ5KWR" in [s["id"] for s in typo["items"]]  # Naruto
    await get_json(app, "/api/search/suggest?q=x&limit=21", 400)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20%20", "q"),
        ("q=" + "a" * 201, "q"),
        ("q=abc%00def", "q"),
        ("q=abc%07", "q"),
        ("q=abc%E2%80%AE", "q"),  # right-to-left override
        ("q=naruto&limit=0", "limit"),
        ("q=naruto&limit=51", "limit"),
        ("q=naruto&limit=-1", "limit"),
        ("q=naruto&limit=abc", "limit"),
        ("q=naruto&limit=1e3", "limit"),
        ("q=naruto&limit=%D9%A3", "limit"),  # Arabic-Indic digit three
        ("q=naruto&type=cartoon", "type"),
        ("q=naruto&genre=" + "g" * 41, "genre"),
        ("q=naruto&genre=a%0Ab", "genre"),
        ("q=naruto&cursor=" + "A" * 513, "cursor"),
        ("q=naruto&cursor=%C3%A9t%C3%A9", "cursor"),
    ],
)
async def test_invalid_parameters_are_400_naming_the_field(
    make_search_app: MakeSearchApp, query: str, field: str
) -> None:
    app = await make_search_app(cache=False)
    body = await get_json(app, f"/api/search?{query}", 400)
    assert body["errors"][0]["field"] == field
    assert body["status"] == 400


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",  # no signature
        "e30.AAAAAAAAAAAAAAAAAAAAAA",  # "{}" with a wrong MAC
        "not a cursor at all",
    ],
)
async def test_malformed_or_forged_cursor_is_400(
    make_search_app: MakeSearchApp, cursor: str
) -> None:
    app = await make_search_app()
    body = await get_json(app, f"/api/search?q=gate&cursor={quote(cursor)}", 400)
    assert "cursor" in body["detail"]


async def test_cursor_of_another_query_or_key_is_400(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    page = await get_json(app, "/api/search?q=gate&limit=2")
    cursor = page["next_cursor"]
    assert cursor
    other = await get_json(app, f"/api/search?q=naruto&cursor={cursor}", 400)
    assert "different query" in other["detail"]
    body, mac = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    await get_json(app, f"/api/search?q=gate&cursor={forged}", 400)


async def test_hostile_query_text_is_just_text(make_search_app: MakeSearchApp) -> None:
    app = await make_search_app()
    for text in ["'; DROP TABLE series; --", "%s%s%s", "<script>alert(1)</script>", "🙂" * 200]:
        body = await get_json(app, f"/api/search?q={quote(text)}")
        assert isinstance(body["items"], list)
    again = await get_json(app, "/api/search?q=naruto&limit=1")
    assert again["items"][0]["id"] == "GY9PJ5KWR"


async def test_uncached_searches_are_ranked_one_per_loop_turn(
    make_search_app: MakeSearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default (`KENSHO_SEARCH_THREADS=0`): rankings run on the loop, but never two in
    one loop iteration, so a probe waits for one bounded ranking at most, never a queue."""
    app = await make_search_app(cache=False)
    turns = 0
    seen: list[tuple[str, int]] = []
    page = SearchService._page

    def recorded_page(*args: Any, **kwargs: Any) -> bytes:
        seen.append((threading.current_thread().name, turns))
        return page(*args, **kwargs)

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    monkeypatch.setattr(SearchService, "_page", staticmethod(recorded_page))
    ticking = asyncio.create_task(ticker())
    try:
        queries = [quote(f"the {word} " * 15) for word in ("love", "world", "school", "girl")]
        answers = await asyncio.gather(*(app.client.get(f"/api/search?q={q}") for q in queries))
    finally:
        ticking.cancel()
    assert [a.status for a in answers] == [200] * 4
    assert {name for name, _ in seen} == {threading.current_thread().name}  # on the loop
    marks = [mark for _, mark in seen]
    assert len(marks) == 4 and all(b > a for a, b in itertools.pairwise(marks))


async def test_with_ranking_threads_the_loop_answers_while_a_search_is_ranked(
    make_search_app: MakeSearchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await make_search_app(cache=False, settings={"search_threads": 1})
    ranking, release = threading.Event(), threading.Event()
    threads: list[str] = []
    page = SearchService._page

    def held_page(*args: Any, **kwargs: Any) -> bytes:
        threads.append(threading.current_thread().name)
        ranking.set()
        release.wait(10)
        return page(*args, **kwargs)

    monkeypatch.setattr(SearchService, "_page", staticmethod(held_page))
    search = asyncio.create_task(app.client.get("/api/search?q=" + quote("the " * 40)))
    try:
        assert await asyncio.to_thread(ranking.wait, 5)
        live = await app.client.get("/health/live")  # the loop answers while it ranks
        assert live.status == 200
    finally:
        release.set()
    assert (await search).status == 200
    assert threads and threads[0].startswith("search-rank")


async def test_without_postgresql_search_answers_and_records_no_analytics(
    make_search_app: MakeSearchApp,
) -> None:
    """No pool: the index comes from the actor's own loader, and nothing records analytics
    (there is nowhere to flush them), so searching and shutting down need no database."""
    app = await make_search_app(with_pool=False)
    body = await get_json(app, "/api/search?q=naruto&limit=1")
    assert body["items"][0]["id"] == "GY9PJ5KWR"
    assert app.app[keys.SEARCH].analytics is None
