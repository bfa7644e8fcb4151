"""/metrics shows the search load: latency by answer (cached vs ranked) and the search actor's
view reads (searches read its published view, so its processed messages stay near 1)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .conftest import MakeSearchApp, SearchApp


async def _series(app: SearchApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await app.client.get("/metrics")
    assert resp.status == 200
    out = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


async def test_searches_are_timed_by_answer_and_counted_as_view_reads(
    make_search_app: MakeSearchApp,
) -> None:
    app = await make_search_app()
    before = await _series(app)
    # ranked; the same page by its cache key; a repeated request target, twice, answered on
    # the route's synchronous hot path (counted, not timed: microseconds; it reads the view);
    # a suggestion list answered there is not a search
    for path in (
        "/api/search?q=naruto",
        "/api/search?q=%20NARUTO%20",
        "/api/search?q=naruto",
        "/api/search?q=naruto",
        "/api/search/suggest?q=nar",
        "/api/search/suggest?q=nar",
    ):
        resp = await app.client.get(path)
        assert resp.status == 200
    after = await _series(app)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("search_duration_seconds_count", answer="ranked") == 1
    assert delta("search_duration_seconds_count", answer="cached") == 1
    assert delta("search_memo_answers_total") == 2
    assert delta("actor_view_reads_total", actor="search") >= 3
    assert delta("actor_messages_processed_total", actor="search") == 0
