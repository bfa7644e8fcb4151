"""Simulator settings: accounts, Basic clients, token lifetimes, stream limits, seed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kensho.catalog.bundle import Catalog

__all__ = ["DEFAULT_ACCOUNTS", "DEFAULT_CLIENTS", "Account", "SimConfig", "parse_accounts"]


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
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kensho-sim:profile:{self.email.lower()}"))


DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    Account("demo@kensho.dev", "kensho-demo", premium=True),
    Account("free@kensho.dev", "kensho-free", premium=False),
)

#: Basic-auth client allow-list (client_id -> secret). The web client has an empty secret.
DEFAULT_CLIENTS: Mapping[str, str] = MappingProxyType(
    {"kensho-sim-client": "kensho-sim-secret", "kensho-web": ""}
)


def parse_accounts(text: str) -> tuple[Account, ...]:
    """Parse ``email:password:premium|free[:COUNTRY]`` items separated by ``;`` or ``,``.

    Used for ``KENSHO_SIM_ACCOUNTS`` and ``kensho sim --accounts``; raises ValueError naming
    the bad item.
    """
    accounts = []
    for raw in text.replace(",", ";").split(";"):
        item = raw.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (3, 4) or not all(parts) or "@" not in parts[0]:
            raise ValueError(f"bad account {item!r}: expected email:password:premium|free[:CC]")
        tier = parts[2].lower()
        if tier not in ("premium", "free"):
            raise ValueError(f"bad account {item!r}: tier must be premium or free")
        country = parts[3].upper() if len(parts) == 4 else "US"
        if len(country) != 2 or not country.isalpha():
            raise ValueError(f"bad account {item!r}: country must be two letters")
        accounts.append(Account(parts[0], parts[1], tier == "premium", country))
    return tuple(accounts)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything the simulator can be told. Defaults mirror the real service where known."""

    host: str = "127.0.0.1"
    port: int = 0
    expires_in: int = 300
    accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS
    clients: Mapping[str, str] = field(default_factory=lambda: DEFAULT_CLIENTS)
    jwt_secret: str = "kensho-simulator-not-a-secret"
    stream_limit_premium: int = 4
    stream_limit_free: int = 1
    stream_ttl: float = 600.0
    seed: int = 0
    max_faults: int = 64
    catalog: Catalog | None = None
    clock: Callable[[], float] = field(default=time.time)
