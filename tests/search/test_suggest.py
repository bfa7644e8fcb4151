from search_sample import KEY

from kensho.search import SearchIndex, SearchRecord, build_index


def titles(index: SearchIndex, prefix: str, limit: int = 10) -> list[str]:
    return [s.title for s in index.suggest(prefix, limit)]


def test_prefix_suggestions_most_popular_first(index: SearchIndex) -> None:
    assert titles(index, "shin")[:3] == [
        "Shingeki no Kyojin",
        "Shingeki no Kyojin Season 2",
        "Shingeki no Kyojin OVA",
    ]


def test_one_suggestion_per_entry_in_the_language_typed(index: SearchIndex) -> None:
    got = index.suggest("進撃", 10)
    assert [s.id for s in got] == ["mal:16498", "mal:25777"]
    assert [s.lang for s in got] == ["ja", "ja"]
    assert len({s.id for s in index.suggest("s", 50)}) == len(index.suggest("s", 50))


def test_exact_title_comes_first_even_if_less_popular() -> None:
    index = build_index(
        [
            SearchRecord("a", (("romaji", "Monster Musume"),), popularity=900),
            SearchRecord("b", (("romaji", "Monster"),), popularity=10),
        ],
        cursor_key=KEY,
    )
    assert [s.id for s in index.suggest("monster", 5)] == ["b", "a"]


def test_typo_tolerant(index: SearchIndex) -> None:
    assert titles(index, "shingekk no")[0] == "Shingeki no Kyojin"
    assert titles(index, "stiens")[0] == "Steins;Gate"
    assert titles(index, "sowrd art")[0] == "Sword Art Online"


def test_limit_and_empty_inputs(index: SearchIndex) -> None:
    assert len(index.suggest("g", 3)) == 3
    assert index.suggest("", 10) == []
    assert index.suggest("   ", 10) == []
    assert index.suggest("!!", 10) == []
    assert index.suggest("gate", 0) == []
    assert index.suggest("qqqqzzzz", 10) == []


def test_hostile_prefixes_are_safe(index: SearchIndex) -> None:
    for prefix in ("\x00", "a" * 5000, "\u202e", "進" * 500):
        assert len(index.suggest(prefix, 5)) <= 5
