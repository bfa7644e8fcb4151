"""Katakana readings of Japanese titles written in Latin letters.

Many Japanese titles are spelled in Latin letters ("CLAYMORE", "DEATH NOTE", "ONE PIECE"), and
a Japanese user types them as the katakana loanword they read: "クレイモア". A Hepburn reading of
that query ("kureimoa") is no help: loanwords are spelled after the English, not the kana. So
the index also holds those titles with each Latin word replaced by its katakana reading, and a
katakana query meets them as kana.

The readings come from a table shipped with the package (``data/kana_readings.tsv``), made by
``tools/build_kana_readings.py`` with e2k (an English-to-katakana model) for every Latin word of
the bundled catalog's Japanese titles. Looking a word up costs nothing at run time; a word the
table lacks (a title that arrived after the table was made) keeps its letters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from importlib import resources

__all__ = [
    "MIN_KEY",
    "has_katakana",
    "kana_reading",
    "latin_words",
    "loanword_key",
    "reading_table",
]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_HAS_LETTER = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")  # ASCII or full-width, before NFKC
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


def latin_words(text: str) -> list[str]:
    """The Latin words of `text` as the table keys them: NFKC, case-folded, ASCII letters
    (an inner apostrophe kept: "jojo's")."""
    return _WORD.findall(_fold(text))


@functools.cache
def reading_table() -> Mapping[str, str]:
    """word -> katakana, loaded once (about 1,700 words)."""
    path = resources.files("kensho.search").joinpath("data/kana_readings.tsv")
    table: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            word, _, kana = line.partition("\t")
            if word and kana:
                table[word] = kana
    return table


def kana_reading(text: str) -> str | None:
    """`text` with every Latin word that has a reading replaced by it ("DEATH NOTE" ->
    "デス ノート"); None when no word has one (nothing new to index)."""
    if not _HAS_LETTER.search(text):  # most Japanese titles: no Latin letter, no work
        return None
    table = reading_table()
    found = False

    def read(match: re.Match[str]) -> str:
        nonlocal found
        kana = table.get(match.group())
        if kana is None:
            return match.group()
        found = True
        return f" {kana} "

    out = _WORD.sub(read, _fold(text))
    return out if found else None


#: hiragana -> consonant class; vowels, glides (や, わ), ん, っ and ー have none
_CLASSES = {
    **dict.fromkeys("かきくけこがぎぐげご", "K"),
    **dict.fromkeys("さしすせそざじずぜぞちつぢづ", "S"),
    **dict.fromkeys("たてとだでど", "T"),
    **dict.fromkeys("なにぬねの", "N"),
    **dict.fromkeys("はひふへほ", "H"),
    **dict.fromkeys("ばびぶべぼぱぴぷぺぽゔ", "B"),
    **dict.fromkeys("まみむめも", "M"),
    **dict.fromkeys("らりるれろ", "R"),
}
_SILENT = frozenset("あいうえおぁぃぅぇぉやゆよゃゅょわをゎゐゑんっー ")
#: shorter keys name too many words to be worth a match
MIN_KEY = 3


def loanword_key(norm: str) -> str | None:
    """The consonant skeleton of a normalised all-kana string, for loanwords whose katakana
    spellings differ in vowels, length marks and ん: "トライガン" and e2k's "トリガン" are both
    ``TRK``, "フェアリーテイル" and "フェアリーテール" ``HRTR``, "シャーロット" and "チャロット"
    ``SRT``. Upper-case Latin, which no normalised title contains, so keys meet only keys.
    None unless every character is kana and at least `MIN_KEY` consonants remain."""
    key = []
    for ch in norm:
        cls = _CLASSES.get(ch)
        if cls is not None:
            key.append(cls)
        elif ch not in _SILENT:
            return None
    return "".join(key) if len(key) >= MIN_KEY else None


def has_katakana(text: str) -> bool:
    """Loanwords are written in katakana (full- or half-width): only such a query gets a
    `loanword_key`, so a hiragana query never meets a reading by skeleton alone."""
    return any("\u30a1" <= c <= "\u30fa" or "\uff66" <= c <= "\uff9d" for c in text)
