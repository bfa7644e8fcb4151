import dataclasses
from collections.abc import Callable

import pytest
from search_sample import KEY, RECORDS

import kensho.search.index as index_module
from kensho.search import SearchIndex, SearchRecord, build_index, loading
from kensho.search.normalize import grams


def ids(index: SearchIndex, q: str, **kw: object) -> list[str]:
    return [h.id for h in index.search(q, limit=50, **kw).items]


def test_exact_beats_prefix_beats_fuzzy(index: SearchIndex) -> None:
    page = index.search("shingeki no kyojin", limit=10)
    assert page.items[0].id == "mal:16498"
    assert {h.id for h in page.items[1:3]} == {"mal:25777", "mal:18397"}
    exact, prefix = page.items[0], page.items[1]
    assert exact.score >= 300 > prefix.score >= 200

    fuzzy = index.search("shingeki no kyojn", limit=10).items
    assert fuzzy[0].id == "mal:16498"
    assert 100 <= fuzzy[0].score < 200  # a typo can only ever be a fuzzy match


def test_prefix_beats_a_better_fuzzy_match(index: SearchIndex) -> None:
    # "steins gate" is an exact title of one entry and a prefix of another; the prefix entry
    # ranks above any fuzzy neighbour however similar.
    assert ids(index, "steins gate")[:2] == ["mal:9253", "mal:30484"]
    assert ids(index, "steins")[:2] == ["mal:9253", "mal:30484"]


def test_popularity_breaks_exact_ties(index: SearchIndex) -> None:
    # "Mirai Nikki (TV)" is found as "mirai nikki" too; both are exact, the popular TV series wins.
    assert ids(index, "mirai nikki")[:2] == ["mal:10620", "mal:8460"]


def test_popularity_does_not_override_a_tier() -> None:
    obscure = SearchRecord("a", (("romaji", "Monster"),), popularity=0)
    famous = SearchRecord("b", (("romaji", "Monster Musume"),), popularity=2_000_000)
    index = build_index([obscure, famous], cursor_key=KEY)
    assert ids(index, "monster") == ["a", "b"]


@pytest.mark.parametrize(
    ("query", "expected", "lang"),
    [
        ("shingeki no kyojin", "mal:16498", "romaji"),
        ("attack on titan", "mal:16498", "en"),
        ("your name", "mal:32281", "en"),
        ("進撃の巨人", "mal:16498", "ja"),
        ("けいおん", "mal:5680", "ja"),
        ("ケイオン", "mal:5680", "ja"),  # katakana finds a hiragana title
        ("そーどあーとおんらいん", "mal:11757", "ja"),  # hiragana finds a katakana title
        ("君の名は", "mal:32281", "ja"),
        ("进击的巨人", "mal:16498", "zh-Hans"),
        ("進擊的巨人", "mal:16498", "zh-Hans"),  # both forms fold to one: the first wins
        ("刀剑神域", "mal:11757", "zh-Hans"),
        ("ōkami to kōshinryō", "mal:2966", "romaji"),
    ],
)
def test_each_language(index: SearchIndex, query: str, expected: str, lang: str) -> None:
    top = index.search(query, limit=1).items[0]
    assert (top.id, top.matched_lang) == (expected, lang)


@pytest.mark.parametrize(
    ("query", "expected", "lang"),
    [
        ("命運石之門", "mal:9253", "zh-Hans"),  # Steins;Gate is given only in simplified
        ("未來日記", "mal:10620", "ja"),  # traditional 來 meets the Japanese 来
    ],
)
def test_traditional_chinese_finds_titles_written_otherwise(
    index: SearchIndex, query: str, expected: str, lang: str
) -> None:
    top = index.search(query, limit=1).items[0]
    assert (top.id, top.matched_lang) == (expected, lang)


def test_partial_and_multi_word(index: SearchIndex) -> None:
    assert ids(index, "巨人")[0] == "mal:16498"  # a CJK substring
    assert ids(index, "titan attack")[0] == "mal:16498"  # words in another order
    assert ids(index, "kyojin")[0] == "mal:16498"  # a later word alone
    assert ids(index, "steinsgate")[0] == "mal:9253"  # words run together


def test_matched_title_is_the_original_text(index: SearchIndex) -> None:
    hit = index.search("steins gate", limit=1).items[0]
    assert hit.matched_title == "Steins;Gate"


def test_filters_kind_and_genre(index: SearchIndex) -> None:
    assert ids(index, "shingeki no kyojin", kind="ova") == ["mal:18397"]
    assert "mal:18397" not in ids(index, "shingeki no kyojin", kind="tv")
    assert ids(index, "shingeki no kyojin", genre="Drama") == ["mal:16498"]
    assert ids(index, "shingeki no kyojin", genre="no-such-genre") == []


def test_unrelated_and_empty_queries_find_nothing(index: SearchIndex) -> None:
    assert ids(index, "zzzzqqqq") == []
    assert ids(index, "!!!") == []
    assert ids(index, "\x00\x01") == []


