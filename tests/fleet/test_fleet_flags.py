"""Feature flags across the fleet: a PUT on one replica flips the flag on another, no restart."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .cluster import MakeFleet, wait_until

FLAG = "/admin/flags/search-ranking"
_KINDS = {"exact": 3, "prefix": 2, "fuzzy": 1}
#: Queries with several hits of one match kind; the test uses the first whose score order is
#: not its popularity order (so the two variants answer differently).
CANDIDATES = ("the", "no", "boku", "one", "love", "hero", "kimi", "dragon")


def popular_first(items: list[dict[str, Any]]) -> list[str]:
    ranked = sorted(items, key=lambda i: (-_KINDS[i["match_kind"]], -i["popularity"], i["id"]))
    return [i["id"] for i in ranked]


async def test_a_put_on_one_replica_flips_the_flag_on_another(make_fleet: MakeFleet) -> None:
    # An hour between re-reads: only the pub/sub announcement can carry the change in time.
    async with make_fleet(replicas=2, settings={"KENSHO_FLAGS_REFRESH": "3600"}) as fleet:
        a, b = fleet.replicas
        status, flags = await b.admin("GET", "/admin/flags")
        assert status == 200 and flags["redis"] == "up"
        assert flags["flags"][0]["source"] == "default"

        before: list[dict[str, Any]] = []
        for q in CANDIDATES:
            status, page = await b.request("GET", f"/api/search?q={quote(q)}&limit=10")
            assert status == 200, page
            scores = [i["score"] for i in page["items"]]
            assert scores == sorted(scores, reverse=True)  # relevance: score order
            if [i["id"] for i in page["items"]] != popular_first(page["items"]):
                path, before = f"/api/search?q={quote(q)}&limit=10", page["items"]
                break
        assert before, "no candidate query orders differently by popularity"

        setting = {"default_variant": "relevance", "rollout": {"popular-first": 100}}
        status, flag = await a.admin("PUT", FLAG, json_body=setting)
        assert status == 200 and flag["source"] == "redis", flag

        async def followed() -> bool:
            _, doc = await b.admin("GET", "/admin/flags")
            return bool(doc["flags"][0]["source"] == "redis")

        await wait_until(followed, seconds=10, what="b to follow a's change")
        status, after = await b.request("GET", path)
        assert status == 200
        # Judged on the answer itself (a catalog sync finishing meanwhile may rebuild the
        # index): popular-first order, which is not the score order it used to answer in.
        items = after["items"]
        assert [i["id"] for i in items] == popular_first(items)
        scores = [i["score"] for i in items]
        assert scores != sorted(scores, reverse=True), items
        _, doc = await b.admin("GET", "/admin/flags")
        assert doc["flags"][0]["evaluations"].get("popular-first", 0) >= 1
        status, text = await b.request("GET", "/metrics")
        assert 'feature_flag_state{flag="search-ranking",variant="popular-first"} 100.0' in text

        # and back: the override dropped on b reaches a
        status, flag = await b.admin("DELETE", FLAG)
        assert status == 200 and flag["source"] == "default"

        async def reset() -> bool:
            _, doc = await a.admin("GET", "/admin/flags")
            return bool(doc["flags"][0]["source"] == "default")

        await wait_until(reset, seconds=10, what="a to follow b's reset")
