"""Simulator settings: accounts, Basic clients, token lifetimes, stream limits, seed, public URL."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kensho.catalog.bundle import Catalog
from kensho.config import parse_base_url, parse_sim_accounts

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_CLIENTS",
    "Account",
    "SimConfig",
    "parse_accounts",
    "parse_client",
    "parse_public_url",
]


@dataclass(frozen=True, slots=True)
class Account:
    """A simulated Crunchyroll account; `premium` puts ``cr_premium`` in the JWT benefits."""

    email: str
    password: str
    premium: bool
    country: str = "US"

    @property
    def account_id(self) -> str:
        """Stable across restarts, so refresh tokens and stream limits survive a sim restart."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kensho-sim:account:{self.email.lower()}"))

    @property
    def profile_id(self) -> str:
        """The primary profile (the one a password login selects)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kensho-sim:profile:{self.email.lower()}"))

    @property
    def profile_ids(self) -> tuple[str, str]:
        """Every account has two profiles: the primary one and a second one to switch to."""
        second = uuid.uuid5(uuid.NAMESPACE_URL, f"kensho-sim:profile2:{self.email.lower()}")
        return (self.profile_id, str(second))


DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    Account("demo@kensho.dev", "kensho-demo", premium=True),
    Account("free@kensho.dev", "kensho-free", premium=False),
)

#: Basic-auth client allow-list (client_id -> secret). The web client has an empty secret. By
#: default any other well-formed client is accepted too (`SimConfig.strict_clients`).
DEFAULT_CLIENTS: Mapping[str, str] = MappingProxyType(
    {"kensho-sim-client": "kensho-sim-secret", "kensho-web": ""}
)


def parse_accounts(text: str) -> tuple[Account, ...]:
    """``KENSHO_SIM_ACCOUNTS`` / ``kensho sim --accounts`` items as accounts (the grammar is
    `kensho.config.parse_sim_accounts`); raises ValueError naming the bad item."""
    return tuple(Account(*spec) for spec in parse_sim_accounts(text))


_CLIENT_PART = re.compile(r"^[A-Za-z0-9._~-]*$")
MAX_CLIENT_ID = 128
MAX_CLIENT_SECRET = 256


def well_formed_client(client_id: str, secret: str) -> bool:
    """A non-empty id and a (possibly empty) secret of URL-safe characters, bounded."""
    return (
        0 < len(client_id) <= MAX_CLIENT_ID
        and len(secret) <= MAX_CLIENT_SECRET
        and bool(_CLIENT_PART.match(client_id))
        and bool(_CLIENT_PART.match(secret))
    )


def parse_client(text: str) -> tuple[str, str]:
    """``ID:SECRET`` (the secret may be empty) for ``kensho sim --client``; ValueError names it."""
    client_id, sep, secret = text.strip().partition(":")
    if not sep or not well_formed_client(client_id, secret):
        raise ValueError(
            f"bad client {client_id[:40]!r}: expected ID:SECRET of letters, digits, '.', '_', "
            f"'~' or '-' (id 1..{MAX_CLIENT_ID}, secret 0..{MAX_CLIENT_SECRET} characters)"
        )
    return client_id, secret


def parse_public_url(text: str) -> str:
    """The public base URL links are built from (the grammar is `kensho.config.parse_base_url`,
    shared with `KENSHO_SIM_PUBLIC_URL`'s validation); ValueError says what is wrong."""
    return parse_base_url(text)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything the simulator can be told. Defaults mirror the real service where known."""

    host: str = "127.0.0.1"
    port: int = 0
    expires_in: int = 300
    accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS
    clients: Mapping[str, str] = field(default_factory=lambda: DEFAULT_CLIENTS)
    #: only the `clients` allow-list may log in (the real service's own set is not ours to ship)
    strict_clients: bool = False
    #: base of every link the simulator hands out (images, manifests, media, subtitles); None =
    #: the origin of the request that asked (fine on one host, wrong behind compose/Kubernetes)
    public_url: str | None = None
    jwt_secret: str = "kensho-simulator-not-a-secret"
    stream_limit_premium: int = 4
    stream_limit_free: int = 1
    stream_ttl: float = 600.0
    seed: int = 0
    max_faults: int = 64
    catalog: Catalog | None = None
    clock: Callable[[], float] = field(default=time.time)
