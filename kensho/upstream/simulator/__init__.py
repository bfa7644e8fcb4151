"""A faithful local simulator of the Crunchyroll web API, serving the bundled catalog.

See ``docs/simulator.md`` for the endpoints, the assumptions and fault injection.
"""

from kensho.upstream.simulator.app import create_sim_app, running_simulator
from kensho.upstream.simulator.config import (
    DEFAULT_ACCOUNTS,
    DEFAULT_CLIENTS,
    Account,
    SimConfig,
    parse_accounts,
)

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_CLIENTS",
    "Account",
    "SimConfig",
    "create_sim_app",
    "parse_accounts",
    "running_simulator",
]
