"""Cache keys and invalidation patterns: namespacing, size limits and safe globbing.

Keys are arbitrary text or bytes (an id taken from a URL may hold anything). They are stored
as bytes under a namespace prefix, so replicas and tests can isolate themselves. A pattern has
exactly one metacharacter, `*` (any run of bytes); every other byte is literal, so a key that
contains Redis glob syntax (`?`, `[`, `]`, `\\`) can neither widen nor break an invalidation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from kensho.errors import ValidationFailed

__all__ = ["MAX_KEY_BYTES", "Key", "Namespace", "Pattern"]

Key = str | bytes
MAX_KEY_BYTES = 1024
_REDIS_GLOB_SPECIAL = frozenset(b"*?[]\\^-")


def to_bytes(text: Key, *, what: str = "key", limit: int = MAX_KEY_BYTES) -> bytes:
    """Encode a key or pattern; lone surrogates pass through so any `str` round-trips."""
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
    elif isinstance(text, str):
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raise ValidationFailed.field(what, "must be text or bytes", status=400)
    if len(raw) > limit:
        raise ValidationFailed.field(what, f"longer than {limit} bytes", status=400)
    return raw


def _redis_escape(raw: bytes) -> bytes:
    """Escape every Redis glob metacharacter so `raw` matches only itself."""
    out = bytearray()
    for b in raw:
        if b in _REDIS_GLOB_SPECIAL:
            out.append(0x5C)  # backslash
        out.append(b)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled invalidation pattern: a Redis MATCH argument and an L1 predicate."""

    raw: bytes  # the namespaced pattern, `*` being the only wildcard
    redis_match: bytes
    matches: Callable[[bytes], bool]

    @property
    def is_literal(self) -> bool:
        """True when the pattern names exactly one key."""
        return b"*" not in self.raw


@dataclass(frozen=True, slots=True)
class Namespace:
    """Maps caller keys to stored keys under `prefix` and compiles patterns the same way."""

    prefix: bytes = b"kensho:cache:"
    max_key_bytes: int = MAX_KEY_BYTES

    def key(self, key: Key) -> bytes:
        """The stored form of `key`; raises `ValidationFailed` (400) for oversized keys."""
        if type(key) is str and len(key) <= self.max_key_bytes // 4:  # short text: the hot path
            return self.prefix + key.encode("utf-8", "surrogatepass")  # ≤ 4 bytes a character
        return self.prefix + to_bytes(key, limit=self.max_key_bytes)

    def strip(self, stored: bytes) -> bytes:
        """The caller's key for a stored key."""
        return stored[len(self.prefix) :] if stored.startswith(self.prefix) else stored

    def pattern(self, pattern: Key) -> Pattern:
        """Compile `pattern` (only `*` is special) within this namespace."""
        raw = to_bytes(pattern, what="pattern", limit=self.max_key_bytes)
        parts = raw.split(b"*")
        redis_match = b"*".join(_redis_escape(p) for p in parts)
        parts[0] = self.prefix + parts[0]
        return Pattern(
            raw=self.prefix + raw,
            redis_match=_redis_escape(self.prefix) + redis_match,
            matches=functools.partial(_glob_match, tuple(parts)),
        )


def _glob_match(parts: tuple[bytes, ...], key: bytes) -> bool:
    """Whether `key` matches the pattern `parts[0]*parts[1]*…`; linear, so a hostile pattern
    such as `*a*a*a…b` cannot make it backtrack (a regex would)."""
    if len(parts) == 1:
        return key == parts[0]
    first, *middle, last = parts
    if len(key) < len(first) + len(last) or not key.startswith(first) or not key.endswith(last):
        return False
    pos, end = len(first), len(key) - len(last)
    for part in middle:
        found = key.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True
