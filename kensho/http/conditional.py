"""`If-None-Match` (RFC 9110 §8.8.3, §13.1.2) against a representation's entity tag.

Tags are made by `kensho.catalog.representation.etag_for`. `If-None-Match` uses the weak
comparison: `W/"x"` matches `"x"`. A malformed header is ignored (the request is
then unconditional), never an error: caches and proxies send odd things.
"""

from __future__ import annotations

import re

__all__ = ["MAX_IF_NONE_MATCH", "none_match"]

#: Longer headers are ignored rather than parsed (aiohttp already caps a header line at 8 KB).
MAX_IF_NONE_MATCH = 8192
_MAX_TAGS = 64
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def none_match(header: str | None, etag: str) -> bool:
    """True when `If-None-Match` names `etag` (weakly) or is `*`: answer 304 Not Modified."""
    if not header or len(header) > MAX_IF_NONE_MATCH:
        return False
    text = header.strip()
    if text == "*":
        return True
    want = _opaque(etag)[1:-1]
    pos, count = 0, 0
    while pos < len(text) and count < _MAX_TAGS:
        match = _TAG.match(text, pos)
        if match is None:
            return False  # malformed: treat the request as unconditional
        if match.group(2) == want:
            return True
        pos, count = match.end(), count + 1
    return False
