"""Katakana loanword queries: readings of Latin Japanese titles and consonant-skeleton keys."""

from __future__ import annotations

import pytest

from kensho.catalog import load_catalog
from kensho.search import SearchRecord, build_index
from kensho.search.normalize import compact, normalize
from kensho.search.readings import (
    MIN_KEY,
    has_katakana,
    kana_reading,
    latin_words,
    loanword_key,
    reading_table,
)


def test_latin_words_are_folded_like_the_table() -> None:
    assert latin_words("ＣＬＡＹＭＯＲＥ") == ["claymore"]
    assert latin_words("JoJo’s Bizarre 2") == ["jojo's", "bizarre"]
    assert latin_words("進撃の巨人") == []


def test_a_latin_japanese_title_gets_a_katakana_reading() -> None:
    assert compact(normalize(kana_reading("CLAYMORE") or "")) == normalize("クレイモア")
    assert compact(normalize(kana_reading("DEATH NOTE") or "")) == normalize("デスノート")
    mixed = kana_reading("進撃の巨人 Season3")
    assert mixed is not None and mixed.startswith("進撃の巨人") and mixed.endswith("3")
    assert kana_reading("進撃の巨人") is None  # nothing to read
    assert kana_reading("qzxv") is None  # no reading known: no extra form


def test_every_latin_word_of_the_bundles_japanese_titles_has_a_reading() -> None:
    """The table is made from the bundle; rebuild it (tools/build_kana_readings.py) with it."""
    table = reading_table()
    words = {
        w
        for e in load_catalog().entries
        for t in e.titles
        if t.lang == "ja"
        for w in latin_words(t.text)
    }
    assert sorted(words - table.keys()) == []
    assert all(has_katakana(k) for k in table.values())


def test_loanword_keys_ignore_vowels_length_and_n() -> None:
    pairs = [
        ("トライガン", "トリガン"),  # TRIGUN, as typed and as e2k reads it
        ("クラナド", "クランナド"),
        ("フェアリーテイル", "フェアリーテール"),
        ("シャーロット", "チャロット"),
        ("ｸﾗﾅﾄﾞ", "クラナド"),  # half-width katakana
    ]
    for typed, read in pairs:
        assert loanword_key(normalize(typed)) == loanword_key(normalize(read)) is not None
    assert loanword_key(normalize("デスノート")) != loanword_key(normalize("ワンピース"))


@pytest.mark.parametrize(
    "hostile",
    ["", "アキラ", "ー" * 5_000, "クレイモア進撃", "claymore", "ｸ\u0000ﾚ", "\ud800", "ア" * 100],
)
def test_loanword_key_refuses_what_it_cannot_key(hostile: str) -> None:
    key = loanword_key(normalize(hostile))
    assert key is None or (len(key) >= MIN_KEY and key.isupper() and key.isascii())


def test_has_katakana() -> None:
    assert has_katakana("クレイモア") and has_katakana("ｸﾚｲﾓｱ")
    assert not has_katakana("くれいもあ") and not has_katakana("claymore")


RECORDS = [
    SearchRecord("claymore", (("romaji", "Claymore"), ("ja", "CLAYMORE")), popularity=316_853),
    SearchRecord("trigun", (("romaji", "Trigun"), ("ja", "TRIGUN")), popularity=297_051),
    SearchRecord("clannad", (("romaji", "Clannad"), ("ja", "CLANNAD")), popularity=566_690),
    SearchRecord(
        "movie", (("romaji", "Clannad Movie"), ("ja", "劇場版 CLANNAD -クラナド-")), popularity=1
    ),
    SearchRecord("samurai", (("ja", "サムライガン"),), popularity=30_000),
]


def test_katakana_loanwords_find_latin_japanese_titles() -> None:
    index = build_index(RECORDS)

    def top(q: str) -> str | None:
        items = index.search(q).items
        return items[0].id if items else None

    # "kureimoa", the Hepburn reading, meets no title: the katakana reading does (exact)
    assert top("クレイモア") == "claymore" and index.search("クレイモア").items[0].score >= 300
    # spelled otherwise than the reading (トリガン): found by skeleton, above fuzzy neighbours
    hit = index.search("トライガン").items[0]
    assert (hit.id, hit.matched_title) == ("trigun", "TRIGUN") and 200 <= hit.score < 300
    # the popular series over the movie whose title merely contains the katakana
    assert top("クラナド") == "clannad"
    # hiragana is no loanword: the skeleton is not used (no match above the fuzzy tier)
    assert all(h.score < 200 for h in index.search("とらいがん").items)
    # Latin queries never meet the katakana forms or their keys
    assert [h.id for h in index.search("TRK").items] == []