def test_oversized_and_hostile_queries_are_safe(index: SearchIndex) -> None:
    for q in ("a" * 5000, "進" * 5000, "\u202e" + "gate", "' OR 1=1 --", "%00%ff", "🙂🙂🙂"):
        page = index.search(q, limit=5)
        assert len(page.items) <= 5


def test_scores_are_deterministic_across_builds() -> None:
    a = build_index(RECORDS, cursor_key=KEY)
    b = build_index(reversed(RECORDS), cursor_key=KEY)
    assert a.version == b.version
    assert a.search("gate", limit=50) == b.search("gate", limit=50)


def test_version_changes_with_data() -> None:
    a = build_index(RECORDS, cursor_key=KEY)
    changed = [dataclasses.replace(RECORDS[0], popularity=1), *RECORDS[1:]]
    assert build_index(changed, cursor_key=KEY).version != a.version


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_index([RECORDS[0], RECORDS[0]])


def test_snapshot_is_immutable(index: SearchIndex) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        index.postings["new"] = ()  # type: ignore[index]


def _common_index(n: int = 3000) -> SearchIndex:
    words = ["the", "no", "of", "movie", "season", "special", "love", "world"]
    records = [
        SearchRecord(f"e{i}", (("romaji", f"{words[i % 8]} {words[(i // 8) % 8]} title {i}"),))
        for i in range(n)
    ]
    records.append(SearchRecord("rare", (("romaji", "Zyzzogeton Quest"),), popularity=10))
    return build_index(records, cursor_key=KEY)


def test_a_long_common_query_does_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _common_index()
    counted: list[int] = []
    scored: list[str] = []

    class CountingCounter(index_module.Counter):  # type: ignore[misc,type-arg]
        def __init__(self, items: object) -> None:
            items = list(items)  # type: ignore[call-overload]
            counted.append(len(items))
            super().__init__(items)

    real_similarity = index_module._similarity

    def counting_similarity(*args: str) -> tuple[int, float]:
        scored.append(args[3])
        return real_similarity(*args)

    monkeypatch.setattr(index_module, "Counter", CountingCounter)
    monkeypatch.setattr(index_module, "_similarity", counting_similarity)
    query = " ".join(["the no of movie season special love world title"] * 5)[:200]
    index.search(query, limit=20)
    assert counted and max(counted) <= index_module.MAX_POSTINGS
    assert len(scored) <= index_module.SCORE_BUDGET // len(query.replace(" ", ""))


def test_the_rarest_grams_are_counted_first() -> None:
    index = _common_index()
    # Only one posting may be counted: it must be the rare title's, not a common one.
    assert index.candidates("zyzzogeton the the", max_postings=1)[:1] == [index.by_id["rare"]]


def test_a_query_whose_postings_fit_is_ranked_as_without_the_bound() -> None:
    index = _common_index()
    fitting = [
        q
        for q in ("love world", "title 12", "zyzzogeton", "movie the 7", "season special 12")
        if sum(len(index.postings.get(g, ())) for g in grams(q)) <= index_module.MAX_POSTINGS
    ]
    assert len(fitting) >= 3
    for q in fitting:
        assert index.candidates(q) == index.candidates(q, max_postings=10**9)


@pytest.fixture
def one_check_per_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dictionaries' load asks `cancelled()` once before it, none while it runs (a wait
    longer than any load), so the counts below do not depend on the machine's speed."""
    monkeypatch.setattr(loading, "POLL_SECONDS", 600.0)


def _stopping_after(checks: int) -> tuple[list[int], Callable[[], bool]]:
    """A `cancelled()` that says "stop" from its `checks`-th call on; records its calls."""
    calls: list[int] = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) >= checks

    return calls, cancelled


@pytest.mark.usefixtures("one_check_per_load")
def test_a_cancelled_build_gives_up_within_64_entries() -> None:
    records = [SearchRecord(f"id{i}", (("romaji", f"Title {i}"),)) for i in range(300)]
    _calls, cancelled = _stopping_after(3)  # stop is requested after entry 0's check
    with pytest.raises(index_module.BuildCancelled, match="cancelled after 64 of 300"):
        build_index(records, cancelled=cancelled)


@pytest.mark.usefixtures("one_check_per_load")
def test_a_build_cancelled_after_its_last_entry_still_gives_up() -> None:
    records = [SearchRecord(f"id{i}", (("romaji", f"Title {i}"),)) for i in range(100)]
    _calls, cancelled = _stopping_after(4)  # first, entries 0 and 64, then the final check
    with pytest.raises(index_module.BuildCancelled, match="after all 100 entries"):
        build_index(records, cancelled=cancelled)
    calls, never = _stopping_after(10**9)
    assert len(build_index(records, cancelled=never)) == 100
    assert len(calls) == 4


def test_a_build_stopped_before_it_starts_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[int] = []
    monkeypatch.setattr(index_module, "warm_kana", lambda: loaded.append(1))
    _calls, cancelled = _stopping_after(1)
    with pytest.raises(index_module.BuildCancelled, match="before the kana dictionaries"):
        build_index([SearchRecord("a", (("romaji", "A"),))], cancelled=cancelled)
    assert loaded == []  # the dictionaries (seconds on a loaded machine) were not loaded
