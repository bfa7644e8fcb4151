"""Opaque, signed search pagination cursors (`kensho.signing.CursorCodec`, scope "search").

A cursor carries the keyset position `(score, id)` of the last item served, the index version
it was served from and a fingerprint of the query. Scores are a pure function of (query,
entry), so the same data rebuilt continues exactly; a different index version cannot promise
"no duplicates, no gaps" and is answered with `Gone` (410).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kensho.errors import BadRequest, Gone
from kensho.signing import MAX_CURSOR_LENGTH, CursorCodec, InvalidCursor

__all__ = ["MAX_CURSOR_LENGTH", "CursorPosition", "decode_cursor", "encode_cursor", "fingerprint"]

_SCOPE = "search"


@dataclass(frozen=True, slots=True)
class CursorPosition:
    """Where the next page starts: strictly after `(score, id)` in (score desc, id asc) order."""

    score: float
    id: str


def fingerprint(norm_query: str, kind: str | None, genre: str | None) -> str:
    """A short hash naming the result set a cursor belongs to."""
    raw = "\x1f".join((norm_query, kind or "", genre or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def encode_cursor(key: bytes, *, version: str, query_fp: str, position: CursorPosition) -> str:
    """Sign and encode a position; the result is URL-safe."""
    payload = {"v": version, "q": query_fp, "s": position.score, "i": position.id}
    return CursorCodec(key).encode(_SCOPE, payload)


def decode_cursor(key: bytes, cursor: str, *, version: str, query_fp: str) -> CursorPosition:
    """Verify and decode a cursor for this query and index version.

    Raises `BadRequest` for anything malformed, forged or minted for another query, and `Gone`
    for a genuine cursor from an index version that no longer exists.
    """
    try:
        data = CursorCodec(key).decode(_SCOPE, cursor)
    except InvalidCursor as exc:
        raise BadRequest(f"cursor: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"v", "q", "s", "i"}:
        raise BadRequest("cursor is malformed")
    score, entry_id = data["s"], data["i"]
    if (
        not isinstance(data["v"], str)
        or not isinstance(data["q"], str)
        or not isinstance(entry_id, str)
        or isinstance(score, bool)
        or not isinstance(score, int | float)
    ):
        raise BadRequest("cursor is malformed")
    if data["q"] != query_fp:
        raise BadRequest("cursor belongs to a different query")
    if data["v"] != version:
        raise Gone("the search index changed since this cursor was issued; start again")
    return CursorPosition(score=float(score), id=entry_id)
