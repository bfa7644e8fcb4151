"""Query and path parameters shared by the catalog routes, each validated once.

Each helper returns the parsed value or raises `ValidationFailed` (400) naming the parameter,
with the same bounds as the documented schemas (`kensho.http.schemas.catalog`).
"""

from __future__ import annotations

import re

from aiohttp import web

from kensho.errors import ValidationFailed

__all__ = ["anime_id_of", "choice_param", "cursor_param", "genre_param", "int_param"]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GENRE = re.compile(r"^\w[\w &'.+-]{0,63}$")
_DIGITS = re.compile(r"^[0-9]{1,6}$")


def _bad(name: str, message: str) -> ValidationFailed:
    return ValidationFailed.field(name, message, status=400)


def anime_id_of(request: web.Request) -> str:
    value = request.match_info["id"]
    if not _ID.match(value):
        raise _bad("id", "must be 1 to 64 letters, digits, '-' or '_'")
    return value


def int_param(request: web.Request, name: str, lo: int, hi: int, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not lo <= int(raw) <= hi:
        raise _bad(name, f"must be an integer between {lo} and {hi}")
    return int(raw)


def choice_param(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is not None and raw not in allowed:
        raise _bad(name, f"must be one of {', '.join(allowed)}")
    return raw


def genre_param(request: web.Request) -> str | None:
    genre = request.query.get("genre")
    if genre is not None and not _GENRE.match(genre):
        raise _bad("genre", "must be 1 to 64 letters, digits, spaces or &'.+-")
    return genre


def cursor_param(request: web.Request) -> str | None:
    raw = request.query.get("cursor")
    if raw is not None and not raw:
        raise _bad("cursor", "must not be empty")
    return raw
