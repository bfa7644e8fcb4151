"""Opaque, HMAC-signed keyset cursors for list endpoints (browse, episodes).

A cursor carries the sort key of the last item served and the scope it belongs to (the route and
its filters). The next page starts strictly after that key, so rows inserted or removed before
the cursor shift nothing: no duplicates, no gaps. It is `base64url(json).base64url(mac)`,
signed with HMAC-SHA256 (truncated to 128 bits). kensho.search.cursor signs a search-specific
payload (score, index version); this codec is the generic one: any tuple of JSON scalars.

Anything malformed, forged or minted for another scope is a 400 problem naming `cursor`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

import orjson

from kensho.errors import ValidationFailed

__all__ = ["MAX_CURSOR_LENGTH", "CursorCodec", "Scalar"]

Scalar = str | int | float | None
MAX_CURSOR_LENGTH = 512
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,480}\.[A-Za-z0-9_-]{22}$")
_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed.field("cursor", message, status=400)


class CursorCodec:
    """Signs and verifies cursors with one key (`KENSHO_CURSOR_SECRET`; random if unset)."""

    def __init__(self, key: bytes | str | None = None) -> None:
        if key is None:
            key = secrets.token_bytes(32)
        self._key = key.encode("utf-8") if isinstance(key, str) else bytes(key)

    def _mac(self, scope: str, body: str) -> str:
        msg = scope.encode("utf-8", "surrogatepass") + b"\x00" + body.encode("ascii")
        return _b64(hmac.new(self._key, msg, hashlib.sha256).digest()[:_MAC_BYTES])

    def encode(self, scope: str, position: Sequence[Scalar]) -> str:
        """A cursor for the page after `position` within `scope` (route + filters)."""
        body = _b64(orjson.dumps(list(position)))
        cursor = f"{body}.{self._mac(scope, body)}"
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("cursor position too large")
        return cursor

    def decode(self, scope: str, cursor: str, arity: int) -> tuple[Scalar, ...]:
        """The signed position; raises `ValidationFailed` (400, field `cursor`)."""
        if len(cursor) > MAX_CURSOR_LENGTH or not _SHAPE.match(cursor):
            raise _bad("malformed cursor; pass next_cursor from the previous page unchanged")
        body, mac = cursor.split(".")
        if not hmac.compare_digest(mac, self._mac(scope, body)):
            raise _bad("invalid cursor (forged, or from another query)")
        try:
            data = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):  # pragma: no cover - signed by us
            raise _bad("malformed cursor") from None
        if not isinstance(data, list) or len(data) != arity:
            raise _bad("malformed cursor")
        if not all(v is None or isinstance(v, str | int | float) for v in data):
            raise _bad("malformed cursor")
        return tuple(data)
