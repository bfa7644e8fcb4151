"""Validation of search parameters as they arrive in a query string.

The endpoints call these before touching the index, so every rejection is a 400 problem that
names the offending field (`ValidationFailed.field(..., status=400)`).
"""

from __future__ import annotations

import unicodedata

from kensho.errors import ValidationFailed
from kensho.search.cursor import MAX_CURSOR_LENGTH

__all__ = [
    "KINDS",
    "MAX_LIMIT",
    "MAX_QUERY_LENGTH",
    "validate_cursor",
    "validate_genre",
    "validate_kind",
    "validate_limit",
    "validate_query",
]

MAX_QUERY_LENGTH = 200
MAX_LIMIT = 50
MAX_GENRE_LENGTH = 40
KINDS = frozenset({"tv", "movie", "ova", "ona", "special", "music", "web"})
# Bidirectional overrides and isolates can make logged queries display as something else.
_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") or ord(c) in _BIDI for c in text)


def validate_query(raw: str | None, *, field: str = "q") -> str:
    """The trimmed query: 1–200 characters, no control, surrogate or bidi-override characters."""
    if raw is None:
        raise ValidationFailed.field(field, "is required", status=400)
    text = raw.strip()
    if not text:
        raise ValidationFailed.field(field, "must not be empty", status=400)
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed.field(
            field, f"must be at most {MAX_QUERY_LENGTH} characters", status=400
        )
    if _has_control(text):
        raise ValidationFailed.field(field, "must not contain control characters", status=400)
    return text


def validate_limit(raw: str | None, *, default: int = 20, field: str = "limit") -> int:
    """An integer 1–50 written in plain ASCII digits; absent means `default`."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        raise ValidationFailed.field(field, f"must be an integer from 1 to {MAX_LIMIT}", status=400)
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise ValidationFailed.field(field, f"must be an integer from 1 to {MAX_LIMIT}", status=400)
    return value


def validate_kind(raw: str | None, *, field: str = "type") -> str | None:
    """One of the catalog kinds (case-insensitive), or None when absent."""
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value not in KINDS:
        raise ValidationFailed.field(
            field, f"must be one of {', '.join(sorted(KINDS))}", status=400
        )
    return value


def validate_genre(raw: str | None, *, field: str = "genre") -> str | None:
    """A genre name (case-folded), or None when absent; unknown genres simply match nothing."""
    if raw is None or raw == "":
        return None
    value = raw.strip()
    if not value or len(value) > MAX_GENRE_LENGTH or _has_control(value):
        raise ValidationFailed.field(
            field, f"must be 1 to {MAX_GENRE_LENGTH} printable characters", status=400
        )
    return value.casefold()


def validate_cursor(raw: str | None, *, field: str = "cursor") -> str | None:
    """A syntactically plausible cursor, or None when absent. Signature checks happen in the
    index, which knows the key; this only rejects what cannot possibly be a cursor."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_CURSOR_LENGTH or not raw.isascii() or not raw.isprintable():
        raise ValidationFailed.field(field, "is malformed", status=400)
    return raw
