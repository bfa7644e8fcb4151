"""Operator services behind the admin routes: the upstream breaker and cache invalidation.

Each reads the actors' published views (no mailbox hop, so a wedged actor still reports) and
sends them messages through their stable handles; the HTTP layer only authorises, parses and
renders (`kensho.http.breaker_routes`, `kensho.http.catalog_routes`).
"""

from kensho.admin.breaker import BreakerCollector, BreakerControl
from kensho.admin.cache import CacheAdmin

__all__ = ["BreakerCollector", "BreakerControl", "CacheAdmin"]
