"""Content-coding negotiation from `Accept-Encoding` (RFC 9110 §12.5.3).

`negotiate` picks the coding with the highest q-value among those we produce (br, gzip,
deflate, identity); ties go to the smaller output (br > gzip > deflate > identity). `*` stands
for every coding the header does not name, identity included; `identity;q=0` (or `*;q=0`
without identity) forbids uncompressed bodies. Identity not named is acceptable but ranks below
every coding the client named. No acceptable coding at all is a 406. A missing
header means "anything", and we answer identity, as most servers do for old clients. A
`Negotiator` (one per app) memoises results per header value: clients send a handful of
distinct headers, and parsing is the expensive part of a hot read. The codings themselves are
produced by `kensho.catalog.representation.compress`.
"""

from __future__ import annotations

import re
from typing import Final

from kensho.catalog.representation import CODINGS
from kensho.errors import NotAcceptable

__all__ = ["Negotiator", "acceptable", "choose"]

_MAX_HEADER = 1024
_MAX_ITEMS = 32
_MEMO_LIMIT = 256
_ITEM = re.compile(r"^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*(?:;\s*[qQ]\s*=\s*([0-9.]{1,5})\s*)?$")
_IMPLICIT_IDENTITY: Final = 0.001


def _qvalue(raw: str | None) -> float | None:
    if raw is None:
        return 1.0
    try:
        q = float(raw)
    except ValueError:
        return None
    return q if 0.0 <= q <= 1.0 else None


def _parse(header: str) -> dict[str, float]:
    """Coding -> q for each well-formed item; malformed items are skipped (be liberal)."""
    out: dict[str, float] = {}
    for item in header[:_MAX_HEADER].split(",")[:_MAX_ITEMS]:
        if not item.strip():
            continue
        match = _ITEM.match(item)
        if match is None:
            continue
        q = _qvalue(match.group(2))
        if q is None:
            continue
        coding = match.group(1).lower()
        if coding == "x-gzip":
            coding = "gzip"
        out[coding] = max(q, out.get(coding, q))
    return out


def choose(header: str | None) -> tuple[str, bool]:
    """(best coding, whether identity is acceptable); raises `NotAcceptable`."""
    if header is None:
        return "identity", True
    prefs = _parse(header)
    star = prefs.get("*")
    scores: dict[str, float] = {}
    for coding in CODINGS:
        if coding in prefs:
            scores[coding] = prefs[coding]
        elif star is not None:
            scores[coding] = star
        elif coding == "identity":
            # Acceptable unless excluded (RFC 9110 §12.5.3), but below any coding the client
            # named: "gzip;q=0.1" still means "I can gunzip".
            scores[coding] = _IMPLICIT_IDENTITY
        else:
            scores[coding] = 0.0
    best = max(CODINGS, key=lambda c: (scores[c], -CODINGS.index(c)))
    if scores[best] <= 0.0:
        raise NotAcceptable(
            "No acceptable content coding: this server sends br, gzip, deflate or identity."
        )
    return best, scores["identity"] > 0.0


def acceptable(header: str | None, coding: str) -> bool:
    """Whether `Accept-Encoding: header` accepts `coding` (explicitly or through `*`)."""
    if header is None:
        return coding == "identity"
    prefs = _parse(header)
    return prefs.get(coding, prefs.get("*", 0.0)) > 0.0


class Negotiator:
    """`choose`, memoised per header value (bounded; cleared when full)."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[str | None, tuple[str, bool]] = {}

    def negotiate(self, header: str | None) -> tuple[str, bool]:
        """The coding to use for `Accept-Encoding: header` and whether identity is acceptable.

        Raises `NotAcceptable` (406) when the client accepts none of our codings.
        """
        hit = self._memo.get(header)
        if hit is not None:
            return hit
        result = choose(header)
        if header is not None and len(header) > _MAX_HEADER:
            return result
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[header] = result
        return result
