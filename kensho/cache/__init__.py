"""Two-tier cache: L1 in process (`LRUCache`), L2 on Redis (`RedisTier`), behind `CacheService`.

See docs/cache.md for the design: single-flight loading, stale-while-revalidate,
stale-if-error, pattern invalidation across replicas and degraded mode without Redis.
"""

from kensho.cache.keys import Namespace, Pattern
from kensho.cache.lru import Entry, Freshness, LRUCache, LRUStats
from kensho.cache.redis_tier import RedisSettings, RedisTier
from kensho.cache.service import TIERS, CacheService, CacheSettings, Loader

__all__ = [
    "TIERS",
    "CacheService",
    "CacheSettings",
    "Entry",
    "Freshness",
    "LRUCache",
    "LRUStats",
    "Loader",
    "Namespace",
    "Pattern",
    "RedisSettings",
    "RedisTier",
]
