"""Search-box suggestions: what the user is probably typing, tolerant of a typo or two.

Exact prefixes come first (most popular first, a title equal to the input before all), then,
when those do not fill the list, titles whose beginning is within a small edit distance of the
input, found through the index's n-gram candidates and the popular titles that share the first
two characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Protocol

from rapidfuzz import fuzz

from kensho.search.normalize import compact, normalize
from kensho.search.records import SearchRecord

__all__ = ["MIN_PREFIX_SIMILARITY", "Suggestion", "TitleIndex", "suggest"]

MIN_PREFIX_SIMILARITY = 75.0
_FUZZY_CANDIDATES = 100


class TitleIndex(Protocol):
    """What suggestions read of a `kensho.search.index.SearchIndex` (which calls `suggest`)."""

    @property
    def records(self) -> Sequence[SearchRecord]: ...
    @property
    def title_entry(self) -> Sequence[int]: ...
    @property
    def title_text(self) -> Sequence[str]: ...
    @property
    def title_lang(self) -> Sequence[str]: ...
    @property
    def title_compact(self) -> Sequence[str]: ...

    def prefixed(self, qc: str, cap: int = ...) -> list[int]: ...

    def candidates(self, norm: str, *, limit: int, min_share: float) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A completion: the entry's key and the title (in the language that matched)."""

    id: str
    title: str
    lang: str


def suggest(index: TitleIndex, prefix: str, limit: int = 10) -> list[Suggestion]:
    """Up to `limit` suggestions for `prefix`, one per entry."""
    norm = normalize(prefix)
    pc = compact(norm)
    if not pc or limit <= 0:
        return []
    chosen: dict[int, int] = {}  # entry -> title, in output order

    def take(titles: list[int]) -> None:
        for t in titles:
            if len(chosen) >= limit:
                return
            chosen.setdefault(index.title_entry[t], t)

    prefixed = index.prefixed(pc)
    take([t for t in prefixed if index.title_compact[t] == pc])
    take(prefixed)
    if len(chosen) < limit and len(pc) >= 3:
        fuzzy: list[tuple[float, int]] = []
        # Popular titles sharing the first two characters catch typos that leave no trigram.
        near = chain(
            index.prefixed(pc[:2]),
            index.candidates(norm, limit=_FUZZY_CANDIDATES, min_share=0.3),
        )
        for t in dict.fromkeys(near):
            if index.title_entry[t] in chosen:
                continue
            tc = index.title_compact[t]
            sim = fuzz.ratio(pc, tc[: len(pc)])
            if sim >= MIN_PREFIX_SIMILARITY:
                fuzzy.append((-sim, t))
        fuzzy.sort()
        take([t for _, t in fuzzy])
    return [
        Suggestion(id=index.records[e].id, title=index.title_text[t], lang=index.title_lang[t])
        for e, t in chosen.items()
    ]
