"""Opaque, signed pagination cursors.

A cursor carries the keyset position `(score, id)` of the last item served, the index version
it was served from and a fingerprint of the query, all HMAC-signed with a server key. Scores are
a pure function of (query, entry), so the same data rebuilt continues exactly; a different
index version cannot promise "no duplicates, no gaps" and is answered with `Gone` (410).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from kensho.errors import BadRequest, Gone

__all__ = ["MAX_CURSOR_LENGTH", "CursorPosition", "decode_cursor", "encode_cursor", "fingerprint"]

MAX_CURSOR_LENGTH = 512
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{22}$")
_MAC_BYTES = 16


@dataclass(frozen=True, slots=True)
class CursorPosition:
    """Where the next page starts: strictly after `(score, id)` in (score desc, id asc) order."""

    score: float
    id: str


def fingerprint(norm_query: str, kind: str | None, genre: str | None) -> str:
    """A short hash naming the result set a cursor belongs to."""
    raw = "\x1f".join((norm_query, kind or "", genre or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES])


def encode_cursor(key: bytes, *, version: str, query_fp: str, position: CursorPosition) -> str:
    """Sign and encode a position; the result is URL-safe."""
    payload = json.dumps(
        {"v": version, "q": query_fp, "s": position.score, "i": position.id},
        separators=(",", ":"),
        ensure_ascii=True,
    )
    body = _b64(payload.encode("ascii"))
    return f"{body}.{_mac(key, body)}"


def decode_cursor(key: bytes, cursor: str, *, version: str, query_fp: str) -> CursorPosition:
    """Verify and decode a cursor for this query and index version.

    Raises `BadRequest` for anything malformed, forged or minted for another query, and `Gone`
    for a genuine cursor from an index version that no longer exists.
    """
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH or not _SHAPE.match(cursor):
        raise BadRequest("cursor is malformed")
    body, mac = cursor.split(".")
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise BadRequest("cursor is not valid")
    try:
        data = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is malformed") from None
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
