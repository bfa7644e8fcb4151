"""Rate limiting in the envelope: the route class picks the policy, the client id the quota.

Route classes: `search` (`/api/search…`), `auth` (`/api/auth/…`), `admin` (`/admin…`) and
`default` (everything else). A class without its own `KENSHO_RATE_LIMIT_<CLASS>_RPS` shares the
default policy's quota (`KENSHO_RATE_LIMIT_RPS`, `KENSHO_RATE_LIMIT_BURST`). Probes and scrapes
(`/health/*`, `/metrics`) are never limited: a throttled readiness probe would take a healthy
replica out of service. With `KENSHO_RATE_LIMIT_ACCOUNT_RPS`, an authenticated request also
spends from its session token's quota. Quotas are fleet-wide (`kensho.ratelimit`); every
limited response carries `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-
headers), and a refusal is a 429 problem with `Retry-After`.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from aiohttp import web

from kensho.config import Config
from kensho.http.keys import CLIENT_ID
from kensho.ratelimit import FleetLimiter, Policy

__all__ = ["EXEMPT", "RateLimiter", "RouteClassLimiter", "route_class"]

EXEMPT = ("/health/", "/metrics")
_TOKEN_LENGTH = 43

#: (`RateLimit-Policy`, `RateLimit`) header values for the response.
Usage = tuple[str, str]


class RateLimiter(Protocol):
    async def check(self, request: web.Request) -> Usage | None:
        """Admit the request (returning its headers, or None when no policy applies) or raise
        `kensho.errors.RateLimited` to refuse it."""


def route_class(path: str) -> str | None:
    """The policy class of a path; None for the exempt probes and scrapes. (On every request:
    the common `/api/` case is decided in two prefix tests.)"""
    if path.startswith("/api/"):
        if path.startswith("search", 5):
            return "search"
        return "auth" if path.startswith("auth/", 5) else "default"
    if path.startswith(EXEMPT):
        return None
    return "admin" if path.startswith("/admin") else "default"


class RouteClassLimiter:
    """Picks the policy for a request and spends from the client's quota in `fleet`."""

    def __init__(
        self,
        fleet: FleetLimiter,
        policies: dict[str, Policy],
        account: Policy | None = None,
    ) -> None:
        self.fleet = fleet
        self.policies = policies
        self.account = account

    @classmethod
    def from_config(cls, config: Config, fleet: FleetLimiter) -> RouteClassLimiter | None:
        """The configured policies, or None when no limit is configured at all."""
        policies: dict[str, Policy] = {}
        default = None
        if config.rate_limit_rps > 0:
            default = Policy("default", config.rate_limit_rps, config.rate_limit_burst)
            policies["default"] = default
        for name in ("search", "auth", "admin"):
            rps: float = getattr(config, f"rate_limit_{name}_rps")
            if rps > 0:
                policies[name] = Policy(name, rps, getattr(config, f"rate_limit_{name}_burst"))
            elif default is not None:
                policies[name] = default
        account = None
        if config.rate_limit_account_rps > 0:
            account = Policy(
                "account", config.rate_limit_account_rps, config.rate_limit_account_burst
            )
        if not policies and account is None:
            return None
        return cls(fleet, policies, account)

    async def check(self, request: web.Request) -> Usage | None:
        kind = route_class(request.path)
        if kind is None:
            return None
        policy = self.policies.get(kind)
        usage: Usage | None = None
        if policy is not None:
            usage = (policy.header, await self.fleet.acquire(policy, request[CLIENT_ID]))
        account = self.account
        if account is not None:
            token = _bearer(request)
            if token is not None:
                digest = hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
                spent = await self.fleet.acquire(account, digest)
                if usage is None:
                    usage = (account.header, spent)
                else:
                    usage = (f"{usage[0]}, {account.header}", f"{usage[1]}, {spent}")
        return usage


def _bearer(request: web.Request) -> str | None:
    """A session token's text, if the request carries one of the right shape (unverified: the
    quota is keyed by it, so a made-up token only spends a quota of its own)."""
    header = request.headers.get("Authorization")
    if header is None or len(header) != _TOKEN_LENGTH + 7 or header[:7].lower() != "bearer ":
        return None
    return header[7:]
