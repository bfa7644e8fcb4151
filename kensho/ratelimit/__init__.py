"""Fleet-wide rate limits: GCRA in Redis with local token leases, per-replica when Redis is down.

`Policy` is one quota (rate, burst, the header text); `FleetLimiter.acquire` spends one unit of a
client's quota under a policy and returns what the `RateLimit` header reports, or raises
`kensho.errors.RateLimited`. The HTTP side (`kensho.http.middlewares.rate_limit`) picks the
policy by route class and the client id by trusted proxies. `docs/operations.md` explains the
algorithm and why it was chosen.
"""

from kensho.ratelimit.fleet import FleetLimiter
from kensho.ratelimit.gcra import LocalGcra, RedisGcra, Take
from kensho.ratelimit.policy import Policy

__all__ = ["FleetLimiter", "LocalGcra", "Policy", "RedisGcra", "Take"]
