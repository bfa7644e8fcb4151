"""Keys and patterns: namespacing, limits, and L1 matching that agrees with Redis MATCH."""

from __future__ import annotations

import itertools

import pytest
import redis.asyncio as aioredis

from kensho.cache.keys import Namespace
from kensho.errors import ValidationFailed

KEYS = [
    b"anime:1",
    b"anime:12",
    b"anime:",
    b"anime:[1]",
    b"anime:?",
    b"anime:\\x",
    b"anime:*",
    b"anime:^-]",
    b"episode:1",
    b"\xff\xfe:anime",
    b"a:b:c",
    b"",
]
PATTERNS = [
    b"anime:*",
    b"anime:1",
    b"anime:[1]",
    b"anime:?",
    b"*:1",
    b"*",
    b"a*b*c",
    b"anime:\\*",
    b"**",
    b"\xff*",
    b"",
    b"*anime*",
    b"anime:^-]",
]


def test_key_is_namespaced_and_limited() -> None:
    ns = Namespace(b"p:", max_key_bytes=10)
    assert ns.key("k") == b"p:k"
    assert ns.key(b"\xff") == b"p:\xff"
    assert ns.strip(b"p:k") == b"k"
    with pytest.raises(ValidationFailed):
        ns.key("x" * 11)
    with pytest.raises(ValidationFailed):
        ns.key(None)  # type: ignore[arg-type]


def test_literal_pattern() -> None:
    ns = Namespace(b"p:")
    assert ns.pattern(b"a?").is_literal
    assert not ns.pattern(b"a*").is_literal


def test_hostile_pattern_matches_in_linear_time() -> None:
    ns = Namespace(b"p:", max_key_bytes=4096)
    pattern = ns.pattern(b"*a" * 1000 + b"b")
    assert pattern.matches(b"p:" + b"a" * 4000) is False  # a backtracking regex never returns
    assert pattern.matches(b"p:" + b"a" * 1000 + b"b") is True


async def test_l1_matching_agrees_with_redis_match(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ns = Namespace(redis_prefix.encode())
    stored = [ns.key(k) for k in KEYS]
    await redis_client.mset(dict.fromkeys(stored, b"x"))
    for raw in PATTERNS:
        compiled = ns.pattern(raw)
        in_redis = {k async for k in redis_client.scan_iter(match=compiled.redis_match, count=1000)}
        in_l1 = {k for k in stored if compiled.matches(k)}
        assert in_redis == in_l1, raw


def test_prefix_with_metacharacters_is_literal() -> None:
    ns = Namespace(b"t[1]*?:")
    other = Namespace(b"t1xx:")
    compiled = ns.pattern(b"*")
    assert compiled.matches(ns.key("a"))
    assert not any(compiled.matches(other.key(k)) for k in ("a", ""))
    assert all(
        not Namespace(b"z:").pattern(p).matches(ns.key(k))
        for p, k in itertools.product([b"*", b"a"], ["a"])
    )
