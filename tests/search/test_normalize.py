import pytest

from kensho.search import SearchRecord, build_index
from kensho.search.normalize import (
    KANA_READING_MAX,
    compact,
    grams,
    kana_romaji,
    normalize,
    tokens,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Shingeki no Kyojin", "shingeki no kyojin"),
        ("  SHINGEKI   no\tKyojin  ", "shingeki no kyojin"),
        ("ＳＨＩＮＧＥＫＩ　ｎｏ　ＫＹＯＪＩＮ", "shingeki no kyojin"),  # full-width forms
        ("Steins;Gate", "steins gate"),
        ("Kimi no Na wa.", "kimi no na wa"),
        ("Re:Zero", "re zero"),
        ("JoJo's Bizarre Adventure", "jojos bizarre adventure"),
        ("Café Pokémon", "cafe pokemon"),  # accents stripped
        ("HUNTER×HUNTER", "hunter x hunter"),
        ("Lucky☆Star", "lucky star"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_latin_folding(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "variants",
    [
        ("Ōkami to Kōshinryō", "Ookami to Koushinryou", "okami to koshinryo"),
        ("Suzumiya Haruhi no Yuuutsu", "suzumiya haruhi no yūutsu", "Suzumiya Haruhi no Yutsu"),
        ("Toki wo Kakeru Shoujo", "toki o kakeru shojo"),
        ("Zero no Tsukaima", "zero no tukaima"),
        ("Kyōkai no Kanata", "Kyoukai no Kanata", "kyokai no kanata"),
    ],
)
def test_romaji_variants_meet(variants: tuple[str, ...]) -> None:
    assert len({normalize(v) for v in variants}) == 1


def test_kana_kanji_kept_and_katakana_folded_to_hiragana() -> None:
    # kanji stay, except that forms shared with traditional Chinese fold like Chinese does
    assert normalize("進撃の巨人") == "进撃の巨人"
    assert normalize("ソードアート・オンライン") == "そーどあーと おんらいん"
    assert normalize("ｿｰﾄﾞｱｰﾄ") == normalize("そーどあーと")  # half-width katakana
    assert normalize("けいおん！") == "けいおん"
    # Voiced kana keep their dakuten: が is not か.
    assert normalize("ガ") == "が" != normalize("カ")


def test_chinese_kept_with_traditional_folded_to_simplified() -> None:
    assert normalize("进击的巨人 第二季") == "进击的巨人 第二季"
    assert normalize("刀劍神域") == normalize("刀剑神域") == "刀剑神域"
    assert normalize("進擊的巨人") == normalize("进击的巨人")
    # Japanese-only forms are not Chinese: kana and shinjitai stay as they are
    assert normalize("進撃の巨人") == "进撃の巨人"
    assert normalize("鋼の錬金術師") == normalize("钢の錬金术师")


def test_normalize_is_idempotent() -> None:
    for raw in (
        "Suzumiya Haruhi no Yuuutsu",
        "ソードアート・オンライン",
        "Ｆａｔｅ／Ｚｅｒｏ",
        "wo wo",
    ):
        once = normalize(raw)
        assert normalize(once) == once


def test_hostile_input_does_not_raise() -> None:
    for raw in ("\x00\x1b[31m", "\u202etxet", "a" * 10_000, "\ud800", "🙂" * 50, "\u0301\u0301"):
        out = normalize(raw)
        assert isinstance(out, str)
        assert "\x00" not in out and "\x1b" not in out and "\u202e" not in out


def test_tokens_split_words_and_cjk_bigrams() -> None:
    assert tokens("shingeki no kyojin") == ["shingeki", "no", "kyojin"]
    assert tokens("進撃の巨人") == ["進撃", "撃の", "の巨", "巨人"]
    assert tokens("進撃の巨人 season2") == ["進撃", "撃の", "の巨", "巨人", "season2"]
    assert tokens("巨") == ["巨"]


def test_grams_ignore_spaces_and_use_bigrams_for_cjk() -> None:
    assert grams(normalize("Steins;Gate")) == grams(normalize("steinsgate"))
    assert grams("進撃の巨人") == {"進撃", "撃の", "の巨", "巨人"}
    assert grams("ab") == {"ab"}
    assert grams("") == set()
    assert compact("steins gate") == "steinsgate"


def test_kana_queries_get_a_romaji_reading() -> None:

    assert kana_romaji(normalize("しんげきのきょじん")) == "shingekinokyojin"
    assert kana_romaji(normalize("シンゲキノキョジン")) == "shingekinokyojin"
    for other in ("進撃の巨人", "attack on titan", "しんげき巨人", "", "ー" * 500):
        assert kana_romaji(normalize(other)) is None, other


def test_a_kana_query_finds_the_kanji_and_romaji_title() -> None:

    records = [
        SearchRecord(
            id="aot",
            titles=(("ja", "進撃の巨人"), ("romaji", "Shingeki no Kyojin")),
            kind="tv",
            genres=(),
            popularity=100,
        ),
        SearchRecord(id="other", titles=(("ja", "しんげき"),), kind="tv", genres=(), popularity=1),
    ]
    index = build_index(records)
    assert [h.id for h in index.search("しんげきのきょじん").items][:1] == ["aot"]


def test_a_kana_query_longer_than_any_title_gets_no_reading() -> None:
    assert kana_romaji("の" * KANA_READING_MAX) is not None
    assert kana_romaji("の" * (KANA_READING_MAX + 1)) is None  # bounded work per query
