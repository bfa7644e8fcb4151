"""The display title of a catalog entry: the one title a front end shows as a heading.

The sources' titles are community data: "attack on titan Season2", "SWORD ART ONLINE",
"Hayate the combat butler 2nd season". The catalog keeps every title as the sources spell it
(search matches them all) and chooses one display title per entry deliberately, by the rules of
`display_title` (also in docs/catalog.md). Used by ``tools/build_catalog.py``; pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["casing", "display_title", "headline_case", "spaced_numbers"]

#: Words an English title keeps in lower case unless it starts the title.
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "nor", "of", "on", "or"}
    | {"the", "to", "vs", "via", "with", "no", "wa", "ga", "wo", "ni", "de"}
    | {"la", "le", "les", "du", "des", "et"}
)
_WORDS = re.compile(r"\S+")
_LATIN = re.compile(r"[A-Za-z]")
#: a numbering word glued to its number: "Season2", "Part.2", "SEASON3" (not "S2", "Persona5")
_GLUED_NUMBER = re.compile(
    r"(?<![A-Za-z])(season|part|cour|chapter|stage|volume|vol|phase)(\.?)(?=\d)", re.IGNORECASE
)
#: what may stand before a word's first letter ('"attack', '(season', '-starting')
_LEADING = "\"'([{-"
#: casing grades of an English title (higher reads better as a heading)
POOR, CAPS, CASED = 0, 1, 2


def _letters_key(text: str) -> str:
    """Same words whatever the case, spacing or punctuation: "SWORD ART ONLINE" ~
    "Sword Art Online", "DEADMAN WONDER LAND" ~ "Deadman Wonderland"."""
    return "".join(c for c in text.casefold() if c.isalnum())


def _small(word: str) -> bool:
    return word.strip(_LEADING + ".,!?:;…").casefold() in _SMALL_WORDS


def casing(text: str) -> int:
    """`POOR`: the first word, or most words that are not small words, are all lower-case
    ("attack on titan Season2", "Hayate the combat butler 2nd season"); `CAPS`: no lower-case
    letter at all ("SWORD ART ONLINE", a stylisation); else `CASED`. A word with a capital
    inside ("eX-Driver", "xxxHOLiC") is cased: that is a brand, not an accident."""
    words = [w for w in _WORDS.findall(text) if any(c.isalpha() for c in w)]
    if not words:
        return CASED
    if not any(c.islower() for w in words for c in w):
        return CAPS

    def lower(word: str) -> bool:
        bare = word.lstrip(_LEADING)
        return bare[:1].islower() and not any(c.isupper() for c in bare)

    significant = [w for i, w in enumerate(words) if i == 0 or not _small(w)]
    if lower(words[0]) or 2 * sum(map(lower, significant)) > len(significant):
        return POOR
    return CASED


def headline_case(text: str) -> str:
    """'attack on titan Season2' -> 'Attack on Titan Season2': the first letter of every word
    that is all lower-case, except small words after the first; other letters stay as the source
    has them ('handa-kun' -> 'Handa-kun', 'KOI' stays)."""

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        if any(c.isupper() for c in word) or (match.start() > 0 and _small(word)):
            return word
        lead = len(word) - len(word.lstrip(_LEADING))
        if lead < len(word) and word[lead].isalpha():  # "2nd", "11eyes" stay
            return word[:lead] + word[lead].upper() + word[lead + 1 :]
        return word

    return _WORDS.sub(fix, text)


def spaced_numbers(text: str) -> str:
    """'attack on titan Season2' -> '... Season 2', 'Part.2' -> 'Part 2', 'Vol.1' -> 'Vol. 1'."""

    def space(match: re.Match[str]) -> str:
        word, dot = match.groups()
        return f"{word}{dot} " if word.casefold() == "vol" else f"{word} "

    return _GLUED_NUMBER.sub(space, text)


def _best_cased(text: str, titles: Sequence[Sequence[str]]) -> str:
    """`text` or the best-cased title of the entry with the same words (any Latin source:
    English, romaji, a Japanese title written in Latin letters); `text` wins a tie."""
    key = _letters_key(text)
    best, grade = text, casing(text)
    for lang, other in titles:
        if lang in ("en", "romaji", "ja") and _letters_key(other) == key:
            other_grade = casing(other)
            if other_grade > grade:
                best, grade = other, other_grade
    return best


def display_title(titles: Sequence[Sequence[str]]) -> str:
    """The title a front end shows (docs/catalog.md, "Display title").

    1. English (bangumi-data's official translation), in source order: the first one that reads
       well, each replaced by a better-cased spelling of the same words when a source has one
       ("SWORD ART ONLINE" -> the romaji "Sword Art Online"); when every English title is
       poorly cased, the first one headline-cased ("attack on titan" -> "Attack on Titan").
    2. Else the romaji (MyAnimeList's curated spelling, kept unless a source spells the same
       words better cased), then Japanese, then Chinese.
    Numbering words glued to their number are spaced ("Season2" -> "Season 2").
    """
    # an "English" title with no Latin letter is a mislabelled translation (Chinese, usually)
    english = [text for lang, text in titles if lang == "en" and _LATIN.search(text)]
    for text in english:
        best = _best_cased(text, titles)
        if casing(best) > POOR:
            return spaced_numbers(best)
    if english:
        return spaced_numbers(headline_case(english[0]))
    for lang in ("romaji", "ja", "zh-Hans", "zh-Hant"):
        for tlang, text in titles:
            if tlang == lang:
                return spaced_numbers(_best_cased(text, titles))
    return "Untitled"
