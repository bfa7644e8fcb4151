"""Quality check: the evaluation set against the full bundled catalog (not a timing test)."""

import functools
import json
from pathlib import Path

import pytest

from kensho.catalog import load_catalog
from kensho.search import SearchRecord, build_index, from_catalog_entry

EVAL = Path(__file__).parents[2] / "bench" / "data" / "search_eval.json"


@functools.cache
def load_records() -> tuple[SearchRecord, ...]:
    """Every anime of the bundled catalog as a `SearchRecord`."""
    return tuple(from_catalog_entry(e) for e in load_catalog().entries)


@pytest.mark.slow
def test_evaluation_set_meets_targets() -> None:
    queries = json.loads(EVAL.read_text(encoding="utf-8"))["queries"]
    assert len(queries) >= 150
    index = build_index(load_records())
    top1 = recall10 = 0
    misses = []
    for item in queries:
        got = [h.id for h in index.search(item["q"], limit=10).items]
        top1 += bool(got) and got[0] == item["expected"]
        recall10 += item["expected"] in got
        if not got or got[0] != item["expected"]:
            misses.append((item["q"], item["expected"], got[:3]))
    n = len(queries)
    # issue 16's target: every expected anime in the first ten, the first one at >= 99.4 %;
    # the work bounds of issue 10 (MAX_POSTINGS, SCORE_BUDGET) must not lower either number
    assert recall10 == n, misses
    assert top1 / n >= 0.994, misses


def test_every_expected_key_exists_in_the_catalog() -> None:
    queries = json.loads(EVAL.read_text(encoding="utf-8"))["queries"]
    keys = {r.id for r in load_records()}
    assert [q["expected"] for q in queries if q["expected"] not in keys] == []
    categories = {q["category"] for q in queries}
    assert {"typo", "en", "ja", "kana", "zh", "romaji", "punct", "partial"} <= categories
    assert {"kana_romaji", "kana_loanword"} <= categories
