"""Text normalisation and tokenisation shared by indexing and querying.

Both sides go through the same `normalize()`, so every fold here only has to be consistent,
not linguistically perfect: "Shingeki no Kyojin", "ＳＨＩＮＧＥＫＩ  no kyōjin" and
"shingeki-no-kyoujin" meet in one form. Kana and kanji are kept (katakana folded to
hiragana, traditional Chinese characters to simplified: "進擊的巨人" and "进击的巨人" meet); CJK
has no spaces, so tokens and candidate grams over CJK runs are bigrams.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources
from typing import Any

import pykakasi

__all__ = ["compact", "grams", "is_cjk", "kana_romaji", "normalize", "tokens", "warm_kana"]

# Apostrophes join ("JoJo's" -> "jojos"); "×" is how Japanese titles write " x ".
_SPECIAL = {"'": "", "’": "", "‘": "", "`": "", "´": "", "×": " x "}
# Romaji spelling variants folded to one form: long vowels (ō/ou/oo -> o, ū/uu -> u, any
# doubled vowel -> one), Kunrei "tu" for Hepburn "tsu", the particle "wo" written "o".
_OU = re.compile(r"ou")
_LONG_VOWEL = re.compile(r"([aeiou])\1+")
_TSU_WO = re.compile(r"tsu|\bwo\b")
_SPACES = re.compile(r"\s+")


def is_cjk(ch: str) -> bool:
    """Kana, CJK ideographs, Hangul and their marks: scripts written without spaces."""
    o = ord(ch)
    return (
        (0x3040 <= o <= 0x30FF and o not in (0x30A0, 0x30FB))  # kana, not ゠ and ・
        or 0x3400 <= o <= 0x9FFF  # CJK ideographs (ext. A + unified)
        or 0xAC00 <= o <= 0xD7AF  # Hangul syllables
        or 0xF900 <= o <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= o <= 0x3FFFF  # supplementary ideographs
        or o in (0x3005, 0x3006, 0x3007)  # 々 〆 〇
    )


def _load_hanzi_fold() -> dict[str, str]:
    """Traditional -> simplified, one character each (built by tools/build_hanzi_fold.py)."""
    text = resources.files("kensho.search").joinpath("data/hanzi_fold.txt").read_text("utf-8")
    return {line[0]: line[1] for line in text.splitlines() if len(line) == 2}


_HANZI_FOLD = _load_hanzi_fold()


class _CharTable(dict[int, str]):
    """`str.translate` table computed lazily per code point, so the hot path stays in C."""

    def __missing__(self, o: int) -> str:
        ch = chr(o)
        out = self._fold(ch)
        self[o] = out
        return out

    @staticmethod
    def _fold(ch: str) -> str:
        if ch in _SPECIAL:
            return _SPECIAL[ch]
        o = ord(ch)
        if 0x30A1 <= o <= 0x30F6 or o in (0x30FD, 0x30FE):  # katakana -> hiragana
            return chr(o - 0x60)
        if is_cjk(ch) or o == 0x30FC:  # keep kana, kanji, the long-vowel mark
            return _HANZI_FOLD.get(ch, ch)
        cat = unicodedata.category(ch)
        if cat[0] in "PSZC":  # punctuation, symbols, separators, controls -> word break
            return " "
        if cat[0] == "M":  # stray combining marks
            return ""
        if o < 0x2E80:  # Latin, Greek, Cyrillic: strip accents (ō -> o, é -> e)
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            return base or ch
        return ch


_TABLE = _CharTable()


def normalize(text: str) -> str:
    """Fold `text` to the matching form: NFKC, case-folded, accents and punctuation stripped,
    katakana as hiragana, traditional Chinese as simplified, romaji variants folded, single
    spaces, trimmed."""
    s = unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)
    if any(c.isascii() and c.isalpha() for c in s):
        s = _OU.sub("o", s)
        s = _LONG_VOWEL.sub(r"\1", s)
        s = _TSU_WO.sub(lambda m: "tu" if m.group() == "tsu" else "o", s)
    return _SPACES.sub(" ", s).strip()


@functools.cache
def _kakasi() -> Any:
    """pykakasi's converter: loading its dictionaries takes ~0.5 s, so `warm_kana()` does it
    where blocking is allowed (the index build), not on the first query."""
    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


def warm_kana() -> None:
    """Load the transliteration dictionaries now (call off the event loop)."""
    _kakasi()


def _is_kana(ch: str) -> bool:
    o = ord(ch)
    return 0x3041 <= o <= 0x3096 or o in (0x30FC, 0x309D, 0x309E)  # hiragana, ー, ゝゞ


#: Longest kana query given a romaji reading: longer than any title (the longest is about 70
#: characters), and a reading costs ~4 ms of pure-Python work per 200 kana (bounded work).
KANA_READING_MAX = 80


def kana_romaji(norm: str) -> str | None:
    """A query typed in kana only (``しんげきのきょじん``), as normalised Hepburn romaji
    (``shingekinokyojin``), so it can meet romaji titles; None for any other query.

    Takes a `normalize()`d string (katakana already folded to hiragana). Kanji queries are left
    alone: they meet the Japanese titles themselves.
    """
    if not norm or len(norm) > KANA_READING_MAX or not all(_is_kana(c) or c == " " for c in norm):
        return None
    romaji = " ".join(part["hepburn"] for part in _kakasi().convert(norm))
    return normalize(romaji) or None


def compact(norm: str) -> str:
    """The normalised form without spaces: "steins gate" and "steinsgate" compare equal."""
    return norm.replace(" ", "")


def _runs(text: str) -> list[tuple[bool, str]]:
    """Split into maximal (is_cjk, run) pieces."""
    out: list[tuple[bool, str]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or is_cjk(text[i]) != is_cjk(text[start]):
            out.append((is_cjk(text[start]), text[start:i]))
            start = i
    return out


def tokens(norm: str) -> list[str]:
    """Word tokens of a normalised string; CJK runs become character bigrams."""
    out: list[str] = []
    for word in norm.split():
        if word.isascii():
            out.append(word)
            continue
        for cjk, run in _runs(word):
            if cjk and len(run) > 1:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
            else:
                out.append(run)
    return out


def grams(norm: str) -> set[str]:
    """Candidate-generation grams: trigrams over non-CJK runs, bigrams over CJK runs.

    Computed on the compact form so that word boundaries typed differently still share grams;
    runs shorter than the gram size contribute themselves.
    """
    text = compact(norm)
    if not text:
        return set()
    pieces = [(False, text)] if text.isascii() else _runs(text)
    out: set[str] = set()
    for cjk, run in pieces:
        n = 2 if cjk else 3
        if len(run) <= n:
            out.add(run)
        else:
            out.update(run[i : i + n] for i in range(len(run) - n + 1))
    return out
