"""The Crunchyroll side: the in-process simulator when no upstream is configured, and the one
pooled Crunchyroll client of the process (with the breaker gate)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from kensho.actors.breaker import BreakerGate
from kensho.config import Config
from kensho.http import keys
from kensho.http.app import Resource
from kensho.upstream.client import ClientSettings, CrunchyrollClient
from kensho.upstream.simulator import running_simulator
from kensho.upstream.simulator.config import (
    DEFAULT_ACCOUNTS,
    SimConfig,
    parse_accounts,
    parse_public_url,
)

__all__ = ["simulator", "simulator_config", "upstream"]

log = logging.getLogger("kensho.composition")


def simulator() -> Resource:
    """With no `KENSHO_UPSTREAM_URL`, run the Crunchyroll simulator in-process on loopback."""

    async def resource(app: web.Application) -> AsyncIterator[None]:
        config = app[keys.CONFIG]
        if config.upstream_url is not None:
            app[keys.UPSTREAM_URL] = config.upstream_url
            yield
            return
        async with running_simulator(simulator_config(config)) as base_url:
            log.info("KENSHO_UPSTREAM_URL unset: Crunchyroll simulator at %s", base_url)
            app[keys.UPSTREAM_URL] = base_url
            yield

    return resource


def simulator_config(config: Config) -> SimConfig:
    """The in-process simulator's settings: a stable port (the catalog stores its image URLs,
    which embed it), the demo accounts plus `KENSHO_SIM_ACCOUNTS` (validated at load), and the
    public base URL of its links (`KENSHO_SIM_PUBLIC_URL`, validated at load)."""
    extra = parse_accounts(config.sim_accounts or "")
    public = parse_public_url(config.sim_public_url) if config.sim_public_url else None
    return SimConfig(port=config.sim_port, accounts=DEFAULT_ACCOUNTS + extra, public_url=public)


def upstream(gate: BreakerGate | None = None) -> Resource:
    """One pooled Crunchyroll client for the whole process.

    Its gate permits everything until the breaker actor starts and `services.auth` binds it;
    an open breaker then rejects from its published view, with no thread hop.
    """

    async def resource(app: web.Application) -> AsyncIterator[None]:
        settings = ClientSettings.from_config(app[keys.CONFIG], app.get(keys.UPSTREAM_URL))
        client = CrunchyrollClient(
            settings,
            gate=gate or BreakerGate(),
            trace_configs=app[keys.TRACING].client_trace_configs(),
        )
        await client.start()
        app[keys.UPSTREAM] = client
        app[keys.METRICS].track_upstream(client.stats)
        try:
            yield
        finally:
            await client.close()

    return resource
