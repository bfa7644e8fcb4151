"""Mutable simulator state, one per app, touched only from the event loop (no locks needed)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from kensho.upstream.simulator.config import Account, SimConfig
from kensho.upstream.simulator.index import SimIndex

__all__ = ["STATE", "ActiveStream", "Fault", "Principal", "RefreshGrant", "SimState"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid bearer token belongs to; ``account_id`` is None for anonymous tokens."""

    account_id: str | None
    premium: bool
    country: str
    client_id: str
    device_id: str
    profile_id: str | None = None
    #: the JWT ``sub``: who an anonymous token is (its streams are counted under it)
    subject: str = ""

    @property
    def stream_owner(self) -> str:
        """The key streams are limited by: the account, or the anonymous token's subject."""
        return self.account_id or f"anonymous:{self.subject}"


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a refresh token stands for; bound to the device of the original login."""

    account: Account
    device_id: str
    device_type: str
    profile_id: str


@dataclass(slots=True)
class ActiveStream:
    account_id: str
    device_id: str
    device_type: str
    device_subtype: str
    content_id: str
    token: str
    client_id: str
    country: str
    premium: bool
    created: float
    expires: float


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault (see ``faults.py`` for the semantics of each field)."""

    id: int
    path_prefix: str = "/"
    error_rate: float = 0.0
    status: int = 503
    latency_ms: int = 0
    mode: str = "error"
    retry_after: int | None = None


@dataclass(slots=True)
class SimState:
    config: SimConfig
    index: SimIndex
    rng: random.Random
    accounts: dict[str, Account] = field(default_factory=dict)
    refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    streams: dict[str, dict[str, ActiveStream]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    next_fault_id: int = 1
    requests: Counter[str] = field(default_factory=Counter)
    statuses: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    #: bearer token -> (exp, principal) of tokens whose signature checked out (see ``auth``)
    bearers: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    #: (scheme, Host header) -> the request's origin URL (see ``links.base_url``)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, nbytes: int = 16) -> str:
        """An opaque token from the seeded generator (deterministic for a given seed)."""
        return self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


STATE = web.AppKey("kensho_sim_state", SimState)
